-- Warm tile cache (issue 13). Every write to a layer table — API edit, import, undo,
-- plain SQL, TRUNCATE — bumps that layer's generation through a statement-level
-- trigger, in the writer's own transaction; a cached tile is served only while the
-- generation it was built at is still current. The trigger is attached to every layer
-- of the catalogue at start-up (registry/tile_cache.py), as the workflow guard is, so
-- a new layer gets it without a migration.
CREATE TABLE tile_generations (
    layer      text PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0
);

-- One row per tile address and layer set (the comma-joined layer names); a tile built
-- at a newer generation replaces the older one, and older generations of the set are
-- deleted when a newer tile is stored (registry/tile_cache.py).
CREATE TABLE tile_cache (
    layers     text NOT NULL,
    z          integer NOT NULL,
    x          integer NOT NULL,
    y          integer NOT NULL,
    generation bigint NOT NULL,
    data       bytea NOT NULL,
    etag       text NOT NULL,
    cached_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layers, z, x, y)
);
CREATE INDEX tile_cache_generation_idx ON tile_cache (layers, generation);

CREATE OR REPLACE FUNCTION registry_bump_tile_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tile_generations (layer, generation) VALUES (TG_TABLE_NAME, 1)
    ON CONFLICT (layer) DO UPDATE SET generation = tile_generations.generation + 1;
    RETURN NULL;
END;
$$;

-- Idempotent, and takes no lock on the layer table when the trigger is already there
-- (every app process calls it at start-up).
CREATE OR REPLACE FUNCTION registry_attach_tile_generation(tbl regclass) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'tile_generation') THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TRIGGER tile_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
        'FOR EACH STATEMENT EXECUTE FUNCTION registry_bump_tile_generation()', tbl);
    RETURN true;
END;
$$;
