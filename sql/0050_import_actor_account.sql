-- Undo rights follow the importing ACCOUNT, never the free-text actor name (a viewer
-- who happened to be called "cli" could undo CLI imports). NULL for imports run from
-- the command line or before this migration: only an account with the undo right
-- may undo those. Not backfilled from names on purpose, for the same reason.
ALTER TABLE imports ADD COLUMN actor_id bigint REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX imports_actor_id_idx ON imports (actor_id);
