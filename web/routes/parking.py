"""Planners' pre-flight check of a parking polygon: validity (with the spot of a
self-intersection), overlaps with existing bays and lots (drawn by the map), area and
an estimated capacity. The same overlap rule is enforced on write by the database
trigger ``parking_no_overlap`` (sql/0040), so the check only previews it."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from shapely import is_valid_reason
from shapely.geometry import shape

from registry.crs import check_inside, resolve
from registry.messages import render
from registry.permissions import Action
from web.auth import require
from web.deps import ConnDep
from web.errors import request_lang

router = APIRouter(tags=["parking"])

# A marked car bay is 2.5 m × 5.3 m ≈ 13 m²; with aisles and margins a planner's rule of
# thumb is about 15 m² of zone per bay.
M2_PER_BAY = 15.0

_LOCATION = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


class ParkingCheck(BaseModel):
    """A drawn polygon (WGS84/CGCS2000 lon/lat) and, when editing, the zone's own id."""

    geometry: dict[str, Any]
    exclude_id: UUID | None = None
    status: str | None = Field(default=None, description="the status the planner intends to save")


@router.post(
    "/api/parking/check",
    summary="Check a parking polygon: validity, overlaps, area, capacity",
    # a preview of what a write would meet: it reads the parking layer, so READ on it
    dependencies=[Depends(require(Action.READ, "parking"))],
)
def check_parking(body: ParkingCheck, conn: ConnDep, request: Request) -> dict[str, Any]:
    """Problems are listed with a location where one exists, so the map can mark it; each
    has a stable ``code``, its message's ``msg`` + ``params`` and the ``message`` in the
    reader's language (?lang=, else Accept-Language)."""
    lang = request_lang(request)

    def said(code: str, msg: str, **params: Any) -> dict[str, Any]:
        return {"code": code, "msg": msg, "params": params, "message": render(msg, params, lang)}

    problems: list[dict[str, Any]] = []
    try:
        geom = shape(body.geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        return {"ok": False, "problems": [said("bad_geometry", "parking_unreadable", reason=str(exc))]}
    if geom.geom_type != "Polygon":
        return {"ok": False, "problems": [said("not_polygon", "parking_not_polygon", got=geom.geom_type)]}
    if not geom.is_empty:
        # lon/lat in range (±1e308 would reach PostGIS's geography and fail there)
        check_inside(resolve(None, "geometry"), geom.bounds, "geometry")
    reason = is_valid_reason(geom)
    if reason != "Valid Geometry":
        found = _LOCATION.search(reason)
        where = [float(found.group(1)), float(found.group(2))] if found else None
        if "Self-intersection" in reason and where:
            problem = said("self_intersection", "parking_self_intersection", x=where[0], y=where[1])
        else:
            problem = said("invalid_geometry", "parking_invalid", reason=reason)
        problems.append(problem | {"location": where})
        return {"ok": False, "problems": problems, "overlaps": _empty()}
    gj = json.dumps(body.geometry)
    area = conn.execute(
        "SELECT ST_Area(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)::geography)", (gj,)
    ).fetchone()[0]
    rows = conn.execute(
        """
        SELECT id, code, status, kind, ST_AsGeoJSON(overlap, 7)::json, overlap_m2
        FROM parking_overlaps(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490), %s)
        """,
        (gj, body.exclude_id),
    ).fetchall()
    overlaps = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": str(r[0]),
                "properties": {"code": r[1], "status": r[2], "kind": r[3], "overlap_m2": round(r[5], 2)},
                "geometry": r[4],
            }
            for r in rows
        ],
    }
    if rows:
        others = ", ".join(f"{r[1]} ({r[5]:.1f} m²)" for r in rows)
        problems.append(said("overlap", "parking_overlaps", others=others) | {"allowed_as_planned": True})
    blocking = [p for p in problems if not (p.get("allowed_as_planned") and body.status == "planned")]
    return {
        "ok": not blocking,
        "area_m2": round(area, 2),
        "capacity_estimate": int(area // M2_PER_BAY),
        "problems": problems,
        "overlaps": overlaps,
    }


def _empty() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": []}
