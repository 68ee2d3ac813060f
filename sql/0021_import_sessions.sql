-- Which database session runs an import: a killed importer leaves its row 'running'
-- (its data transaction is rolled back by the server), and the next import or status
-- read marks it failed/interrupted when that session no longer exists.
ALTER TABLE imports ADD COLUMN backend_pid integer;
ALTER TABLE imports ADD COLUMN backend_start timestamptz;
