CREATE TABLE markets (
    kind          text NOT NULL CONSTRAINT markets_kind_allowed CHECK (kind IN (
                      'roadside_market', 'spring_fair', 'flexible_sale_point', 'convenience_zone',
                      'fruit_veg_stall_area', 'night_market', 'kiosk_station')),
    name          text NOT NULL,
    road_name     text,
    stall_count   integer CONSTRAINT markets_stall_count_range CHECK (stall_count BETWEEN 0 AND 10000),
    opening_hours text,
    valid_from    date,
    valid_to      date,
    managing_unit text,
    CONSTRAINT markets_status_allowed CHECK (status IN ('planned', 'active', 'suspended', 'closed')),
    CONSTRAINT markets_season_in_order CHECK (valid_to >= valid_from)
) INHERITS (assets);
SELECT registry_attach_layer('markets', ARRAY['POINT', 'POLYGON']);
CREATE INDEX markets_kind_idx ON markets (kind);
