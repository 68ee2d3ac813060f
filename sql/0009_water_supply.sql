CREATE TABLE water_supply (
    compound_name    text NOT NULL,
    address          text,
    supply_type      text CONSTRAINT water_supply_supply_type_allowed
                     CHECK (supply_type IN ('roof_tank', 'variable_frequency', 'pressure_superposed')),
    tank_volume_m3   numeric CONSTRAINT water_supply_tank_volume_nonneg CHECK (tank_volume_m3 >= 0),
    households       integer CONSTRAINT water_supply_households_nonneg CHECK (households >= 0),
    managing_unit    text,
    -- maintained from water_tests by trigger; never written by clients
    last_tested_on   date,
    last_test_passed boolean,
    next_test_due    date,
    CONSTRAINT water_supply_status_allowed
        CHECK (status IN ('in_service', 'suspended', 'decommissioned'))
) INHERITS (assets);
SELECT registry_attach_layer('water_supply', ARRAY['POINT']);

CREATE TABLE water_tests (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id               uuid NOT NULL REFERENCES water_supply (id) ON DELETE CASCADE,
    tested_on             date NOT NULL,
    turbidity_ntu         numeric CONSTRAINT water_tests_turbidity_nonneg CHECK (turbidity_ntu >= 0),
    free_chlorine_mg_l    numeric CONSTRAINT water_tests_chlorine_nonneg CHECK (free_chlorine_mg_l >= 0),
    total_coliforms_mpn   integer CONSTRAINT water_tests_coliforms_nonneg CHECK (total_coliforms_mpn >= 0),
    total_bacteria_cfu_ml integer CONSTRAINT water_tests_bacteria_nonneg CHECK (total_bacteria_cfu_ml >= 0),
    ph                    numeric CONSTRAINT water_tests_ph_range CHECK (ph BETWEEN 0 AND 14),
    lab                   text,
    -- GB 5749-2022, tap water: turbidity <= 1 NTU, free chlorine 0.05-2 mg/L, total
    -- coliforms not detected, total bacteria <= 100 CFU/mL, pH 6.5-8.5. A missing
    -- measurement cannot pass.
    passed                boolean GENERATED ALWAYS AS (
        COALESCE(turbidity_ntu <= 1
             AND free_chlorine_mg_l BETWEEN 0.05 AND 2
             AND total_coliforms_mpn = 0
             AND total_bacteria_cfu_ml <= 100
             AND ph BETWEEN 6.5 AND 8.5, false)
    ) STORED,
    created_at            timestamptz NOT NULL DEFAULT now(),
    created_by            text NOT NULL DEFAULT registry_actor(),
    CONSTRAINT water_tests_one_per_day UNIQUE (site_id, tested_on)
);
CREATE INDEX water_tests_site_idx ON water_tests (site_id, tested_on DESC);

CREATE FUNCTION water_supply_refresh_last_test() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    site uuid := COALESCE(NEW.site_id, OLD.site_id);
    latest record;
BEGIN
    SELECT tested_on, passed INTO latest FROM water_tests
    WHERE site_id = site ORDER BY tested_on DESC LIMIT 1;
    UPDATE water_supply SET
        last_tested_on = latest.tested_on,
        last_test_passed = latest.passed,
        next_test_due = (latest.tested_on + interval '3 months')::date
    WHERE id = site
      AND (last_tested_on, last_test_passed) IS DISTINCT FROM (latest.tested_on, latest.passed);
    RETURN NULL;
END
$$;
CREATE TRIGGER water_tests_refresh_site AFTER INSERT OR UPDATE OR DELETE ON water_tests
    FOR EACH ROW EXECUTE FUNCTION water_supply_refresh_last_test();
