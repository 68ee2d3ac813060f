"""Inspections (巡查记录): child records of any asset — when, who, the result (normal,
problem found, hazard raised), notes and photos. Stored in ``inspections`` (sql/0071),
whose trigger records each one in the asset's history.

An inspection's outcome may change the asset (the attributes its layer declares in
``LayerSpec.inspection_sets``: a manhole's condition) and may raise a hazard (a new asset
of a layer declaring ``raised_by_inspection``: a road void). Both are written through
the store like any edit, so history, versions and map tiles follow, with the inspection
named as the reason (sql/0090 links them to the inspection)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from shapely.geometry import shape

from registry.clock import CHINA
from registry.context import set_actor
from registry.errors import FeatureNotFound, InvalidParameter
from registry.spec import Choice, LayerSpec
from registry.store import create_asset, get_asset, next_serial, update_asset
from registry.validation import check_value

RESULTS = (
    Choice("normal", "正常", "Normal"),
    Choice("problem", "发现问题", "Problem found"),
    Choice("hazard", "发现隐患", "Hazard raised"),
)
MAX_NOTES = 4000
# a phone's clock may run a little ahead of the server's
CLOCK_SKEW = dt.timedelta(minutes=10)


def _check(inspected_at: dt.datetime, inspector: str, result: str, notes: str | None) -> None:
    if result not in {c.code for c in RESULTS}:
        raise InvalidParameter("result", "").with_message(
            "inspection_result",
            allowed=", ".join(c.code for c in RESULTS),
            allowed_zh="、".join(f"{c.zh}（{c.code}）" for c in RESULTS),
        )
    if not inspector.strip():
        raise InvalidParameter("inspector", "").with_message("inspection_inspector_empty")
    if inspected_at.tzinfo is None:
        raise InvalidParameter("inspected_at", "").with_message("inspection_time_zone")
    if inspected_at > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
        raise InvalidParameter("inspected_at", "").with_message("inspection_in_future")
    if notes and len(notes) > MAX_NOTES:
        raise InvalidParameter("notes", "").with_message("inspection_notes_too_long", max=MAX_NOTES)


def _changes(spec: LayerSpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The declared attributes the outcome sets, each checked against its choices."""
    out: dict[str, Any] = {}
    for name, raw in (given or {}).items():
        if name not in spec.inspection_sets:
            raise InvalidParameter("set", "").with_message(
                "inspection_cannot_set",
                layer=spec.name,
                name=name,
                name_zh=spec.attr_zh(name),
                allowed=", ".join(spec.inspection_sets) or "—",
                allowed_zh="、".join(spec.attr_zh(n) for n in spec.inspection_sets) or "—",
            )
        clean, found = check_value(spec.attr(name), raw)
        if found is not None or clean is None:
            raise InvalidParameter(f"set.{name}", "").with_message(
                "inspection_set_choice",
                name=name,
                name_zh=spec.attr(name).zh,
                choices=", ".join(c.code for c in spec.attr(name).choices),
                choices_zh="、".join(f"{c.zh}（{c.code}）" for c in spec.attr(name).choices),
            )
        out[name] = clean
    return out


def raise_targets(catalog: Any, layer: str) -> list[LayerSpec]:
    """The layers in which an inspection of ``layer`` may raise a hazard."""
    return [
        s for s in catalog if s.raised_by_inspection is not None and s.raised_by_inspection.accepts(layer)
    ]


def _new_code(conn: psycopg.Connection, spec: LayerSpec, day: dt.date) -> str:
    """The next free ``<prefix>-<year>-<serial>``, as imports number new assets."""
    stem = f"{spec.code_prefix}-{day.year}-"
    return f"{stem}{next_serial(conn, spec, stem):04d}"


def _raise_hazard(
    conn: psycopg.Connection,
    source: LayerSpec,
    asset: Mapping[str, Any],
    target: LayerSpec,
    given: Mapping[str, Any],
    *,
    inspection_id: UUID,
    day: dt.date,
    inspector: str,
    notes: str | None,
    actor: str,
    via: str,
) -> dict[str, Any]:
    """Create the hazard at the asset's location, in the target's first workflow step."""
    rule = target.raised_by_inspection
    assert rule is not None
    unknown = set(given) - set(rule.fields)
    if unknown:
        raise InvalidParameter("raise", "").with_message(
            "inspection_raise_fields",
            layer=target.name,
            layer_zh=target.zh,
            fields=", ".join(rule.fields),
            fields_zh="、".join(target.attr_zh(n) for n in rule.fields),
            unknown=", ".join(sorted(unknown)),
        )
    props: dict[str, Any] = dict(rule.defaults)
    props |= {n: asset[n] for n in rule.copy if asset.get(n) not in (None, "")}
    props |= {k: v for k, v in given.items() if v not in (None, "")}
    first = target.workflow.steps[0] if target.workflow else None
    props["status"] = first.code if first else target.statuses[0].code
    if first and first.date_field:
        props[first.date_field] = day
    if first and first.by_field:
        props[first.by_field] = inspector
    props["code"] = _new_code(conn, target, day)
    if notes:
        props["notes"] = notes
    geom = shape(asset["geom"])
    if geom.geom_type not in target.geometry_types:
        geom = geom.representative_point()
    return create_asset(
        conn,
        target,
        props=props,
        geom=geom,
        actor=actor,
        via=via,
        comment=f"巡查发现隐患 raised by inspection {inspection_id} of {source.name} {asset['code']}",
        extra={"raised_by_inspection": str(inspection_id), "inspected_layer": source.name},
    )


def add_inspection(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: UUID,
    *,
    inspected_at: dt.datetime,
    inspector: str,
    result: str,
    notes: str | None,
    photos: list[dict[str, Any]],
    actor: str,
    via: str = "api",
    changes: Mapping[str, Any] | None = None,
    raise_in: LayerSpec | None = None,
    raise_props: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an inspection (and its photos, already in the photo store: ``sha256``,
    ``file_name``, ``content_type``, ``size_bytes``) in the caller's transaction.

    ``changes`` (attributes the layer lets an inspection set) are written to the asset
    and ``raise_in`` creates a hazard there (``raise_props``: what the inspector gave);
    each is a store write whose history names this inspection, and the inspection
    keeps both (``changes``, ``raised``)."""
    _check(inspected_at, inspector, result, notes)
    exists = conn.execute(
        sql.SQL("SELECT 1 FROM {} WHERE id = %s AND deleted_at IS NULL").format(sql.Identifier(spec.name)),
        (asset_id,),
    ).fetchone()
    if exists is None:
        raise FeatureNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=str(asset_id)
        )
    changed = _changes(spec, changes)
    if raise_in is not None:
        if raise_in.raised_by_inspection is None or not raise_in.raised_by_inspection.accepts(spec.name):
            raise InvalidParameter("raise", "").with_message(
                "inspection_cannot_raise",
                source=spec.name,
                source_zh=spec.zh,
                layer=raise_in.name,
                layer_zh=raise_in.zh,
            )
        if result != "hazard":
            raise InvalidParameter("result", "").with_message("inspection_raise_needs_hazard")
    inspection_id = uuid.uuid4()
    inspector = inspector.strip()
    reason = f"巡查记录 inspection {inspection_id}"
    if changed:
        asset = get_asset(conn, spec, asset_id, lock=True)
        changed = {k: v for k, v in changed.items() if asset.get(k) != v}
    if changed:
        update_asset(
            conn, spec, asset_id, props=changed, expected_version=None, actor=actor, via=via, comment=reason
        )
    raised = None
    if raise_in is not None:
        raised = _raise_hazard(
            conn,
            spec,
            get_asset(conn, spec, asset_id),
            raise_in,
            dict(raise_props or {}),
            inspection_id=inspection_id,
            day=inspected_at.astimezone(CHINA).date(),
            inspector=inspector,
            notes=notes,
            actor=actor,
            via=via,
        )
    set_actor(conn, actor, via=via, comment="巡查记录 inspection")
    conn.execute(
        "INSERT INTO inspections (id, asset_id, layer, inspected_at, inspector, result, notes, changes, "
        "raised_layer, raised_asset_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            inspection_id,
            asset_id,
            spec.name,
            inspected_at,
            inspector,
            result,
            notes or None,
            Jsonb(changed) if changed else None,
            raise_in.name if raised else None,
            raised["id"] if raised else None,
        ),
    )
    for photo in photos:
        conn.execute(
            "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (asset_id, sha256) DO NOTHING",
            (
                asset_id,
                spec.name,
                photo["sha256"],
                photo["file_name"],
                photo["content_type"],
                photo["size_bytes"],
            ),
        )
        conn.execute(
            "INSERT INTO inspection_photos (inspection_id, sha256) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (inspection_id, photo["sha256"]),
        )
    return next(i for i in list_inspections(conn, spec, asset_id) if i["id"] == str(inspection_id))


def _attr_doc(spec: LayerSpec, name: str) -> dict[str, Any]:
    a = spec.attr(name)
    return {
        "name": a.name,
        "zh": a.zh,
        "en": a.en,
        "type": str(a.type),
        "required": a.required,
        "choices": [{"code": c.code, "zh": c.zh, "en": c.en} for c in a.choices],
    }


def outcomes(catalog: Any, spec: LayerSpec) -> dict[str, Any]:
    """What an inspection of this layer may do besides being recorded, as the layers
    declare it (the inspection form is generated from it): attributes it may set and
    the layers it may raise a hazard in, with the fields the inspector gives."""
    return {
        "sets": [_attr_doc(spec, n) for n in spec.inspection_sets],
        "raises": [
            {
                "layer": t.name,
                "zh": t.zh,
                "en": t.en,
                "fields": [_attr_doc(t, n) for n in t.raised_by_inspection.fields],  # type: ignore[union-attr]
                "copied": list(t.raised_by_inspection.copy),  # type: ignore[union-attr]
            }
            for t in raise_targets(catalog, spec.name)
        ],
    }


def list_inspections(conn: psycopg.Connection, spec: LayerSpec, asset_id: UUID) -> list[dict[str, Any]]:
    """The asset's inspections, newest first, with their photos' digests."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT i.id, i.inspected_at, i.inspector, i.result, i.notes, i.created_at, i.created_by,
                   i.changes, i.raised_layer, i.raised_asset_id,
                   COALESCE(array_agg(p.sha256 ORDER BY p.sha256) FILTER (WHERE p.sha256 IS NOT NULL),
                            '{}') AS photos
            FROM inspections i LEFT JOIN inspection_photos p ON p.inspection_id = i.id
            WHERE i.asset_id = %s AND i.layer = %s
            GROUP BY i.id ORDER BY i.inspected_at DESC, i.created_at DESC
            """,
            (asset_id, spec.name),
        ).fetchall()
    labels = {c.code: c for c in RESULTS}
    return [
        {
            "id": str(r["id"]),
            "inspected_at": r["inspected_at"].isoformat(),
            "inspector": r["inspector"],
            "result": r["result"],
            "result_zh": labels[r["result"]].zh,
            "result_en": labels[r["result"]].en,
            "notes": r["notes"],
            "created_at": r["created_at"].isoformat(),
            "created_by": r["created_by"],
            "photos": [{"sha256": s, "url": f"/api/photos/{s}"} for s in r["photos"]],
            "changes": r["changes"] or {},
            "raised": (
                {"layer": r["raised_layer"], "id": str(r["raised_asset_id"])}
                if r["raised_asset_id"]
                else None
            ),
        }
        for r in rows
    ]
