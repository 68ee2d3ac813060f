CREATE TABLE poles_wires (
    element     text NOT NULL CONSTRAINT poles_wires_element_allowed
                CHECK (element IN ('pole', 'wire')),
    kind        text NOT NULL CONSTRAINT poles_wires_kind_allowed CHECK (kind IN (
                    'power', 'telecom', 'street_light', 'cctv', 'sign', 'multi_function')),
    owner_unit  text,
    road_name   text,
    height_m    numeric CONSTRAINT poles_wires_height_range CHECK (height_m BETWEEN 0 AND 60),
    flying_wire boolean NOT NULL DEFAULT false,
    removed_on  date,
    length_m    numeric GENERATED ALWAYS AS (
                    CASE WHEN element = 'wire' THEN round(ST_Length(geom::geography)::numeric, 2) END
                ) STORED,
    CONSTRAINT poles_wires_status_allowed CHECK (status IN ('in_use', 'abandoned', 'removed')),
    CONSTRAINT poles_wires_element_geometry CHECK (
        (element = 'pole' AND GeometryType(geom) = 'POINT')
        OR (element = 'wire' AND GeometryType(geom) = 'LINESTRING')),
    CONSTRAINT poles_wires_flying_wire_is_wire CHECK (NOT flying_wire OR element = 'wire'),
    CONSTRAINT poles_wires_removed_has_date CHECK (status <> 'removed' OR removed_on IS NOT NULL)
) INHERITS (assets);
SELECT registry_attach_layer('poles_wires', ARRAY['POINT', 'LINESTRING']);
CREATE INDEX poles_wires_kind_idx ON poles_wires (element, kind);
