"""The workflow mechanism over the database: one implementation for every layer.

* :func:`sync_workflows` writes the layers' declarations (:mod:`registry.workflow`) into
  ``workflow_steps``/``workflow_deadlines`` and attaches the guard trigger
  (``sql/0060_workflows.sql``) to every layer table, so the database enforces exactly
  what the Python declares; run at start-up and after migrating.
* :func:`take_step` and :func:`reopen` check a request against the declaration first
  (so the refusal names the missing field, photo or person, in Chinese and English),
  then write through :func:`registry.store.update_asset`; the trigger checks again and
  records the event (who, when, through what, evidence).
* :func:`deadline_sql` / :func:`overdue_sql` compute deadlines from the records (a
  step's date, or when it was taken) and the configured days, for any query that
  lists assets; :func:`workflow_state` is an asset's file of steps.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.rows
from psycopg import sql

from registry import clock, store
from registry.catalog import LayerCatalog
from registry.errors import InvalidParameter
from registry.messages import nested
from registry.permissions import Action, PermissionDenied, Role, allowed, role_words
from registry.spec import LayerSpec
from registry.workflow import (
    Deadline,
    InvalidReopen,
    NotNextStep,
    NoWorkflow,
    SecondPersonRequired,
    Step,
    StepRequirementsMissing,
    Workflow,
)

logger = logging.getLogger(__name__)

_SYNC_LOCK = 4108_0060
_TZ = "Asia/Shanghai"  # the bureau's day: a step taken at 23:30 belongs to that day


def workflow_of(spec: LayerSpec) -> Workflow:
    """The layer's workflow, or NoWorkflow (404)."""
    if spec.workflow is None:
        raise NoWorkflow("").with_message("no_workflow", layer=spec.name, layer_zh=spec.zh)
    return spec.workflow


# ---------------------------------------------------------------- declarations → database


def sync_workflows(conn: psycopg.Connection, catalog: Iterable[LayerSpec]) -> list[str]:
    """Write every layer's declared workflow into the database and attach the guard.

    Steps are replaced; declared deadline days replace earlier declared ones, while
    days an admin configured are kept. Layers without a workflow lose any old rows (no
    restriction). Returns the layers with a workflow. Commits nothing itself.
    """
    synced: list[str] = []
    if conn.execute("SELECT to_regclass('workflow_steps')").fetchone() == (None,):
        logger.warning("workflows not enforced: the database lacks migration 0060 (run registry migrate)")
        return synced
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SYNC_LOCK,))
        for spec in catalog:
            if conn.execute("SELECT to_regclass(%s)", (spec.name,)).fetchone() == (None,):
                continue  # declared but not migrated yet: nothing to guard
            conn.execute("DELETE FROM workflow_steps WHERE layer = %s", (spec.name,))
            wf = spec.workflow
            if wf is None:
                conn.execute("DELETE FROM workflow_deadlines WHERE layer = %s", (spec.name,))
                continue
            rows: list[tuple[Any, ...]] = [
                (spec.name, s.code, "step", i, s.zh, s.en, json.dumps(s.requirements()))
                for i, s in enumerate(wf.steps, start=1)
            ]
            rows += [
                (spec.name, c.code, "off_track", None, c.zh, c.en, "{}")
                for c in spec.statuses
                if wf.step(c.code) is None
            ]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO workflow_steps (layer, step, kind, position, zh, en, requirements) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                    rows,
                )
            declared = []
            for d in wf.deadlines:
                for grade, days in d.defaults().items():
                    declared.append((d.due, grade))
                    conn.execute(
                        "INSERT INTO workflow_deadlines "
                        "(layer, due_step, grade, start_step, grade_attr, days) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (layer, due_step, grade) DO UPDATE SET "
                        "start_step = EXCLUDED.start_step, grade_attr = EXCLUDED.grade_attr, "
                        "days = CASE WHEN workflow_deadlines.source = 'configured' "
                        "THEN workflow_deadlines.days ELSE EXCLUDED.days END",
                        (spec.name, d.due, grade, d.start, d.grade_attr, days),
                    )
            conn.execute(
                "DELETE FROM workflow_deadlines WHERE layer = %s "
                "AND (due_step, grade) NOT IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (spec.name, [d for d, _ in declared], [g for _, g in declared]),
            )
            conn.execute("SELECT registry_attach_workflow(%s::regclass)", (spec.name,))
            synced.append(spec.name)
    return synced


def configure_deadline(
    conn: psycopg.Connection, spec: LayerSpec, *, due: str, grade: str = "", days: int, actor: str
) -> None:
    """Set the days allowed to reach ``due`` (for one grade, '' = any): kept across start-ups."""
    wf = workflow_of(spec)
    deadline = next((d for d in wf.deadlines if d.due == due), None)
    if deadline is None:
        raise InvalidParameter("due", "").with_message(
            "deadline_unknown", due=due, due_zh=_label(spec, due).strip("“”"), layer=spec.name
        )
    if not 0 < days <= 3650:
        raise InvalidParameter("days", "").with_message("deadline_days_range")
    if grade and deadline.grade_attr is None:
        raise InvalidParameter("grade", "").with_message("deadline_no_grades", grade=grade)
    if grade and deadline.grade_attr and spec.attr(deadline.grade_attr).choice(grade) is None:
        raise InvalidParameter("grade", "").with_message(
            "deadline_grade_unknown", grade=grade, grade_attr=deadline.grade_attr
        )
    conn.execute(
        "INSERT INTO workflow_deadlines (layer, due_step, grade, start_step, grade_attr, days, source, "
        "updated_by) VALUES (%s, %s, %s, %s, %s, %s, 'configured', %s) "
        "ON CONFLICT (layer, due_step, grade) DO UPDATE SET days = EXCLUDED.days, source = 'configured', "
        "updated_at = now(), updated_by = EXCLUDED.updated_by",
        (spec.name, due, grade, deadline.start, deadline.grade_attr, days, actor),
    )


def deadline_days(conn: psycopg.Connection, spec: LayerSpec) -> list[dict[str, Any]]:
    """The days in force for each of the layer's deadlines and grades."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT due_step, grade, start_step, grade_attr, days, source, updated_at, updated_by "
            "FROM workflow_deadlines WHERE layer = %s ORDER BY due_step, grade",
            (spec.name,),
        ).fetchall()


# ---------------------------------------------------------------- deadlines in SQL


def _start_date(spec: LayerSpec, wf: Workflow, d: Deadline) -> sql.Composable:
    """When the asset entered the deadline's start step: the step's date attribute, else
    the last event into it, else (created at or past it) the day it was recorded."""
    parts: list[sql.Composable] = []
    step = wf.step(d.start)
    if step is not None and step.date_field:
        parts.append(sql.SQL("t.{}").format(sql.Identifier(step.date_field)))
    parts.append(
        sql.SQL(
            "(SELECT (max(e.at) AT TIME ZONE {tz})::date FROM workflow_events e "
            "WHERE e.asset_id = t.id AND e.to_status = {start})"
        ).format(tz=sql.Literal(_TZ), start=sql.Literal(d.start))
    )
    parts.append(sql.SQL("(t.created_at AT TIME ZONE {})::date").format(sql.Literal(_TZ)))
    return sql.SQL("COALESCE({})").format(sql.SQL(", ").join(parts))


def _one_deadline(spec: LayerSpec, wf: Workflow, d: Deadline) -> sql.Composable:
    start, due = wf.position(d.start), wf.position(d.due)
    assert start is not None and due is not None
    running = [s.code for s in wf.steps[start - 1 : due - 1]]
    grade = (
        sql.SQL("COALESCE(t.{}::text, '')").format(sql.Identifier(d.grade_attr))
        if d.grade_attr
        else sql.SQL("''")
    )
    days = sql.SQL(
        "(SELECT w.days FROM workflow_deadlines w WHERE w.layer = {layer} AND w.due_step = {due} "
        "AND w.grade IN ({grade}, '') ORDER BY w.grade DESC LIMIT 1)"
    ).format(layer=sql.Literal(spec.name), due=sql.Literal(d.due), grade=grade)
    return sql.SQL("CASE WHEN t.status = ANY({running}) THEN {start} + {days} END").format(
        running=sql.Literal(running), start=_start_date(spec, wf, d), days=days
    )


def deadline_sql(spec: LayerSpec) -> sql.Composable | None:
    """The asset's current deadline (a date; NULL when none runs) for a row aliased ``t``."""
    wf = spec.workflow
    if wf is None or not wf.deadlines:
        return None
    parts = [_one_deadline(spec, wf, d) for d in wf.deadlines]
    return parts[0] if len(parts) == 1 else sql.SQL("LEAST({})").format(sql.SQL(", ").join(parts))


def overdue_sql(spec: LayerSpec, today: sql.Composable) -> sql.Composable:
    """Whether a deadline of the row ``t`` has passed on ``today`` (false without one)."""
    deadline = deadline_sql(spec)
    if deadline is None:
        return sql.SQL("false")
    return sql.SQL("COALESCE(({}) < {}, false)").format(deadline, today)


def deadline_pairs(spec: LayerSpec, today: dt.date) -> list[sql.Composable]:
    """The ``deadline`` and ``overdue`` key/value pairs of the row ``t``'s properties, for
    a ``json_build_object`` wherever assets are listed (none without deadlines)."""
    deadline = deadline_sql(spec)
    if deadline is None:
        return []
    return [
        sql.SQL("'deadline', {}").format(deadline),
        sql.SQL("'overdue', {}").format(overdue_sql(spec, sql.Literal(today))),
    ]


# ---------------------------------------------------------------- who may do what


def may_take(role: str, spec: LayerSpec, step: Step | None) -> bool:
    """Whether ``role`` may take ``step`` (None: move to an off-track status).

    Admins always may; a step's own roles, when declared, decide; otherwise the
    layer's ``lifecycle`` grant does. Leaving the track needs lifecycle or update rights.
    """
    if role == Role.ADMIN:
        return True
    if step is None:
        return allowed(role, Action.LIFECYCLE, spec) or allowed(role, Action.UPDATE, spec)
    if step.roles:
        return role in step.roles
    return allowed(role, Action.LIFECYCLE, spec)


def may_reopen(role: str, spec: LayerSpec) -> bool:
    """Admins, and the roles the workflow names (officers by default)."""
    return role == Role.ADMIN or role in workflow_of(spec).reopen_roles


def _roles_for(spec: LayerSpec, step: Step) -> list[str]:
    return [r.value for r in Role if may_take(r.value, spec, step)]


# ---------------------------------------------------------------- reading


def _events(conn: psycopg.Connection, asset_id: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT id, kind, from_status, to_status, actor, via, at, comment, evidence "
            "FROM workflow_events WHERE asset_id = %s ORDER BY id",
            (asset_id,),
        ).fetchall()


def _photos_since_step(conn: psycopg.Connection, asset_id: Any) -> int:
    """Photos attached since the asset entered its current step (all, before any step)."""
    row = conn.execute(
        "SELECT count(*) FROM asset_photos p WHERE p.asset_id = %s AND p.created_at >= "
        "COALESCE((SELECT max(at) FROM workflow_events WHERE asset_id = %s), '-infinity')",
        (asset_id, asset_id),
    ).fetchone()
    return int(row[0]) if row else 0


def _photo_digests_since_step(conn: psycopg.Connection, asset_id: Any) -> list[str]:
    """The photos that are this step's evidence: attached since the current step was entered."""
    rows = conn.execute(
        "SELECT p.sha256 FROM asset_photos p WHERE p.asset_id = %s AND p.created_at >= "
        "COALESCE((SELECT max(at) FROM workflow_events WHERE asset_id = %s), '-infinity') "
        "ORDER BY p.created_at, p.sha256",
        (asset_id, asset_id),
    ).fetchall()
    return [r[0] for r in rows]


def attach_photos(
    conn: psycopg.Connection, spec: LayerSpec, asset_id: Any, photos: Sequence[Photo], *, actor: str
) -> list[str]:
    """Record stored photos as the asset's (evidence for its next step); their digests."""
    record = store.get_asset(conn, spec, asset_id)
    for p in photos:
        # attached again now: it counts as evidence of the step under way
        conn.execute(
            "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes, "
            "created_by) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (asset_id, sha256) DO UPDATE SET created_at = now()",
            (record["id"], spec.name, p.sha256, p.file_name, p.content_type, p.size_bytes, actor),
        )
    return [p.sha256 for p in photos]


def _taker(
    events: Sequence[Mapping[str, Any]], record: Mapping[str, Any], wf: Workflow, code: str
) -> str | None:
    """Who took the step into ``code`` last: its event, else the step's ``by`` attribute."""
    for e in reversed(events):
        if e["to_status"] == code and e["kind"] in ("step", "enter"):
            return str(e["actor"])
    step = wf.step(code)
    by = record.get(step.by_field) if step is not None and step.by_field else None
    return str(by) if by else None


def _attr_doc(spec: LayerSpec, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    a = spec.attr(name)
    doc: dict[str, Any] = {"name": name, "zh": a.zh, "en": a.en, "type": a.type.value}
    if a.choices:
        doc["choices"] = [{"code": c.code, "zh": c.zh, "en": c.en} for c in a.choices]
    doc["value"] = record.get(name)
    return doc


def _deadlines(
    conn: psycopg.Connection, spec: LayerSpec, asset_id: Any, today: dt.date
) -> list[dict[str, Any]]:
    wf = workflow_of(spec)
    out = []
    for d in wf.deadlines:
        statement = sql.SQL("SELECT {} FROM {} t WHERE t.id = %s").format(
            _one_deadline(spec, wf, d), sql.Identifier(spec.name)
        )
        row = conn.execute(statement, (asset_id,)).fetchone()
        due_on = row[0] if row else None
        if due_on is None:
            continue
        step = wf.step(d.due)
        assert step is not None
        out.append(
            {
                "start": d.start,
                "due_step": d.due,
                "zh": step.zh,
                "en": step.en,
                "due_on": due_on,
                "days_left": (due_on - today).days,
                "overdue": due_on < today,
            }
        )
    return out


def workflow_state(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    role: str | None = None,
    actor: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """An asset's workflow: the declared steps, where it stands, what the next step needs
    and who may take it, the running deadlines and every step taken (who, when, evidence)."""
    wf = workflow_of(spec)
    today = today or clock.today()
    record = store.get_asset(conn, spec, asset_id)
    status = record["status"]
    pos = wf.position(status)
    events = _events(conn, record["id"])
    steps = []
    for i, s in enumerate(wf.steps, start=1):
        taken = next((e for e in reversed(events) if e["to_status"] == s.code and e["kind"] != "leave"), None)
        steps.append(
            {
                "code": s.code,
                "zh": s.zh,
                "en": s.en,
                "position": i,
                "reached": pos is not None and i <= pos,
                "current": i == pos,
                "requires": _requires_doc(spec, wf, s, record),
                "roles": _roles_for(spec, s),
                "taken_at": taken["at"] if taken else (record.get(s.date_field) if s.date_field else None),
                "taken_by": taken["actor"] if taken else (record.get(s.by_field) if s.by_field else None),
            }
        )
    nxt = wf.next_step(status)
    next_doc = None
    if nxt is not None:
        next_doc = _requires_doc(spec, wf, nxt, record) | {
            "code": nxt.code,
            "zh": nxt.zh,
            "en": nxt.en,
            "roles": _roles_for(spec, nxt),
            "photos_attached": _photos_since_step(conn, record["id"]),
        }
        if nxt.other_than:
            next_doc["not_by"] = _taker(events, record, wf, nxt.other_than)
        if role is not None:
            next_doc["may_take"] = may_take(role, spec, nxt) and not (
                nxt.other_than and actor is not None and next_doc.get("not_by") == actor
            )
    deadlines = _deadlines(conn, spec, record["id"], today)
    current = wf.step(status)
    return {
        "layer": spec.name,
        "asset_id": str(record["id"]),
        "code": record["code"],
        "version": record["version"],
        "workflow": {"zh": wf.zh, "en": wf.en},
        "status": status,
        "current": (
            {"code": status, "zh": current.zh, "en": current.en, "position": pos}
            if current
            else {"code": status, "position": None, "off_track": True}
        ),
        "steps": steps,
        "off_track": [c.code for c in spec.statuses if wf.step(c.code) is None],
        "next": next_doc,
        "reopen": {
            "to": [s.code for s in wf.steps[: (pos or 1) - 1]],
            "may": role is not None and may_reopen(role, spec) and (pos or 0) > 1,
        },
        "deadline": min((d["due_on"] for d in deadlines), default=None),
        "overdue": any(d["overdue"] for d in deadlines),
        "deadlines": deadlines,
        "today": today,
        "events": events,
    }


def _requires_doc(spec: LayerSpec, wf: Workflow, s: Step, record: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "fields": [_attr_doc(spec, f, record) for f in s.fields],
        "optional_fields": [_attr_doc(spec, f, record) for f in (s.date_field,) if f and f not in s.fields],
        "photos": s.photos,
    }
    if s.other_than:
        other = wf.step(s.other_than)
        assert other is not None
        doc["other_than"] = {"code": other.code, "zh": other.zh, "en": other.en}
    return doc


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class Photo:
    """A photo already in the store (importers.photos.store), to attach with a step."""

    sha256: str
    file_name: str
    content_type: str
    size_bytes: int


def _set_evidence(
    conn: psycopg.Connection, evidence: Mapping[str, Any] | None, *, reopen: bool = False
) -> None:
    conn.execute(
        "SELECT set_config('registry.evidence', %s, true), set_config('registry.reopen', %s, true)",
        (
            json.dumps(evidence, ensure_ascii=False, default=str) if evidence else "",
            "on" if reopen else "off",
        ),
    )


def _label(spec: LayerSpec, code: str) -> str:
    """A status as a Chinese message names it: its label (the code is the English half's)."""
    choice = spec.attr("status").choice(code)
    return f"“{choice.zh}”" if choice else code


def _attr_zh(spec: LayerSpec, name: str) -> str:
    """An attribute as a Chinese message names it: its label, quoted (else its name)."""
    label = spec.attr_zh(name)
    return f"“{label}”" if label != name else name


def take_step(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    step: str,
    fields: Mapping[str, Any] | None = None,
    comment: str | None = None,
    role: str,
    actor: str,
    expected_version: int | None = None,
    photos: Sequence[Photo] = (),
    today: dt.date | None = None,
    via: str = "api",
) -> dict[str, Any]:
    """Take the next step (or move to an off-track status), with its evidence.

    Refusals, before anything is written: NotNextStep (409: skipping or going back),
    PermissionDenied (403: the role may not take it), SecondPersonRequired (403),
    StepRequirementsMissing (422: each missing field and the photos), InvalidFeature
    (422: a field the step does not write, or a value the layer refuses).
    """
    wf = workflow_of(spec)
    today = today or clock.today()
    fields = dict(fields or {})
    with conn.transaction():
        record = store.get_asset(conn, spec, asset_id, lock=True)
        store.check_version(spec, record, expected_version)
        status = record["status"]
        target = wf.step(step)
        nxt = wf.next_step(status)
        statuses = {c.code for c in spec.statuses}
        if target is None and (step not in statuses or step == status):
            raise NotNextStep("").with_message(
                "step_not_in_workflow",
                step=step,
                layer=spec.name,
                layer_zh=spec.zh,
                next_zh=nested("step_next_is", {"step": nxt.code, "step_zh": nxt.zh}) if nxt else "",
                next=nested("step_next_is", {"step": nxt.code, "step_zh": nxt.zh}) if nxt else "",
            )
        if target is not None and (nxt is None or target.code != nxt.code):
            where = (
                nested("workflow_next_step", {"step": nxt.code, "step_zh": nxt.zh})
                if nxt
                else nested("workflow_complete")
            )
            going_back = (wf.position(step) or 0) <= (wf.position(status) or 0)
            raise NotNextStep("").with_message(
                "step_go_back" if going_back else "step_skip",
                **{"from": status, "from_zh": _label(spec, status)},
                to=step,
                to_zh=_label(spec, step),
                where=where,
            )
        if not may_take(role, spec, target):
            raise PermissionDenied("").with_message(
                "step_not_allowed",
                **role_words(role),
                step=step,
                step_zh=target.zh if target else step,
                layer=spec.name,
            )
        own = set(target.own_fields if target else ())
        if target is not None and target.by_field:
            own.discard(target.by_field)  # always the account taking the step
        unknown = sorted(set(fields) - own)
        if unknown:
            raise StepRequirementsMissing(
                "",
                errors=[{"field": f, "code": "not_a_step_field", "value": None} for f in unknown],
            ).with_message(
                "step_sets_not",
                step=step,
                fields=", ".join(unknown),
                fields_zh="、".join(_attr_zh(spec, f) for f in unknown),
            )
        changes: dict[str, Any] = {**fields, "status": step}
        if target is not None:
            if target.date_field and fields.get(target.date_field) in (None, ""):
                changes[target.date_field] = today
            if target.by_field:
                changes[target.by_field] = actor
            _check_requirements(conn, spec, target, record | changes, len(photos))
            if target.other_than:
                taker = _taker(_events(conn, record["id"]), record, wf, target.other_than)
                if taker is not None and taker == actor:
                    other = wf.step(target.other_than)
                    assert other is not None
                    raise SecondPersonRequired("").with_message(
                        "step_second_person",
                        step=step,
                        step_zh=target.zh,
                        other=other.code,
                        other_zh=other.zh,
                        taker=taker,
                    )
        attach_photos(conn, spec, record["id"], photos, actor=actor)
        evidence = {
            "fields": {k: v for k, v in changes.items() if k != "status"},
            "photos": _photo_digests_since_step(conn, record["id"]),
        }
        _set_evidence(conn, evidence)
        written = store.update_asset(
            conn,
            spec,
            record["id"],
            props=changes,
            expected_version=record["version"],
            actor=actor,
            via=via,
            comment=comment,
            workflow_step=True,
        )
        _set_evidence(conn, None)
    return written


def _check_requirements(
    conn: psycopg.Connection, spec: LayerSpec, step: Step, merged: Mapping[str, Any], new_photos: int
) -> None:
    errors = []
    for name in step.fields:
        value = merged.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            a = spec.attr(name)
            errors.append(
                {
                    "field": name,
                    "code": "step_needs_field",
                    "params": {"label_zh": a.zh, "label": a.en.lower()},
                    "value": None,
                }
            )
    if step.photos:
        have = _photos_since_step(conn, merged["id"]) + new_photos
        if have < step.photos:
            errors.append(
                {
                    "field": "photos",
                    "code": "step_needs_photos",
                    "params": {"need": step.photos, "have": have},
                    "value": have,
                }
            )
    if errors:
        raise StepRequirementsMissing("", errors=errors).with_message(
            "step_requirements",
            step=step.code,
            step_zh=step.zh,
            missing=[nested(e["code"], e["params"]) for e in errors],
        )


def reopen(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    reason: str,
    to: str | None = None,
    role: str,
    actor: str,
    expected_version: int | None = None,
    via: str = "api",
) -> dict[str, Any]:
    """Send an asset back to an earlier step (the previous one by default), with a reason.

    What the undone steps recorded (their fields, dates and takers) is cleared — the
    history keeps it — so a reopened hazard never shows a remediation it no longer has.
    """
    wf = workflow_of(spec)
    if not may_reopen(role, spec):
        raise PermissionDenied("").with_message(
            "reopen_not_allowed", **role_words(role), layer=spec.name, layer_zh=spec.zh
        )
    if not reason or not reason.strip():
        raise InvalidReopen("").with_message("reopen_needs_reason")
    with conn.transaction():
        record = store.get_asset(conn, spec, asset_id, lock=True)
        store.check_version(spec, record, expected_version)
        pos = wf.position(record["status"])
        if pos is None or pos == 1:
            raise InvalidReopen("").with_message(
                "reopen_nothing", status=record["status"], status_zh=_label(spec, record["status"])
            )
        target = to or wf.steps[pos - 2].code
        back = wf.position(target)
        if back is None or back >= pos:
            raise InvalidReopen(
                "", errors=[{"field": "to", "code": "not_an_earlier_step", "value": target}]
            ).with_message(
                "reopen_not_earlier", target=target, steps_zh="、".join(s.zh for s in wf.steps[: pos - 1])
            )
        kept = {f for s in wf.steps[:back] for f in s.own_fields}
        cleared = {f: None for s in wf.steps[back:] for f in s.own_fields if f not in kept}
        _set_evidence(conn, {"cleared": {k: record.get(k) for k in cleared}}, reopen=True)
        written = store.update_asset(
            conn,
            spec,
            record["id"],
            props={**cleared, "status": target},
            expected_version=record["version"],
            actor=actor,
            via=via,
            comment=reason.strip(),
            workflow_step=True,
        )
        _set_evidence(conn, None)
    return written


def events_of(conn: psycopg.Connection, asset_id: Any) -> list[dict[str, Any]]:
    """Every step, reopen, entry and exit of an asset, oldest first."""
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        return []
    return _events(conn, key)


def workflow_json(spec: LayerSpec) -> dict[str, Any] | None:
    """The layer's declared workflow (steps with requirements and roles) for clients."""
    wf = spec.workflow
    if wf is None:
        return None
    return {
        "zh": wf.zh,
        "en": wf.en,
        "steps": [
            {"code": s.code, "zh": s.zh, "en": s.en, **s.requirements(), "roles": _roles_for(spec, s)}
            for s in wf.steps
        ],
        "reopen_roles": ["admin", *wf.reopen_roles],
        "deadlines": [
            {"start": d.start, "due": d.due, "grade_attr": d.grade_attr, "days": d.defaults()}
            for d in wf.deadlines
        ],
    }


def catalog_workflows(catalog: LayerCatalog) -> dict[str, dict[str, Any]]:
    """Layer → its declared workflow, for every layer that declares one."""
    return {spec.name: doc for spec in catalog if (doc := workflow_json(spec)) is not None}
