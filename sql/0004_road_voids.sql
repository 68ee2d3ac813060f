CREATE TABLE road_voids (
    road_name            text NOT NULL,
    location_desc        text,
    length_m             numeric CONSTRAINT road_voids_length_nonneg CHECK (length_m >= 0),
    width_m              numeric CONSTRAINT road_voids_width_nonneg CHECK (width_m >= 0),
    area_m2              numeric GENERATED ALWAYS AS (length_m * width_m) STORED,
    cover_depth_m        numeric CONSTRAINT road_voids_cover_depth_nonneg CHECK (cover_depth_m >= 0),
    void_height_m        numeric CONSTRAINT road_voids_void_height_nonneg CHECK (void_height_m >= 0),
    surroundings         text,
    detection_method     text CONSTRAINT road_voids_detection_method_allowed
                         CHECK (detection_method IN ('gpr', 'borehole', 'endoscope', 'visual', 'other')),
    detected_on          date,
    risk_grade           text NOT NULL CONSTRAINT road_voids_risk_grade_allowed
                         CHECK (risk_grade IN ('I', 'II', 'III', 'IV')),
    found_on             date,
    found_by             text,
    assigned_on          date,
    assigned_by          text,
    remediated_on        date,
    remediated_by        text,
    closed_on            date,
    closed_by            text,
    remediation_deadline date,
    CONSTRAINT road_voids_status_allowed
        CHECK (status IN ('found', 'assigned', 'remediated', 'closed')),
    -- a lifecycle stage needs the date of every step up to it, in order
    CONSTRAINT road_voids_stage_dates CHECK (
        found_on IS NOT NULL
        AND (status NOT IN ('assigned', 'remediated', 'closed')
             OR (assigned_on IS NOT NULL AND assigned_on >= found_on))
        AND (status NOT IN ('remediated', 'closed')
             OR (remediated_on IS NOT NULL AND remediated_on >= assigned_on))
        AND (status <> 'closed' OR (closed_on IS NOT NULL AND closed_on >= remediated_on))
    )
) INHERITS (assets);
SELECT registry_attach_layer('road_voids', ARRAY['POINT']);
CREATE INDEX road_voids_risk_grade_idx ON road_voids (risk_grade);
