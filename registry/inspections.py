"""Inspections (巡查记录): child records of any asset — when, who, the result (normal,
problem found, hazard raised), notes and photos. Stored in ``inspections`` (sql/0071),
whose trigger records each one in the asset's history."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from registry.context import set_actor
from registry.errors import FeatureNotFound, InvalidParameter
from registry.spec import Choice, LayerSpec

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
        allowed = ", ".join(f"{c.code} ({c.zh})" for c in RESULTS)
        raise InvalidParameter("result", f"巡查结果应为 / result must be one of: {allowed}")
    if not inspector.strip():
        raise InvalidParameter("inspector", "巡查人不能为空 / the inspector is required")
    if inspected_at.tzinfo is None:
        raise InvalidParameter("inspected_at", "巡查时间需带时区 / inspected_at needs a time zone")
    if inspected_at > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
        raise InvalidParameter("inspected_at", "巡查时间不能在将来 / inspected_at is in the future")
    if notes and len(notes) > MAX_NOTES:
        raise InvalidParameter("notes", f"备注至多 {MAX_NOTES} 字 / notes: at most {MAX_NOTES} characters")


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
) -> dict[str, Any]:
    """Record an inspection (and its photos, already in the photo store: ``sha256``,
    ``file_name``, ``content_type``, ``size_bytes``) in the caller's transaction."""
    _check(inspected_at, inspector, result, notes)
    exists = conn.execute(
        sql.SQL("SELECT 1 FROM {} WHERE id = %s AND deleted_at IS NULL").format(sql.Identifier(spec.name)),
        (asset_id,),
    ).fetchone()
    if exists is None:
        raise FeatureNotFound(f"no {spec.name} asset {asset_id}")
    set_actor(conn, actor, via=via, comment="巡查记录 inspection")
    (inspection_id,) = conn.execute(
        "INSERT INTO inspections (asset_id, layer, inspected_at, inspector, result, notes) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (asset_id, spec.name, inspected_at, inspector.strip(), result, notes or None),
    ).fetchone()
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


def list_inspections(conn: psycopg.Connection, spec: LayerSpec, asset_id: UUID) -> list[dict[str, Any]]:
    """The asset's inspections, newest first, with their photos' digests."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT i.id, i.inspected_at, i.inspector, i.result, i.notes, i.created_at, i.created_by,
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
        }
        for r in rows
    ]
