-- Imports: one row per run of the importer (dry runs included), what each run changed
-- (so it can be undone) and photos attached to assets.
CREATE TABLE imports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    actor       text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    file_name   text NOT NULL,
    sha256      text NOT NULL CONSTRAINT imports_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint NOT NULL,
    layer       text NOT NULL,
    options     jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- running → committed | dry_run | rejected | failed; committed → undone
    status      text NOT NULL DEFAULT 'running' CONSTRAINT imports_status_allowed CHECK (
                    status IN ('running', 'committed', 'dry_run', 'rejected', 'failed', 'undone')),
    rows_read   bigint NOT NULL DEFAULT 0,
    rows_total  bigint,
    counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error       jsonb,
    report      jsonb,
    undone_at   timestamptz,
    undone_by   text
);
CREATE INDEX imports_started_idx ON imports (started_at DESC);
CREATE INDEX imports_sha256_idx ON imports (sha256);

-- The state of every asset an import touched, before it touched it: undo restores
-- `before` for updated rows and removes created ones. `after_version` lets undo refuse
-- when someone changed the asset again since.
CREATE TABLE import_changes (
    import_id     uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    layer         text NOT NULL,
    asset_id      uuid NOT NULL,
    code          text NOT NULL,
    action        text NOT NULL CONSTRAINT import_changes_action_allowed
                  CHECK (action IN ('created', 'updated')),
    after_version integer NOT NULL,
    before        jsonb,
    PRIMARY KEY (import_id, asset_id)
);
CREATE INDEX import_changes_asset_idx ON import_changes (asset_id);

-- Photos attached to assets; the file lives under <data_dir>/photos by SHA-256, so the
-- same picture attached twice is stored once.
CREATE TABLE asset_photos (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asset_id     uuid NOT NULL,
    layer        text NOT NULL,
    sha256       text NOT NULL CONSTRAINT asset_photos_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_name    text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    import_id    uuid REFERENCES imports (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT registry_actor(),
    UNIQUE (asset_id, sha256)
);
CREATE INDEX asset_photos_asset_idx ON asset_photos (asset_id);
