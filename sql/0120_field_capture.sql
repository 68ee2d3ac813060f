-- Field capture (issue 14): phones record assets, inspections, steps and photos, often
-- offline, and send them later, each once.
--
-- A batch is one account's work on one device on one day (China Standard Time): its
-- writes are recorded in history with via = 'field:<id>', so the batch is undone like an
-- import (POST /api/undo/field:<id>).
CREATE TABLE field_batches (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor       text NOT NULL,
    device      text NOT NULL DEFAULT '',
    day         date NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    creates     integer NOT NULL DEFAULT 0,
    updates     integer NOT NULL DEFAULT 0,
    inspections integer NOT NULL DEFAULT 0,
    steps       integer NOT NULL DEFAULT 0,
    photos      integer NOT NULL DEFAULT 0,
    CONSTRAINT field_batches_one_per_day UNIQUE (account_id, device, day)
);
CREATE INDEX field_batches_day_idx ON field_batches (day DESC);

-- The idempotency store: one row per (account, Idempotency-Key), written in the same
-- transaction as the write it answers, so a crash never leaves a write without its key
-- or a key without its write. A second request with the key waits on the first's row
-- (the primary key) and then answers what is stored: the same status and body.
-- status 0 marks a row whose write is under way (never visible outside its transaction).
CREATE TABLE field_submissions (
    account_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key            uuid NOT NULL,
    request_sha256 text NOT NULL CONSTRAINT field_submissions_sha256_hex CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
    batch_id       bigint REFERENCES field_batches (id) ON DELETE SET NULL,
    kind           text,
    layer          text,
    -- the right the write needed (registry/permissions.py Action): undoing one's own
    -- batch needs each of them still
    action         text,
    asset_id       uuid,
    status         smallint NOT NULL DEFAULT 0,
    media_type     text,
    response       text,
    recorded_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
CREATE INDEX field_submissions_batch_idx ON field_submissions (batch_id) WHERE batch_id IS NOT NULL;

-- Photos a phone uploaded before the record they belong to is sent: the file is in the
-- one content-addressed photo store (<data_dir>/photos, by SHA-256); this row says who
-- sent it, with the position and time the phone gave. It becomes an asset's photo
-- (asset_photos) when a submission names it.
CREATE TABLE field_photos (
    account_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sha256       text NOT NULL CONSTRAINT field_photos_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_name    text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    taken_at     timestamptz,
    position     geometry(Point, 4490),
    accuracy_m   double precision CONSTRAINT field_photos_accuracy_positive CHECK (accuracy_m >= 0),
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, sha256)
);
CREATE INDEX field_photos_sha256_idx ON field_photos (sha256);

-- A photo keeps its own position and time (the camera's, not the asset's).
ALTER TABLE asset_photos
    ADD COLUMN taken_at timestamptz,
    ADD COLUMN position geometry(Point, 4490),
    ADD COLUMN accuracy_m double precision;
