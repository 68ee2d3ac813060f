CREATE TABLE manholes (
    kind           text NOT NULL CONSTRAINT manholes_kind_allowed CHECK (kind IN (
                       'water_supply', 'sewage', 'rain', 'power', 'telecom', 'gas', 'heat',
                       'street_lighting', 'traffic', 'other')),
    owner_unit     text,
    road_name      text,
    cover_material text CONSTRAINT manholes_cover_material_allowed CHECK (cover_material IN (
                       'cast_iron', 'ductile_iron', 'composite', 'concrete', 'steel', 'other')),
    cover_size_mm  integer CONSTRAINT manholes_cover_size_range
                   CHECK (cover_size_mm BETWEEN 0 AND 3000),
    anti_fall_net  boolean,
    condition      text NOT NULL CONSTRAINT manholes_condition_allowed CHECK (condition IN (
                       'intact', 'damaged', 'missing', 'sunken', 'rattling')),
    remediated_on  date,
    CONSTRAINT manholes_status_allowed
        CHECK (status IN ('in_service', 'pending', 'remediated', 'decommissioned')),
    CONSTRAINT manholes_remediated_has_date CHECK (status <> 'remediated' OR remediated_on IS NOT NULL)
) INHERITS (assets);
SELECT registry_attach_layer('manholes', ARRAY['POINT']);
CREATE INDEX manholes_kind_idx ON manholes (kind);
