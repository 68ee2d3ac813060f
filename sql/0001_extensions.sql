-- PostGIS for geometry; pgcrypto is not needed: gen_random_uuid() is core since PG 13.
CREATE EXTENSION IF NOT EXISTS postgis;
