-- Basemaps an admin configures in the app (issue 11), shown in the map's basemap choice
-- after those of REGISTRY_BASEMAPS. Kinds: Tianditu vector or imagery with annotation
-- (CGCS2000, the bureau's key from REGISTRY_TIANDITU_KEY unless the row carries one),
-- any XYZ or WMTS (RESTful template) source, optionally in GCJ-02 (the map shifts what it
-- draws), and an MBTiles or PMTiles file in REGISTRY_BASEMAP_DIR served by the registry
-- itself (/basemaps/{name}/{z}/{x}/{y}.png|.pbf) for isolated networks.
CREATE TABLE basemaps (
    name        text PRIMARY KEY CONSTRAINT basemaps_name_form CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    title       text NOT NULL CONSTRAINT basemaps_title_length CHECK (length(title) BETWEEN 1 AND 60),
    kind        text NOT NULL CONSTRAINT basemaps_kind CHECK (
                    kind IN ('tianditu_vec', 'tianditu_img', 'xyz', 'wmts', 'mbtiles', 'pmtiles')),
    url         text NOT NULL DEFAULT '' CONSTRAINT basemaps_url_length CHECK (length(url) <= 1000),
    label_url   text NOT NULL DEFAULT '' CONSTRAINT basemaps_label_url_length CHECK (length(label_url) <= 1000),
    file        text NOT NULL DEFAULT '' CONSTRAINT basemaps_file_plain CHECK (file !~ '[/\\]' AND length(file) <= 200),
    tk          text NOT NULL DEFAULT '' CONSTRAINT basemaps_tk_length CHECK (length(tk) <= 100),
    crs         text NOT NULL DEFAULT 'wgs84' CONSTRAINT basemaps_crs CHECK (crs IN ('wgs84', 'gcj02')),
    subdomains  text NOT NULL DEFAULT '' CONSTRAINT basemaps_subdomains_length CHECK (length(subdomains) <= 20),
    attribution text NOT NULL DEFAULT '' CONSTRAINT basemaps_attribution_length CHECK (length(attribution) <= 300),
    max_zoom    integer NOT NULL DEFAULT 18 CONSTRAINT basemaps_max_zoom CHECK (max_zoom BETWEEN 1 AND 22),
    position    integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT registry_actor(),
    CONSTRAINT basemaps_source_given CHECK (
        (kind IN ('xyz', 'wmts') AND url <> '')
        OR (kind IN ('mbtiles', 'pmtiles') AND file <> '')
        OR kind IN ('tianditu_vec', 'tianditu_img'))
);
