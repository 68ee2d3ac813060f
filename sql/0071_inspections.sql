-- Inspections (巡查记录): child records of any asset, whatever its layer. The asset
-- must exist (assets is an inheritance parent, so a trigger checks what a foreign key
-- cannot); every insert, update and delete is kept in the asset's history.
CREATE TABLE inspections (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asset_id     uuid NOT NULL,
    layer        text NOT NULL,
    inspected_at timestamptz NOT NULL,
    inspector    text NOT NULL CONSTRAINT inspections_inspector_not_blank CHECK (btrim(inspector) <> ''),
    result       text NOT NULL CONSTRAINT inspections_result_allowed
                 CHECK (result IN ('normal', 'problem', 'hazard')),
    notes        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT registry_actor()
);
CREATE INDEX inspections_asset_idx ON inspections (asset_id, inspected_at DESC);
CREATE INDEX inspections_layer_idx ON inspections (layer, inspected_at);

-- Photos of an inspection: files in the photo store, recorded for the asset in
-- asset_photos (so they are served and backed up like any asset photo).
CREATE TABLE inspection_photos (
    inspection_id uuid NOT NULL REFERENCES inspections (id) ON DELETE CASCADE,
    sha256        text NOT NULL CONSTRAINT inspection_photos_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (inspection_id, sha256)
);

CREATE FUNCTION inspections_check_asset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM assets WHERE id = NEW.asset_id AND layer = NEW.layer) THEN
        RAISE EXCEPTION 'inspection of unknown % asset %', NEW.layer, NEW.asset_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'inspections_asset_exists';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER inspections_asset BEFORE INSERT OR UPDATE OF asset_id, layer ON inspections
    FOR EACH ROW EXECUTE FUNCTION inspections_check_asset();

-- Like registry_child_history, with the parent's layer read from the row (an
-- inspection belongs to an asset of any layer).
CREATE FUNCTION registry_inspection_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b jsonb;
    a jsonb;
    rec jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN b := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN a := to_jsonb(NEW); END IF;
    rec := COALESCE(a, b);
    INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment,
                               before, after, changed)
    VALUES ((rec ->> 'asset_id')::uuid, rec ->> 'layer', TG_TABLE_NAME, (rec ->> 'id')::uuid,
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
            registry_actor(),
            COALESCE(NULLIF(current_setting('registry.via', true), ''), 'sql'),
            NULLIF(current_setting('registry.comment', true), ''),
            b, a, registry_history_diff(b, a));
    RETURN NULL;
END
$$;
CREATE TRIGGER inspections_history AFTER INSERT OR UPDATE OR DELETE ON inspections
    FOR EACH ROW EXECUTE FUNCTION registry_inspection_history();
