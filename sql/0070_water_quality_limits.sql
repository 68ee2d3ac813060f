-- Water-quality judgement from ONE table: the GB 5749-2022 limits live in
-- `water_quality_limits`, one row per measured parameter (a numeric column of
-- water_tests), and the database judges every test against it. 0009 hard-coded the
-- limits in a generated column; that column becomes an ordinary one kept by a
-- trigger, so changing a limit is an UPDATE of this table (and re-judges every test,
-- each re-judgement recorded in the site's history).
CREATE TABLE water_quality_limits (
    parameter  text PRIMARY KEY,
    zh         text NOT NULL,
    en         text NOT NULL,
    unit       text,
    min_value  numeric,
    max_value  numeric,
    standard   text NOT NULL DEFAULT 'GB 5749-2022',
    clause     text,
    CONSTRAINT water_quality_limits_bounded CHECK (min_value IS NOT NULL OR max_value IS NOT NULL),
    CONSTRAINT water_quality_limits_ordered
        CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value)
);

-- A limit names a numeric column of water_tests (else it could never be judged).
CREATE FUNCTION water_quality_limits_check_parameter() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = 'water_tests'::regclass AND attname = NEW.parameter AND NOT attisdropped
          AND atttypid IN ('numeric'::regtype, 'integer'::regtype)
    ) THEN
        RAISE EXCEPTION 'water_quality_limits: % is not a measured column of water_tests', NEW.parameter
            USING ERRCODE = 'check_violation', CONSTRAINT = 'water_quality_limits_parameter_known';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER water_quality_limits_parameter BEFORE INSERT OR UPDATE ON water_quality_limits
    FOR EACH ROW EXECUTE FUNCTION water_quality_limits_check_parameter();

-- GB 5749-2022 表1/表3 (tap water at the consumer, 末梢水): turbidity <= 1 NTU, free
-- chlorine 0.05-2 mg/L, total coliforms not detected, total bacteria <= 100 CFU/mL,
-- pH 6.5-8.5. Bounds are inclusive: a value equal to a limit passes.
INSERT INTO water_quality_limits (parameter, zh, en, unit, min_value, max_value, clause) VALUES
    ('turbidity_ntu', '浑浊度', 'Turbidity', 'NTU', NULL, 1, '表1 第16项'),
    ('free_chlorine_mg_l', '游离氯（末梢水）', 'Free chlorine (at the tap)', 'mg/L', 0.05, 2, '表2'),
    ('total_coliforms_mpn', '总大肠菌群', 'Total coliforms', 'MPN/100mL', NULL, 0, '表1 第1项（不应检出）'),
    ('total_bacteria_cfu_ml', '菌落总数', 'Total bacteria', 'CFU/mL', NULL, 100, '表1 第4项'),
    ('ph', 'pH', 'pH', NULL, 6.5, 8.5, '表1 第20项');

-- Each parameter of one test (as JSON: any row of water_tests) judged against its
-- limit. A missing measurement is not a pass.
CREATE FUNCTION water_test_judgement(t jsonb)
RETURNS TABLE (parameter text, value numeric, min_value numeric, max_value numeric, passed boolean)
LANGUAGE sql STABLE AS $$
    SELECT l.parameter, v.value, l.min_value, l.max_value,
           v.value IS NOT NULL
           AND (l.min_value IS NULL OR v.value >= l.min_value)
           AND (l.max_value IS NULL OR v.value <= l.max_value)
    FROM water_quality_limits l
    CROSS JOIN LATERAL (SELECT (t ->> l.parameter)::numeric AS value) v
    ORDER BY l.parameter
$$;

-- A test passes when every limited parameter does (no limits: nothing can be judged).
CREATE FUNCTION water_test_passes(t jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(bool_and(j.passed), false) FROM water_test_judgement(t) j
$$;

-- Per-parameter results of every test, for lists, the site file and reports.
CREATE VIEW water_test_judgements AS
    SELECT w.id AS test_id, w.site_id, w.tested_on, j.parameter, j.value, j.min_value, j.max_value, j.passed
    FROM water_tests w CROSS JOIN LATERAL water_test_judgement(to_jsonb(w)) j;

ALTER TABLE water_tests ALTER COLUMN passed DROP EXPRESSION;
ALTER TABLE water_tests ALTER COLUMN passed SET NOT NULL;

CREATE FUNCTION water_tests_judge() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.passed := water_test_passes(to_jsonb(NEW));
    RETURN NEW;
END
$$;
CREATE TRIGGER water_tests_judge BEFORE INSERT OR UPDATE ON water_tests
    FOR EACH ROW EXECUTE FUNCTION water_tests_judge();

-- A changed limit re-judges every test it changes the result of.
CREATE FUNCTION water_quality_limits_rejudge() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE water_tests w SET passed = water_test_passes(to_jsonb(w))
    WHERE w.passed IS DISTINCT FROM water_test_passes(to_jsonb(w));
    RETURN NULL;
END
$$;
CREATE TRIGGER water_quality_limits_rejudge AFTER INSERT OR UPDATE OR DELETE ON water_quality_limits
    FOR EACH STATEMENT EXECUTE FUNCTION water_quality_limits_rejudge();

-- How often a site is tested: one row, quarterly unless an admin changes it
-- (`registry water-interval`); a change moves every site's next due date.
CREATE TABLE water_test_schedule (
    singleton     boolean PRIMARY KEY DEFAULT true CONSTRAINT water_test_schedule_one_row CHECK (singleton),
    test_interval interval NOT NULL DEFAULT interval '3 months'
                  CONSTRAINT water_test_schedule_positive CHECK (test_interval > interval '0')
);
INSERT INTO water_test_schedule DEFAULT VALUES;

CREATE FUNCTION water_test_interval() RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT test_interval FROM water_test_schedule), interval '3 months')
$$;

CREATE OR REPLACE FUNCTION water_supply_refresh_last_test() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    site uuid := COALESCE(NEW.site_id, OLD.site_id);
    latest record;
    due date;
BEGIN
    SELECT tested_on, passed INTO latest FROM water_tests
    WHERE site_id = site ORDER BY tested_on DESC LIMIT 1;
    due := (latest.tested_on + water_test_interval())::date;
    UPDATE water_supply SET
        last_tested_on = latest.tested_on,
        last_test_passed = latest.passed,
        next_test_due = due
    WHERE id = site
      AND (last_tested_on, last_test_passed, next_test_due)
          IS DISTINCT FROM (latest.tested_on, latest.passed, due);
    RETURN NULL;
END
$$;

CREATE FUNCTION water_test_schedule_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE water_supply SET next_test_due = (last_tested_on + water_test_interval())::date
    WHERE last_tested_on IS NOT NULL
      AND next_test_due IS DISTINCT FROM (last_tested_on + water_test_interval())::date;
    RETURN NULL;
END
$$;
CREATE TRIGGER water_test_schedule_changed AFTER UPDATE ON water_test_schedule
    FOR EACH STATEMENT EXECUTE FUNCTION water_test_schedule_changed();
