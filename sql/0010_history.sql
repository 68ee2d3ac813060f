-- The history of every asset, written by the database itself: an AFTER trigger on
-- every layer table records each insert, update, soft delete, restore and (rare)
-- hard delete, so a write that bypasses the application is kept too.
--
-- `before`/`after` are full snapshots of the row (geometry as GeoJSON in EPSG:4490
-- with full precision, so a snapshot can be written back exactly); `changed` lists
-- the fields that differ, leaving out the bookkeeping every write touches.
-- Child records (water tests) are kept in the same table with `child_table` and
-- `child_id` set and `asset_id` pointing at their parent asset, so a site's file
-- shows its tests; as-of queries of assets ignore them.
CREATE TABLE asset_history (
    id          bigserial PRIMARY KEY,
    asset_id    uuid NOT NULL,
    layer       text NOT NULL,
    child_table text,
    child_id    uuid,
    action      text NOT NULL
                CONSTRAINT asset_history_action_allowed
                CHECK (action IN ('create', 'update', 'delete', 'restore')),
    actor       text NOT NULL,
    via         text NOT NULL,
    comment     text,
    -- when the row was written (clock time, not transaction start: a long import
    -- that read for a while is dated when it wrote); entries of one asset are
    -- ordered by id, as row locks serialise the writers of one row
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    version     integer,
    before      jsonb,
    after       jsonb,
    changed     text[] NOT NULL DEFAULT '{}',
    CONSTRAINT asset_history_child_pair CHECK ((child_table IS NULL) = (child_id IS NULL))
);
CREATE INDEX asset_history_asset_idx ON asset_history (asset_id, id);
CREATE INDEX asset_history_asof_idx ON asset_history (layer, asset_id, id DESC, at)
    WHERE child_table IS NULL;
CREATE INDEX asset_history_at_idx ON asset_history (at);
CREATE INDEX asset_history_actor_idx ON asset_history (actor, id);
CREATE INDEX asset_history_via_idx ON asset_history (via, id);

-- The fields every write touches (version, updated_*, created_*) are never
-- reported as changed.
-- A row as JSON with the geometry as GeoJSON (15 decimals: exact round trip).
-- to_jsonb's own geometry conversion costs ~0.1 ms a row, ten times the rest of
-- the row, so the geometry is blanked in a copy and converted directly.
CREATE FUNCTION registry_history_snapshot(r anyelement) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    copy record := r;
    g geometry := r.geom;
BEGIN
    copy.geom := NULL;
    RETURN to_jsonb(copy) || jsonb_build_object('geom', ST_AsGeoJSON(g, 15, 0)::jsonb);
END
$$;

-- Field names whose values differ between two snapshots (either may be NULL).
CREATE FUNCTION registry_history_diff(old jsonb, new jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(k ORDER BY k), '{}')
    FROM (SELECT jsonb_object_keys(COALESCE(old, '{}') || COALESCE(new, '{}')) AS k) keys
    WHERE k NOT IN ('version', 'updated_at', 'updated_by', 'created_at', 'created_by')
      AND (old -> k) IS DISTINCT FROM (new -> k)
$$;

CREATE FUNCTION registry_asset_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b jsonb;
    a jsonb;
    act text;
    row_id uuid;
    ver integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        a := registry_history_snapshot(NEW);
        act := 'create';
        row_id := NEW.id;
        ver := NEW.version;
    ELSIF TG_OP = 'UPDATE' THEN
        b := registry_history_snapshot(OLD);
        a := registry_history_snapshot(NEW);
        row_id := NEW.id;
        ver := NEW.version;
        IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
            act := 'delete';
        ELSIF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
            act := 'restore';
        ELSE
            act := 'update';
        END IF;
    ELSE
        -- a hard DELETE (only ever done directly in SQL): the record is gone
        b := registry_history_snapshot(OLD);
        act := 'delete';
        row_id := OLD.id;
        ver := OLD.version;
    END IF;
    INSERT INTO asset_history (asset_id, layer, action, actor, via, comment, version, before, after, changed)
    VALUES (row_id, TG_TABLE_NAME, act, registry_actor(),
            COALESCE(NULLIF(current_setting('registry.via', true), ''), 'sql'),
            NULLIF(current_setting('registry.comment', true), ''),
            ver, b, a, registry_history_diff(b, a));
    RETURN NULL;
END
$$;

-- Child records: TG_ARGV[0] names the column holding the parent asset id,
-- TG_ARGV[1] the parent's layer.
CREATE FUNCTION registry_child_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b jsonb;
    a jsonb;
    act text;
    rec jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN b := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN a := to_jsonb(NEW); END IF;
    act := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END;
    rec := COALESCE(a, b);
    INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment,
                               before, after, changed)
    VALUES ((rec ->> TG_ARGV[0])::uuid, TG_ARGV[1], TG_TABLE_NAME, (rec ->> 'id')::uuid, act,
            registry_actor(),
            COALESCE(NULLIF(current_setting('registry.via', true), ''), 'sql'),
            NULLIF(current_setting('registry.comment', true), ''),
            b, a, registry_history_diff(b, a));
    RETURN NULL;
END
$$;

CREATE FUNCTION registry_attach_history(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION registry_asset_history()',
                   name || '_history', tbl);
END
$$;

-- A new version of registry_attach_layer: identical to 0003's, plus the history
-- trigger, so a seventh layer's migration gets its history without asking.
CREATE OR REPLACE FUNCTION registry_attach_layer(tbl regclass, geometry_types text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
BEGIN
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (id)', tbl, name || '_pkey');
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (code)', tbl, name || '_code_unique');
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (district_code) REFERENCES districts (code)',
                   tbl, name || '_district_fk');
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (GeometryType(geom) = ANY (%L::text[]))',
                   tbl, name || '_geom_type', geometry_types);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (layer = %L)', tbl, name || '_layer', name);
    EXECUTE format('CREATE INDEX %I ON %s USING gist (geom)', name || '_geom_gist', tbl);
    EXECUTE format('CREATE INDEX %I ON %s (district_code)', name || '_district_idx', tbl);
    EXECUTE format('CREATE INDEX %I ON %s (status)', name || '_status_idx', tbl);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION registry_asset_before_write()',
                   name || '_before_write', tbl);
    PERFORM registry_attach_history(tbl);
END
$$;

-- The six layers that exist already (any created before this migration).
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'assets'::regclass LOOP
        PERFORM registry_attach_history(t);
        -- rows stored before history existed start their file with a baseline entry
        EXECUTE format(
            'INSERT INTO asset_history (asset_id, layer, action, actor, via, comment, at, version, after) '
            'SELECT id, layer, ''create'', updated_by, ''baseline'', ''state when history began'', '
            'updated_at, version, registry_history_snapshot(x) FROM %s x ORDER BY updated_at', t);
    END LOOP;
END
$$;

CREATE TRIGGER water_tests_history AFTER INSERT OR UPDATE OR DELETE ON water_tests
    FOR EACH ROW EXECUTE FUNCTION registry_child_history('site_id', 'water_supply');
