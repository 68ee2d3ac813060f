-- Logins prune attempts older than the audit period (registry/accounts.py); this index
-- keeps that DELETE from reading the whole table on every login.
CREATE INDEX login_attempts_at_idx ON login_attempts (at);
