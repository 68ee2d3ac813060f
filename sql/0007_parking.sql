CREATE TABLE parking (
    kind            text NOT NULL CONSTRAINT parking_kind_allowed
                    CHECK (kind IN ('on_street_bay', 'off_street_lot', 'temporary_zone')),
    name            text,
    road_name       text,
    capacity        integer CONSTRAINT parking_capacity_range CHECK (capacity BETWEEN 0 AND 20000),
    vehicle_type    text CONSTRAINT parking_vehicle_type_allowed
                    CHECK (vehicle_type IN ('car', 'large', 'motorcycle', 'bicycle', 'mixed')),
    charging_points integer CONSTRAINT parking_charging_points_nonneg CHECK (charging_points >= 0),
    fee_rule        text,
    operator        text,
    -- on the spheroid, so the figure is right anywhere in the prefecture
    area_m2         numeric GENERATED ALWAYS AS (round(ST_Area(geom::geography)::numeric, 2)) STORED,
    CONSTRAINT parking_status_allowed CHECK (status IN ('planned', 'in_use', 'suspended'))
) INHERITS (assets);
SELECT registry_attach_layer('parking', ARRAY['POLYGON']);
CREATE INDEX parking_kind_idx ON parking (kind);
