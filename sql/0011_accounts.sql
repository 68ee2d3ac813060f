-- Accounts, API tokens, browser sessions and login attempts.
--
-- Roles are validated by registry/permissions.py, the one place that declares them
-- and what each may do; the database only stores the name.
-- Secrets are never stored: passwords as argon2id hashes, API tokens and session
-- ids as SHA-256 of 256-bit random values (a fast hash is enough for high-entropy
-- secrets, and it lets a request find its row by index).
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL
                  CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name  text,
    password_hash text NOT NULL,
    role          text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX users_username_unique ON users (lower(username));

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    token_hash   text NOT NULL UNIQUE,
    -- the first characters of the token, so a user can tell their tokens apart
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the CSRF token is bound to the session: the header must match the cookie
    -- and this hash, so a token planted in a cookie by another site is useless
    csrf_hash    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ip           text,
    user_agent   text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE login_attempts (
    id       bigserial PRIMARY KEY,
    username text NOT NULL,
    ip       text NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    success  boolean NOT NULL
);
CREATE INDEX login_attempts_lookup_idx ON login_attempts (lower(username), ip, at DESC);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, at DESC) WHERE NOT success;
