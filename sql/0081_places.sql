-- The gazetteer (地名库, issue 11): road centre lines and named places the map's search box
-- finds by name, and from which road intersections (X路与Y路) are computed. One row per
-- name, kind and source (a road of several pieces is one MultiLineString); loaded by
-- `registry seed-demo` from the demo street sketches (is_demo) or `registry places
-- import FILE`. Stored in CGCS2000 like every asset.
CREATE TABLE places (
    id        bigserial PRIMARY KEY,
    name      text NOT NULL CONSTRAINT places_name_length CHECK (length(name) BETWEEN 1 AND 100),
    kind      text NOT NULL CONSTRAINT places_kind CHECK (kind IN ('road', 'place')),
    geom      geometry(Geometry, 4490) NOT NULL CONSTRAINT places_geom_valid CHECK (
                  ST_IsValid(geom) AND NOT ST_IsEmpty(geom)
                  AND GeometryType(geom) IN ('POINT', 'LINESTRING', 'MULTILINESTRING', 'POLYGON', 'MULTIPOLYGON')),
    source    text NOT NULL DEFAULT 'import' CONSTRAINT places_source_length CHECK (length(source) <= 200),
    is_demo   boolean NOT NULL DEFAULT false,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT places_one_per_source UNIQUE (kind, name, source),
    CONSTRAINT places_road_is_line CHECK (kind <> 'road' OR GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING'))
);
CREATE INDEX places_geom_idx ON places USING gist (geom);
CREATE INDEX places_name_idx ON places (name text_pattern_ops);
