-- Jiaozuo's four districts and six counties (GB/T 2260 codes). Rows are loaded by
-- `registry migrate` from a boundary package (see registry/districts.py), never typed.
CREATE TABLE districts (
    code    text PRIMARY KEY CONSTRAINT districts_code_gb2260 CHECK (code ~ '^4108[0-9]{2}$'),
    name_zh text NOT NULL,
    name_en text NOT NULL,
    kind    text NOT NULL CONSTRAINT districts_kind_allowed
            CHECK (kind IN ('district', 'county', 'county_city')),
    geom    geometry(MultiPolygon, 4490) NOT NULL
            CONSTRAINT districts_geom_valid CHECK (ST_IsValid(geom)),
    source  text NOT NULL
);
CREATE INDEX districts_geom_gist ON districts USING gist (geom);
