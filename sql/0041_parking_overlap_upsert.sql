-- An upsert by code (INSERT ... ON CONFLICT (code) DO UPDATE: imports, seed-demo) first
-- fires the BEFORE INSERT trigger on the proposed row, whose id is new: the stored row
-- with the same code is the very zone being written, not a neighbour, so it must not
-- count as an overlap (before this, re-importing or re-seeding parking failed with
-- "parking X overlaps parking X").

CREATE OR REPLACE FUNCTION parking_refuse_overlap() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hit record;
BEGIN
    IF NEW.deleted_at IS NOT NULL OR NEW.status = 'planned' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND ST_AsEWKB(NEW.geom) = ST_AsEWKB(OLD.geom)
       AND NEW.status = OLD.status AND OLD.deleted_at IS NOT DISTINCT FROM NEW.deleted_at THEN
        RETURN NEW;
    END IF;
    SELECT * INTO hit FROM parking_overlaps(NEW.geom, NEW.id) o
    WHERE o.code IS DISTINCT FROM NEW.code
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'parking % overlaps parking % by % m²', NEW.code, hit.code, round(hit.overlap_m2::numeric, 2)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'parking_no_overlap',
                  HINT = 'move the boundary, or record the zone with status "planned"';
    END IF;
    RETURN NEW;
END
$$;
