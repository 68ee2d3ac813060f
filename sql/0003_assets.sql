-- The shared part of every asset. `assets` is an abstract parent: each layer is a
-- child table (INHERITS) with its typed attributes, so `SELECT ... FROM assets`
-- searches every layer at once while each layer keeps its own constraints.
CREATE TABLE assets (
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    layer            text NOT NULL,
    code             text NOT NULL CONSTRAINT assets_code_not_blank CHECK (btrim(code) <> ''),
    geom             geometry(Geometry, 4490) NOT NULL
                     CONSTRAINT assets_geom_valid CHECK (ST_IsValid(geom))
                     CONSTRAINT assets_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    district_code    text NOT NULL,
    status           text NOT NULL,
    responsible_unit text,
    notes            text,
    -- columns of an imported file that map to no attribute are kept, not dropped
    extra            jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_demo          boolean NOT NULL DEFAULT false,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL DEFAULT session_user,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL DEFAULT session_user,
    -- deletes are soft: the row stays, history keeps it, an admin can restore it
    deleted_at       timestamptz,
    deleted_by       text
);
-- Rows live in the layer tables only.
ALTER TABLE assets ADD CONSTRAINT assets_is_abstract CHECK (false) NO INHERIT;

-- Who is acting: the application sets `registry.actor` (and `registry.via`,
-- `registry.comment`) per transaction with set_config(..., true), see
-- registry/context.py; a write made directly in SQL is attributed to the database user.
CREATE FUNCTION registry_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('registry.actor', true), ''), session_user::text)
$$;

-- Derive the district from the geometry on every insert and geometry change. The
-- boundaries are generalised, so a point just outside the outline (within 2 km) takes
-- the nearest district; anything farther is not in Jiaozuo and is refused.
CREATE FUNCTION registry_district_of(g geometry) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    probe geometry := ST_PointOnSurface(g);
    found text;
BEGIN
    SELECT d.code INTO found FROM districts d WHERE ST_Covers(d.geom, probe) LIMIT 1;
    IF found IS NULL THEN
        SELECT d.code INTO found FROM districts d
        WHERE ST_DWithin(d.geom::geography, probe::geography, 2000)
        ORDER BY ST_Distance(d.geom::geography, probe::geography) LIMIT 1;
    END IF;
    RETURN found;
END
$$;

CREATE FUNCTION registry_asset_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.layer := TG_TABLE_NAME;
    IF TG_OP = 'INSERT' THEN
        NEW.version := 1;
        NEW.created_at := now();
        NEW.created_by := registry_actor();
    ELSE
        NEW.id := OLD.id;
        NEW.version := OLD.version + 1;
        NEW.created_at := OLD.created_at;
        NEW.created_by := OLD.created_by;
    END IF;
    NEW.updated_at := now();
    NEW.updated_by := registry_actor();
    -- (also when someone tries to set district_code by hand: it is never typed)
    IF TG_OP = 'INSERT'
       OR ST_AsEWKB(NEW.geom) IS DISTINCT FROM ST_AsEWKB(OLD.geom)
       OR NEW.district_code IS DISTINCT FROM OLD.district_code THEN
        NEW.district_code := registry_district_of(NEW.geom);
        IF NEW.district_code IS NULL THEN
            RAISE EXCEPTION 'geometry of % asset % lies outside Jiaozuo (no district within 2 km)',
                TG_TABLE_NAME, NEW.code
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'assets_inside_jiaozuo',
                      HINT = 'check the coordinate system and whether longitude and latitude are swapped';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- Everything a layer table needs beyond its own columns: primary key, unique code,
-- district reference, allowed geometry types, spatial index and the write trigger.
-- A layer migration calls this once, so no layer can forget one of them.
CREATE FUNCTION registry_attach_layer(tbl regclass, geometry_types text[]) RETURNS void
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
END
$$;
