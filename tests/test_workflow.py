"""Campaign workflows: every declared transition allowed or refused, through the
registry (what the API calls) and through plain SQL (the database's own guard); the
second-person rule, photos, reopen, and deadlines with a fixed clock."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import psycopg
import pytest

from registry import clock, store
from registry.catalog import LayerCatalog
from registry.errors import InvalidFeature
from registry.permissions import PermissionDenied
from registry.spec import LayerSpec
from registry.workflow import (
    InvalidReopen,
    NotNextStep,
    SecondPersonRequired,
    StatusThroughWorkflow,
    StepRequirementsMissing,
)
from registry.workflow_store import (
    Photo,
    configure_deadline,
    overdue_sql,
    reopen,
    sync_workflows,
    take_step,
    workflow_state,
)
from tests.factories import make_properties, sample_geometry_for

WORKFLOW_LAYERS = ("road_voids", "manholes", "poles_wires", "markets")


@pytest.fixture
def wconn(conn: psycopg.Connection, catalog: LayerCatalog) -> psycopg.Connection:
    """The test database with the declared workflows written into it (as at start-up)."""
    sync_workflows(conn, catalog)
    conn.commit()
    return conn


def _photo(n: int = 1) -> Photo:
    digest = hashlib.sha256(f"photo-{n}".encode()).hexdigest()
    return Photo(digest, f"现场{n}.jpg", "image/jpeg", 1234)


def _create(
    conn: psycopg.Connection, spec: LayerSpec, status: str, n: int = 1, **over: Any
) -> dict[str, Any]:
    """An asset created directly in ``status`` (inserts are free), with only the fields
    that status needs: later steps' records empty."""
    props = make_properties(spec, n, status=status, **over)
    wf = spec.workflow
    assert wf is not None
    pos = wf.position(status) or 0
    for s in wf.steps[pos:]:
        for f in s.own_fields:
            if f not in over and f != "responsible_unit":
                props[f] = None
    if spec.name == "road_voids" and pos < 2:
        props["responsible_unit"] = None
    record = store.create_asset(
        conn, spec, props=props, geom=sample_geometry_for(spec, props), actor="surveyor"
    )
    conn.commit()
    return record


def _status(conn: psycopg.Connection, spec: LayerSpec, record: dict[str, Any]) -> str:
    conn.rollback()
    return store.get_asset(conn, spec, record["id"])["status"]


def _sql_set(
    conn: psycopg.Connection, spec: LayerSpec, record: dict[str, Any], status: str, **settings: str
) -> None:
    """A plain SQL UPDATE of the status (as an operator in psql would), committed."""
    for key, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, true)", (f"registry.{key}", value))
    conn.execute(f"UPDATE {spec.name} SET status = %s WHERE id = %s", (status, record["id"]))
    conn.commit()


# ------------------------------------------------------------------ declarations


def test_every_campaign_layer_declares_its_workflow_and_the_database_holds_it(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    for name in WORKFLOW_LAYERS:
        spec = catalog.get(name)
        assert spec.workflow is not None
        rows = wconn.execute(
            "SELECT step, position FROM workflow_steps WHERE layer = %s AND kind = 'step' ORDER BY position",
            (name,),
        ).fetchall()
        assert [r[0] for r in rows] == [s.code for s in spec.workflow.steps]
        trigger = wconn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
            (name, f"{name}_workflow"),
        ).fetchone()
        assert trigger == (1,)
    assert [s.code for s in catalog.get("road_voids").workflow.steps] == [  # type: ignore[union-attr]
        "found",
        "assigned",
        "remediating",
        "remediated",
        "closed",
    ]


def test_sync_is_idempotent_and_keeps_configured_days(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    voids = catalog.get("road_voids")
    configure_deadline(wconn, voids, due="remediated", grade="I", days=10, actor="admin")
    wconn.commit()
    sync_workflows(wconn, catalog)
    sync_workflows(wconn, catalog)
    wconn.commit()
    days = dict(
        wconn.execute(
            "SELECT grade, days FROM workflow_deadlines "
            "WHERE layer = 'road_voids' AND due_step = 'remediated'"
        ).fetchall()
    )
    assert days == {"I": 10, "II": 15, "III": 30, "IV": 60}


# ------------------------------------------------------------------ every transition, every layer


def _transitions(spec: LayerSpec) -> list[tuple[str, str, str]]:
    """(from, to, expected) for every pair of statuses: 'step', 'enter', 'leave' or 'refused'."""
    wf = spec.workflow
    assert wf is not None
    out = []
    codes = [c.code for c in spec.statuses]
    for a in codes:
        for b in codes:
            if a == b:
                continue
            pa, pb = wf.position(a), wf.position(b)
            if pb is None:
                kind = "leave"
            elif pa is None:
                kind = "enter" if pb == 1 else "refused"
            else:
                kind = "step" if pb == pa + 1 else "refused"
            out.append((a, b, kind))
    return out


def _ready(spec: LayerSpec, status: str) -> dict[str, Any]:
    """Attributes an asset in ``status`` needs so that any step out of it has its fields."""
    over: dict[str, Any] = {}
    if spec.name == "markets":
        over["managing_unit"] = "城管局"
    return over


@pytest.mark.parametrize("layer", WORKFLOW_LAYERS)
def test_every_transition_in_plain_sql_is_allowed_or_refused_as_declared(
    wconn: psycopg.Connection, catalog: LayerCatalog, layer: str
) -> None:
    spec = catalog.get(layer)
    for n, (src, dst, kind) in enumerate(_transitions(spec), start=1):
        record = _create(wconn, spec, src, n, **_ready(spec, src))
        # evidence a step may need: a photo attached, required fields filled
        wconn.execute(
            "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes) "
            "VALUES (%s, %s, %s, 'a.jpg', 'image/jpeg', 1)",
            (record["id"], layer, _photo(n).sha256),
        )
        fills = {
            f: (dt.date(2025, 6, 1) if spec.attr(f).type.value == "date" else "x")
            for s in spec.workflow.steps  # type: ignore[union-attr]
            if s.code == dst
            for f in s.own_fields
            if not (spec.attr(f).choices)
        }
        fills |= {
            f: spec.attr(f).choices[0].code
            for s in spec.workflow.steps  # type: ignore[union-attr]
            if s.code == dst
            for f in s.fields
            if spec.attr(f).choices
        }
        sets = ", ".join(f"{f} = %s" for f in fills)
        wconn.execute("SELECT set_config('registry.actor', 'someone-else', true)")
        try:
            wconn.execute(
                f"UPDATE {layer} SET status = %s{', ' + sets if sets else ''} WHERE id = %s",
                (dst, *fills.values(), record["id"]),
            )
            wconn.commit()
            outcome = "allowed"
        except psycopg.errors.CheckViolation as exc:
            wconn.rollback()
            outcome = "refused"
            if kind == "refused":
                assert exc.diag.constraint_name == f"{layer}_status_workflow", (src, dst, exc)
        assert outcome == ("refused" if kind == "refused" else "allowed"), (layer, src, dst, kind)
        if kind != "refused":
            event = wconn.execute(
                "SELECT kind, from_status, to_status, actor, via FROM workflow_events WHERE asset_id = %s",
                (record["id"],),
            ).fetchall()
            assert event == [(kind, src, dst, "someone-else", "sql")]


@pytest.mark.parametrize("layer", WORKFLOW_LAYERS)
def test_going_back_in_sql_needs_the_reopen_flag_and_a_reason(
    wconn: psycopg.Connection, catalog: LayerCatalog, layer: str
) -> None:
    spec = catalog.get(layer)
    wf = spec.workflow
    assert wf is not None
    last, first = wf.steps[-1].code, wf.steps[0].code
    record = _create(wconn, spec, last)
    with pytest.raises(psycopg.errors.CheckViolation, match="重新打开"):
        _sql_set(wconn, spec, record, first)
    wconn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="reason"):
        _sql_set(wconn, spec, record, first, reopen="on")
    wconn.rollback()
    _sql_set(wconn, spec, record, first, reopen="on", comment="复查发现仍有隐患")
    assert _status(wconn, spec, record) == first
    kind, comment = wconn.execute(
        "SELECT kind, comment FROM workflow_events WHERE asset_id = %s", (record["id"],)
    ).fetchone()  # type: ignore[misc]
    assert (kind, comment) == ("reopen", "复查发现仍有隐患")


# ------------------------------------------------------------------ the road-void campaign, step by step


def test_a_road_void_from_found_to_closed_with_evidence(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    voids = catalog.get("road_voids")
    void = _create(wconn, voids, "found")
    day = dt.date(2025, 6, 2)

    def step(code: str, actor: str = "officer1", **kw: Any) -> dict[str, Any]:
        out = take_step(wconn, voids, void["id"], step=code, role="officer", actor=actor, today=day, **kw)
        wconn.commit()
        return out

    # skipping is refused before anything is written
    with pytest.raises(NotNextStep) as skipped:
        step("remediated")
    assert "只能逐步前进" in skipped.value.text("zh") and "cannot skip steps" in skipped.value.text("en")
    assert skipped.value.message_code == "step_skip"
    wconn.rollback()
    with pytest.raises(StepRequirementsMissing) as missing:
        step("assigned")
    assert "需要责任单位" in missing.value.text("zh")
    assert "responsible unit is required" in missing.value.text("en")
    assert [e["field"] for e in missing.value.errors] == ["responsible_unit"]
    wconn.rollback()
    assigned = step("assigned", fields={"responsible_unit": "焦作市排水管理处"}, comment="权属已明确")
    assert (assigned["assigned_on"], assigned["assigned_by"]) == (str(day), "officer1")
    step("remediating")
    with pytest.raises(StepRequirementsMissing) as missing:
        step("remediated", fields={"remediation_method": "grouting"})
    assert {e["field"] for e in missing.value.errors} == {"remediation_contractor", "photos"}
    wconn.rollback()
    with pytest.raises(StepRequirementsMissing) as no_photo:
        step("remediated", fields={"remediation_method": "grouting", "remediation_contractor": "市政公司"})
    assert "照片" in no_photo.value.text("zh") and "photo" in no_photo.value.text("en")
    wconn.rollback()
    done = step(
        "remediated",
        fields={
            "remediation_method": "grouting",
            "remediation_contractor": "焦作市市政工程公司",
            "remediated_on": "2025-06-02",
        },
        photos=[_photo(1)],
    )
    assert done["remediated_by"] == "officer1" and done["remediated_on"] == "2025-06-02"
    # the one who recorded the remediation does not verify it
    with pytest.raises(SecondPersonRequired, match="officer1"):
        step("closed")
    wconn.rollback()
    closed = step("closed", actor="officer2", comment="现场复核合格")
    assert closed["status"] == "closed" and closed["closed_by"] == "officer2"

    state = workflow_state(wconn, voids, void["id"], role="officer", actor="officer2", today=day)
    assert state["next"] is None and state["current"]["code"] == "closed"
    events = state["events"]
    assert [(e["kind"], e["to_status"], e["actor"]) for e in events] == [
        ("step", "assigned", "officer1"),
        ("step", "remediating", "officer1"),
        ("step", "remediated", "officer1"),
        ("step", "closed", "officer2"),
    ]
    assert events[2]["evidence"]["photos"] == [_photo(1).sha256]
    assert events[2]["evidence"]["fields"]["remediation_contractor"] == "焦作市市政工程公司"
    assert events[0]["comment"] == "权属已明确"
    # each step is also in the asset's history, attributed
    history = wconn.execute(
        "SELECT actor, after ->> 'status' FROM asset_history WHERE asset_id = %s ORDER BY id", (void["id"],)
    ).fetchall()
    assert history[-1] == ("officer2", "closed")


def test_the_second_person_rule_also_holds_in_plain_sql(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    voids = catalog.get("road_voids")
    void = _create(wconn, voids, "remediating", responsible_unit="排水处")
    wconn.execute(
        "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes) "
        "VALUES (%s, 'road_voids', %s, 'a.jpg', 'image/jpeg', 1)",
        (void["id"], _photo(7).sha256),
    )
    wconn.execute("SELECT set_config('registry.actor', 'zhang', true)")
    wconn.execute(
        "UPDATE road_voids SET status = 'remediated', remediated_on = assigned_on, remediated_by = 'zhang', "
        "remediation_method = 'grouting', remediation_contractor = '市政' WHERE id = %s",
        (void["id"],),
    )
    wconn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="另一人"):
        _sql_set(wconn, voids, void, "closed", actor="zhang")
    wconn.rollback()
    wconn.execute("SELECT set_config('registry.actor', 'li', true)")
    wconn.execute(
        "UPDATE road_voids SET status = 'closed', closed_on = remediated_on, closed_by = 'li' WHERE id = %s",
        (void["id"],),
    )
    wconn.commit()
    assert _status(wconn, voids, void) == "closed"


def test_photos_must_be_new_since_the_current_step_was_entered(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    manholes = catalog.get("manholes")
    hole = _create(wconn, manholes, "pending")
    with pytest.raises(StepRequirementsMissing, match="at least 1 photo"):
        take_step(wconn, manholes, hole["id"], step="remediated", role="surveyor", actor="wang")
    wconn.rollback()
    take_step(
        wconn, manholes, hole["id"], step="remediated", role="surveyor", actor="wang", photos=[_photo(2)]
    )
    wconn.commit()
    # back to pending by a reopen: the old photo does not count for the new remediation
    reopen(wconn, manholes, hole["id"], reason="井盖再次松动", role="officer", actor="officer1")
    wconn.commit()
    with pytest.raises(StepRequirementsMissing, match="0 attached"):
        take_step(wconn, manholes, hole["id"], step="remediated", role="surveyor", actor="wang")
    wconn.rollback()


@pytest.mark.parametrize("layer", WORKFLOW_LAYERS)
def test_every_declared_step_through_the_registry_and_who_may_take_it(
    wconn: psycopg.Connection, catalog: LayerCatalog, layer: str
) -> None:
    """Walk each workflow from its start to its end through take_step, refusing the
    roles the declaration does not name, then reopen it to the first step."""
    spec = catalog.get(layer)
    wf = spec.workflow
    assert wf is not None
    off_track = [c.code for c in spec.statuses if wf.step(c.code) is None]
    start = off_track[0] if off_track else wf.steps[0].code
    record = _create(wconn, spec, start, **_ready(spec, start))
    takers = ["taker-a", "taker-b"]
    for i, s in enumerate(wf.steps):
        if s.code == start:
            continue
        allowed_roles = [r for r in ("admin", "surveyor", "planner", "officer", "viewer") if _may(spec, r, s)]
        for role in {"surveyor", "planner", "officer", "viewer"} - set(allowed_roles):
            with pytest.raises(PermissionDenied):
                take_step(wconn, spec, record["id"], step=s.code, role=role, actor="x", photos=[_photo(i)])
            wconn.rollback()
        fields = {f: ("x" if not spec.attr(f).choices else spec.attr(f).choices[0].code) for f in s.fields}
        fields = {f: v for f, v in fields.items() if spec.attr(f).type.value != "date"}
        written = take_step(
            wconn,
            spec,
            record["id"],
            step=s.code,
            fields=fields,
            role=allowed_roles[-1],
            actor=takers[i % 2],
            photos=[_photo(100 + i)] if s.photos else [],
        )
        wconn.commit()
        assert written["status"] == s.code
    # the end of the track: nothing more to take
    with pytest.raises(NotNextStep):
        take_step(wconn, spec, record["id"], step=wf.steps[0].code, role="admin", actor="admin")
    wconn.rollback()
    with pytest.raises(PermissionDenied):
        reopen(wconn, spec, record["id"], reason="x", role="viewer", actor="v")
    with pytest.raises(InvalidReopen):
        reopen(wconn, spec, record["id"], reason="  ", role="officer", actor="o")
    back = reopen(
        wconn, spec, record["id"], reason="复查不合格", to=wf.steps[0].code, role="officer", actor="o"
    )
    wconn.commit()
    assert back["status"] == wf.steps[0].code
    # what the undone steps recorded is cleared; the history keeps it
    for s in wf.steps[1:]:
        for f in s.own_fields:
            if all(f not in k.own_fields for k in wf.steps[:1]):
                assert back[f] is None, f


def _may(spec: LayerSpec, role: str, step: Any) -> bool:
    from registry.workflow_store import may_take

    return may_take(role, spec, step)


def test_a_status_edit_outside_the_workflow_is_refused(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    voids = catalog.get("road_voids")
    void = _create(wconn, voids, "found")
    with pytest.raises(StatusThroughWorkflow):
        store.update_asset(
            wconn, voids, void["id"], props={"status": "assigned"}, expected_version=None, actor="a"
        )
    wconn.rollback()
    # other attributes still change as before
    store.update_asset(wconn, voids, void["id"], props={"notes": "复核"}, expected_version=None, actor="a")
    wconn.commit()


def test_reopen_clears_the_undone_record_and_is_recorded(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    voids = catalog.get("road_voids")
    void = _create(
        wconn,
        voids,
        "remediated",
        responsible_unit="排水处",
        remediation_method="grouting",
        remediation_contractor="市政",
        remediated_by="zhang",
    )
    with pytest.raises(InvalidReopen):
        reopen(wconn, voids, void["id"], reason="x", to="closed", role="officer", actor="li")
    back = reopen(wconn, voids, void["id"], reason="注浆不密实，需返工", role="officer", actor="li")
    wconn.commit()
    assert back["status"] == "remediating"
    assert (
        back["remediated_on"] is None and back["remediation_method"] is None and back["remediated_by"] is None
    )
    assert back["responsible_unit"] == "排水处"
    (kind, comment, evidence) = wconn.execute(
        "SELECT kind, comment, evidence FROM workflow_events WHERE asset_id = %s", (void["id"],)
    ).fetchone()  # type: ignore[misc]
    assert (kind, comment) == ("reopen", "注浆不密实，需返工")
    assert evidence["cleared"]["remediation_method"] == "grouting"
    changed = wconn.execute(
        "SELECT comment, before ->> 'remediation_method' FROM asset_history WHERE asset_id = %s "
        "ORDER BY id DESC LIMIT 1",
        (void["id"],),
    ).fetchone()
    assert changed == ("注浆不密实，需返工", "grouting")


def test_a_database_refusal_of_a_step_is_a_field_level_problem(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    """A value the layer refuses (a remediation dated before the assignment)."""
    voids = catalog.get("road_voids")
    void = _create(wconn, voids, "remediating", responsible_unit="排水处")
    with pytest.raises(InvalidFeature) as err:
        take_step(
            wconn,
            voids,
            void["id"],
            step="remediated",
            role="officer",
            actor="o",
            fields={
                "remediation_method": "grouting",
                "remediation_contractor": "市政",
                "remediated_on": "2000-01-01",
            },
            photos=[_photo(9)],
        )
    assert err.value.errors[0]["field"] == "remediated_on"


# ------------------------------------------------------------------ deadlines and overdue


def _overdue(conn: psycopg.Connection, spec: LayerSpec, record: dict[str, Any], today: dt.date) -> bool:
    from psycopg import sql

    statement = sql.SQL("SELECT {} FROM {} t WHERE t.id = %s").format(
        overdue_sql(spec, sql.Literal(today)), sql.Identifier(spec.name)
    )
    row = conn.execute(statement, (record["id"],)).fetchone()
    assert row is not None
    return bool(row[0])


@pytest.mark.parametrize(("grade", "days"), [("I", 7), ("II", 15), ("III", 30), ("IV", 60)])
def test_remediation_deadline_follows_the_risk_grade(
    wconn: psycopg.Connection, catalog: LayerCatalog, grade: str, days: int
) -> None:
    voids = catalog.get("road_voids")
    void = _create(
        wconn, voids, "assigned", risk_grade=grade, responsible_unit="排水处", assigned_on=dt.date(2025, 7, 1)
    )
    due = dt.date(2025, 7, 1) + dt.timedelta(days=days)
    state = workflow_state(wconn, voids, void["id"], today=due)
    assert state["deadline"] == due and not state["overdue"]
    assert not _overdue(wconn, voids, void, due)
    assert _overdue(wconn, voids, void, due + dt.timedelta(days=1))
    late = workflow_state(wconn, voids, void["id"], today=due + dt.timedelta(days=1))
    assert late["overdue"] and late["deadlines"][0]["days_left"] == -1
    # still running while remediation is under way; met once remediated
    take_step(wconn, voids, void["id"], step="remediating", role="officer", actor="o", today=due)
    wconn.commit()
    assert _overdue(wconn, voids, void, due + dt.timedelta(days=1))


def test_configured_days_and_the_app_clock(wconn: psycopg.Connection, catalog: LayerCatalog) -> None:
    voids = catalog.get("road_voids")
    void = _create(
        wconn, voids, "assigned", risk_grade="I", responsible_unit="排水处", assigned_on=dt.date(2025, 7, 1)
    )
    configure_deadline(wconn, voids, due="remediated", grade="I", days=3, actor="admin")
    wconn.commit()
    with clock.fixed_today(dt.date(2025, 7, 5)):
        state = workflow_state(wconn, voids, void["id"])
    assert state["today"] == dt.date(2025, 7, 5)
    assert state["deadline"] == dt.date(2025, 7, 4) and state["overdue"]


def test_a_deadline_without_a_date_attribute_runs_from_the_step_event(
    wconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    manholes = catalog.get("manholes")
    hole = _create(wconn, manholes, "in_service")
    take_step(wconn, manholes, hole["id"], step="pending", role="surveyor", actor="wang")
    wconn.commit()
    entered = wconn.execute(
        "SELECT (at AT TIME ZONE 'Asia/Shanghai')::date FROM workflow_events WHERE asset_id = %s",
        (hole["id"],),
    ).fetchone()[0]  # type: ignore[index]
    state = workflow_state(wconn, manholes, hole["id"], today=entered)
    assert state["deadline"] == entered + dt.timedelta(days=30)
    assert not _overdue(wconn, manholes, hole, entered + dt.timedelta(days=30))
    assert _overdue(wconn, manholes, hole, entered + dt.timedelta(days=31))
    # off the track, no deadline runs
    decommissioned = take_step(
        wconn, manholes, hole["id"], step="decommissioned", role="surveyor", actor="wang"
    )
    wconn.commit()
    assert decommissioned["status"] == "decommissioned"
    assert not _overdue(wconn, manholes, hole, entered + dt.timedelta(days=365))


def test_an_undo_takes_a_step_back_as_a_reopen(wconn: psycopg.Connection, catalog: LayerCatalog) -> None:
    from registry import history

    voids = catalog.get("road_voids")
    void = _create(wconn, voids, "found")
    take_step(
        wconn,
        voids,
        void["id"],
        step="assigned",
        fields={"responsible_unit": "排水处"},
        role="officer",
        actor="o",
        via="batch:1",
    )
    wconn.commit()
    history.undo(wconn, "batch:1", actor="admin")
    wconn.commit()
    assert _status(wconn, voids, void) == "found"
    kinds = wconn.execute(
        "SELECT kind, comment FROM workflow_events WHERE asset_id = %s ORDER BY id", (void["id"],)
    ).fetchall()
    assert kinds == [("step", None), ("reopen", "undo of batch:1")]
