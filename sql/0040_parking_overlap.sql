-- Parking bays and lots must not overlap, except as a plan: a planner may record a
-- "planned" zone over an existing one (to replace it), never an in-use one.
-- Sharing an edge or a vertex (snapped neighbours) is not an overlap; a sliver below
-- 0.05 m² is survey noise, not a conflict.

CREATE FUNCTION parking_overlaps(g geometry, exclude uuid DEFAULT NULL, exclude_code text DEFAULT NULL)
RETURNS TABLE (id uuid, code text, status text, kind text, overlap geometry, overlap_m2 double precision)
LANGUAGE sql STABLE AS $$
    SELECT p.id, p.code, p.status, p.kind, x.overlap, x.m2
    FROM parking p
    CROSS JOIN LATERAL (
        SELECT ST_CollectionExtract(ST_Intersection(p.geom, g), 3) AS overlap
    ) i
    CROSS JOIN LATERAL (SELECT i.overlap, ST_Area(i.overlap::geography) AS m2) x
    WHERE p.deleted_at IS NULL
      AND p.id IS DISTINCT FROM exclude
      AND p.code IS DISTINCT FROM exclude_code
      AND p.geom && g
      AND ST_Relate(p.geom, g, '2********')
      AND x.m2 >= 0.05
    ORDER BY x.m2 DESC
$$;

CREATE FUNCTION parking_refuse_overlap() RETURNS trigger
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
    -- (an upsert's proposed row has a fresh id but the code of the row it updates)
    SELECT * INTO hit FROM parking_overlaps(NEW.geom, NEW.id, NEW.code) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'parking % overlaps parking % by % m²', NEW.code, hit.code, round(hit.overlap_m2::numeric, 2)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'parking_no_overlap',
                  HINT = 'move the boundary, or record the zone with status "planned"';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER parking_no_overlap BEFORE INSERT OR UPDATE ON parking
    FOR EACH ROW EXECUTE FUNCTION parking_refuse_overlap();
