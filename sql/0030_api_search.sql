-- Location search and the OGC API: text search on code/name/road name, paging by
-- recency, and the metre-to-degree box that lets ST_DWithin on geography use the
-- GiST index on geometry.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- A box around g that surely contains every point within `metres` of it (degrees
-- of longitude shrink towards the poles, so use the widest latitude of g).
CREATE FUNCTION registry_dwithin_box(g geometry, metres double precision) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ST_Expand(g, metres / (111000.0 * cos(radians(LEAST(89.0,
        GREATEST(abs(ST_YMin(g)), abs(ST_YMax(g))))))))
$$;

-- Every layer table (the children of `assets`) gets the same search indexes, so a
-- new layer's migration need not remember them.
DO $$
DECLARE
    tbl regclass;
    name text;
BEGIN
    FOR tbl IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'assets'::regclass LOOP
        name := (SELECT relname FROM pg_class WHERE oid = tbl);
        EXECUTE format('CREATE INDEX %I ON %s USING gin (code gin_trgm_ops)', name || '_code_trgm', tbl);
        EXECUTE format('CREATE INDEX %I ON %s (updated_at)', name || '_updated_at_idx', tbl);
    END LOOP;
END
$$;
