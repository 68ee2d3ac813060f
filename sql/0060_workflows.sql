-- Campaign workflows (专项整治: 排查—确权—整治—销号), enforced by the database for every
-- layer. The steps are declared once, in Python (layers/<layer>.py, `Workflow`); the
-- application writes them into `workflow_steps` at start-up and after `registry
-- migrate` (registry/workflow.py, sync_workflows), and one trigger function attached to
-- every layer table checks each status change against them:
--   * forward by exactly one step, with the step's requirements met (fields filled,
--     photos attached since the current step was entered, a second person);
--   * from a status outside the track (off_track: e.g. a manhole in service) only into
--     the first step; into an off-track status from anywhere;
--   * back to an earlier step only as a reopen: `registry.reopen` = 'on' for the
--     transaction and a reason in `registry.comment` (see registry/context.py).
-- Each accepted change is recorded in `workflow_events` (who, when, through what, why,
-- evidence), whoever made it: the API or plain SQL. A layer without declared steps is
-- not restricted. Inserts are free (surveys and imports bring assets at any stage).

-- Road voids gain 整治中 (remediating) and the remediation record (method, contractor).
ALTER TABLE road_voids DROP CONSTRAINT road_voids_status_allowed;
ALTER TABLE road_voids ADD CONSTRAINT road_voids_status_allowed
    CHECK (status IN ('found', 'assigned', 'remediating', 'remediated', 'closed'));
ALTER TABLE road_voids DROP CONSTRAINT road_voids_stage_dates;
ALTER TABLE road_voids ADD CONSTRAINT road_voids_stage_dates CHECK (
    found_on IS NOT NULL
    AND (status NOT IN ('assigned', 'remediating', 'remediated', 'closed')
         OR (assigned_on IS NOT NULL AND assigned_on >= found_on))
    AND (status NOT IN ('remediated', 'closed')
         OR (remediated_on IS NOT NULL AND remediated_on >= assigned_on))
    AND (status <> 'closed' OR (closed_on IS NOT NULL AND closed_on >= remediated_on))
);
ALTER TABLE road_voids
    ADD COLUMN remediation_method text CONSTRAINT road_voids_remediation_method_allowed
        CHECK (remediation_method IN ('grouting', 'excavation_backfill', 'replacement', 'other')),
    ADD COLUMN remediation_contractor text;

-- Manholes: 排查 (pending) → 整改 (remediated) → 验收 (accepted).
ALTER TABLE manholes DROP CONSTRAINT manholes_status_allowed;
ALTER TABLE manholes ADD CONSTRAINT manholes_status_allowed
    CHECK (status IN ('in_service', 'pending', 'remediated', 'accepted', 'decommissioned'));
ALTER TABLE manholes DROP CONSTRAINT manholes_remediated_has_date;
ALTER TABLE manholes ADD CONSTRAINT manholes_remediated_has_date
    CHECK (status NOT IN ('remediated', 'accepted') OR remediated_on IS NOT NULL);

-- Poles and wires: 排查 (abandoned) → 清理/规整 (removed) → 验收 (accepted).
ALTER TABLE poles_wires DROP CONSTRAINT poles_wires_status_allowed;
ALTER TABLE poles_wires ADD CONSTRAINT poles_wires_status_allowed
    CHECK (status IN ('in_use', 'abandoned', 'removed', 'accepted'));
ALTER TABLE poles_wires DROP CONSTRAINT poles_wires_removed_has_date;
ALTER TABLE poles_wires ADD CONSTRAINT poles_wires_removed_has_date
    CHECK (status NOT IN ('removed', 'accepted') OR removed_on IS NOT NULL);

-- Markets: 设置 (active) → 规范 (regulated) → 撤销 (closed).
ALTER TABLE markets DROP CONSTRAINT markets_status_allowed;
ALTER TABLE markets ADD CONSTRAINT markets_status_allowed
    CHECK (status IN ('planned', 'active', 'regulated', 'suspended', 'closed'));

-- The declared steps (kind 'step', in order) and the layer's other statuses ('off_track').
CREATE TABLE workflow_steps (
    layer        text NOT NULL,
    step         text NOT NULL,
    kind         text NOT NULL CONSTRAINT workflow_steps_kind_allowed CHECK (kind IN ('step', 'off_track')),
    position     integer,
    zh           text NOT NULL,
    en           text NOT NULL,
    -- {"fields": [...], "photos": n, "other_than": "<step>", "date_field": ..., "by_field": ...,
    --  "roles": [...]}
    requirements jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (layer, step),
    CONSTRAINT workflow_steps_position CHECK ((kind = 'step') = (position IS NOT NULL)),
    UNIQUE (layer, position)
);

-- Days allowed to reach `due_step` from `start_step`, per value of the layer's grading
-- attribute (`grade` '' = any value). Declared defaults are written by the sync; a
-- value an admin sets (source 'configured') is kept across start-ups.
CREATE TABLE workflow_deadlines (
    layer      text NOT NULL,
    due_step   text NOT NULL,
    grade      text NOT NULL DEFAULT '',
    start_step text NOT NULL,
    grade_attr text,
    days       integer NOT NULL CONSTRAINT workflow_deadlines_days_positive CHECK (days > 0),
    source     text NOT NULL DEFAULT 'declared'
               CONSTRAINT workflow_deadlines_source_allowed CHECK (source IN ('declared', 'configured')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT registry_actor(),
    PRIMARY KEY (layer, due_step, grade)
);

CREATE TABLE workflow_events (
    id          bigserial PRIMARY KEY,
    asset_id    uuid NOT NULL,
    layer       text NOT NULL,
    -- step: forward one step; enter: from off the track into the first step;
    -- leave: into an off-track status; reopen: back to an earlier step
    kind        text NOT NULL CONSTRAINT workflow_events_kind_allowed
                CHECK (kind IN ('step', 'enter', 'leave', 'reopen')),
    from_status text NOT NULL,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    via         text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    comment     text,
    evidence    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX workflow_events_asset_idx ON workflow_events (asset_id, id);
CREATE INDEX workflow_events_at_idx ON workflow_events (layer, at);

CREATE FUNCTION registry_workflow_refuse(tbl text, zh text, en text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% / %', zh, en
        USING ERRCODE = 'check_violation', CONSTRAINT = tbl || '_status_workflow',
              HINT = 'take the next step (POST /api/assets/{layer}/{id}/steps) or reopen with a reason';
END
$$;

CREATE FUNCTION registry_workflow_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    src workflow_steps;
    dst workflow_steps;
    req jsonb;
    act text;
    f text;
    since timestamptz;
    n integer;
    needed integer;
    first_taker text;
    reason text := NULLIF(btrim(current_setting('registry.comment', true)), '');
    row_json jsonb;
BEGIN
    IF NEW.status IS NOT DISTINCT FROM OLD.status
       OR NOT EXISTS (SELECT 1 FROM workflow_steps WHERE layer = TG_TABLE_NAME) THEN
        RETURN NEW;
    END IF;
    SELECT * INTO src FROM workflow_steps WHERE layer = TG_TABLE_NAME AND step = OLD.status;
    SELECT * INTO dst FROM workflow_steps WHERE layer = TG_TABLE_NAME AND step = NEW.status;
    IF dst.step IS NULL THEN
        RETURN NEW;  -- not a status of this layer: the status CHECK constraint refuses it
    END IF;
    IF dst.kind = 'off_track' THEN
        act := 'leave';
    ELSIF src.kind IS DISTINCT FROM 'step' THEN
        IF dst.position <> 1 THEN
            PERFORM registry_workflow_refuse(TG_TABLE_NAME,
                format('只能从第一步“%s”进入流程，不能直接到“%s”', (SELECT zh FROM workflow_steps
                       WHERE layer = TG_TABLE_NAME AND position = 1), dst.zh),
                format('the workflow starts at its first step; %s cannot go straight to %s',
                       OLD.status, NEW.status));
        END IF;
        act := 'enter';
    ELSIF dst.position = src.position + 1 THEN
        act := 'step';
    ELSIF dst.position < src.position AND current_setting('registry.reopen', true) = 'on' THEN
        IF reason IS NULL THEN
            PERFORM registry_workflow_refuse(TG_TABLE_NAME, '退回需要说明原因',
                'a reopen needs a reason');
        END IF;
        act := 'reopen';
    ELSIF dst.position < src.position THEN
        PERFORM registry_workflow_refuse(TG_TABLE_NAME,
            format('不能从“%s”退回“%s”：退回须经重新打开并说明原因', src.zh, dst.zh),
            format('%s cannot go back to %s except by a reopen with a reason', OLD.status, NEW.status));
    ELSE
        PERFORM registry_workflow_refuse(TG_TABLE_NAME,
            format('不能从“%s”跳到“%s”：只能逐步前进', src.zh, dst.zh),
            format('%s cannot skip to %s: one step at a time', OLD.status, NEW.status));
    END IF;

    IF act IN ('step', 'enter') THEN
        req := dst.requirements;
        row_json := to_jsonb(NEW);
        FOR f IN SELECT jsonb_array_elements_text(COALESCE(req -> 'fields', '[]'::jsonb)) LOOP
            IF NULLIF(btrim(row_json ->> f), '') IS NULL THEN
                PERFORM registry_workflow_refuse(TG_TABLE_NAME,
                    format('“%s”需要填写 %s', dst.zh, f), format('step %s needs %s', NEW.status, f));
            END IF;
        END LOOP;
        needed := COALESCE((req ->> 'photos')::integer, 0);
        IF needed > 0 THEN
            SELECT max(at) INTO since FROM workflow_events WHERE asset_id = NEW.id;
            SELECT count(*) INTO n FROM asset_photos
            WHERE asset_id = NEW.id AND created_at >= COALESCE(since, '-infinity');
            IF n < needed THEN
                PERFORM registry_workflow_refuse(TG_TABLE_NAME,
                    format('“%s”至少需要 %s 张照片（现有 %s 张）', dst.zh, needed, n),
                    format('step %s needs at least %s photo(s), %s attached', NEW.status, needed, n));
            END IF;
        END IF;
        IF req ? 'other_than' THEN
            SELECT e.actor INTO first_taker FROM workflow_events e
            WHERE e.asset_id = NEW.id AND e.to_status = req ->> 'other_than' AND e.kind IN ('step', 'enter')
            ORDER BY e.id DESC LIMIT 1;
            IF first_taker IS NULL THEN
                SELECT to_jsonb(OLD) ->> (s.requirements ->> 'by_field') INTO first_taker
                FROM workflow_steps s WHERE s.layer = TG_TABLE_NAME AND s.step = req ->> 'other_than';
            END IF;
            IF first_taker IS NOT NULL AND first_taker = registry_actor() THEN
                PERFORM registry_workflow_refuse(TG_TABLE_NAME,
                    format('“%s”须由另一人办理：%s 已办理“%s”', dst.zh, first_taker,
                           (SELECT zh FROM workflow_steps WHERE layer = TG_TABLE_NAME
                            AND step = req ->> 'other_than')),
                    format('step %s must be taken by someone other than %s, who took %s',
                           NEW.status, first_taker, req ->> 'other_than'));
            END IF;
        END IF;
    END IF;

    INSERT INTO workflow_events (asset_id, layer, kind, from_status, to_status, actor, via, comment, evidence)
    VALUES (NEW.id, TG_TABLE_NAME, act, OLD.status, NEW.status, registry_actor(),
            COALESCE(NULLIF(current_setting('registry.via', true), ''), 'sql'), reason,
            COALESCE(NULLIF(current_setting('registry.evidence', true), '')::jsonb, '{}'::jsonb));
    RETURN NEW;
END
$$;

-- Attach the guard to a layer table (idempotent): used below for the layers that exist
-- and by the application's workflow sync for any layer added later.
CREATE FUNCTION registry_attach_workflow(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name || '_workflow') THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF status ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION registry_workflow_guard()',
                       name || '_workflow', tbl);
    END IF;
END
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'assets'::regclass LOOP
        PERFORM registry_attach_workflow(t);
    END LOOP;
END
$$;
