"""``/api/search``: the map's location search (GET with a point/bbox, POST with a drawn polygon).

Output is a GeoJSON FeatureCollection (default) or CSV (``f=csv``), paged with the
total number of matches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from registry.errors import InvalidParameter
from registry.features import parse_bbox
from registry.messages import nested
from registry.permissions import Action
from registry.properties import parse_instant
from registry.search import (
    COORD_SYSTEMS,
    MAX_LIMIT,
    MAX_RADIUS_M,
    SearchQuery,
    SearchResult,
    check_coord_sys,
    check_lonlat,
    polygon_from_geojson,
    search,
    to_wgs84,
)
from web.auth import require
from web.deps import CatalogDep, ConnDep, ReadConnDep

# Reading needs an account (or REGISTRY_PUBLIC_READ=true); GIS clients send an API token.
router = APIRouter(prefix="/api", tags=["search 位置查询"], dependencies=[Depends(require(Action.READ))])

CSV_COLUMNS = (
    "id",
    "layer",
    "code",
    "status",
    "district_code",
    "responsible_unit",
    "lon",
    "lat",
    "distance_m",
    "updated_at",
    "version",
    "properties",
)


def _number(params: dict[str, Any], name: str) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad(name, "not_number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _bad(name, "not_finite")
    return value


def _bad(name: str, code: str, **params: Any) -> InvalidParameter:
    """The 400 for parameter ``name``: "参数 … 无效：<message ``code``>" in the reader's language."""
    return InvalidParameter(name, "").with_message(
        "parameter_invalid", parameter=name, reason=nested(code, params)
    )


def _int(params: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int | None:
    value = _number(params, name)
    if value is None:
        return default
    if value != int(value) or not low <= value <= high:
        raise _bad(name, "integer_range", min=low, max=high)
    return int(value)


def _list(params: dict[str, Any], name: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def _date(params: dict[str, Any], name: str) -> dt.date | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise _bad(name, "not_date", example="2025-03-31") from None


def _instant(params: dict[str, Any], name: str) -> dt.datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return parse_instant(raw)
    except ValueError:
        raise _bad(name, "not_timestamp") from None


# Free-text search matches codes, names and addresses: longer text finds nothing more,
# and a 30 KB q took seconds per request.
MAX_TEXT_QUERY = 100


def build_query(params: dict[str, Any], catalog: Any, polygon: Any = None) -> SearchQuery:
    """Validate the search parameters (query string, or POST body merged over it)."""
    coord_sys = check_coord_sys(params.get("coord_sys"))
    q = SearchQuery()
    q.layers = _list(params, "layers")
    for name in q.layers:
        catalog.get(name)
    lon, lat = _number(params, "lon"), _number(params, "lat")
    if (lon is None) != (lat is None):
        raise _bad("lon" if lon is None else "lat", "lonlat_together")
    if lon is not None and lat is not None:
        check_lonlat(lon, lat, "lon/lat")
        q.point = to_wgs84(lon, lat, coord_sys)
    q.radius_m = _number(params, "radius")
    if q.radius_m is not None:
        if q.point is None:
            raise _bad("radius", "needs_lonlat")
        if not 0 < q.radius_m <= MAX_RADIUS_M:
            raise _bad("radius", "radius_range", max=MAX_RADIUS_M)
    q.nearest = _int(params, "nearest", None, 1, MAX_LIMIT)
    if q.nearest is not None and q.point is None:
        raise _bad("nearest", "needs_lonlat")
    if params.get("bbox"):
        from registry.crs import resolve

        x0, y0, x1, y1 = parse_bbox(str(params["bbox"]), resolve(None, "bbox"))
        (x0, y0), (x1, y1) = to_wgs84(x0, y0, coord_sys), to_wgs84(x1, y1, coord_sys)
        q.bbox = (x0, y0, x1, y1)
    if polygon is not None:
        q.polygon = polygon_from_geojson(polygon, coord_sys)
    q.district = params.get("district") or None
    for name in catalog.filter_attrs():
        values = _list(params, name)
        if values:
            q.enums[name] = values
    q.owner = params.get("owner") or params.get("responsible_unit") or None
    q.text = (params.get("q") or "").strip() or None
    if q.text and len(q.text) > MAX_TEXT_QUERY:
        raise InvalidParameter("q", "").with_message("search_text_too_long", max=MAX_TEXT_QUERY)
    q.updated_from = _instant(params, "updated_from")
    q.updated_to = _instant(params, "updated_to")
    q.date_field = params.get("date_field") or None
    q.date_from, q.date_to = _date(params, "date_from"), _date(params, "date_to")
    if q.date_field and not any(
        a.name == q.date_field and a.type.value == "date" for spec in catalog for a in spec.all_attrs
    ):
        raise InvalidParameter("date_field", "").with_message("date_field_unknown", name=repr(q.date_field))
    _campaign_params(params, catalog, q)
    q.limit = _int(params, "limit", 50, 1, MAX_LIMIT) or 50
    q.offset = _int(params, "offset", 0, 0, 2**31 - 1) or 0
    return q


def _campaign_params(params: dict[str, Any], catalog: Any, q: SearchQuery) -> None:
    """The filters the layers declare: ``<flag>=true`` (e.g. ``water_failing``,
    ``test_overdue``, ``deadline_overdue``), ``measure`` + ``year`` (the assets a campaign
    figure counts), and ``inspected_since`` (an inspection at or after that time)."""
    for name in dict.fromkeys(f.name for spec in catalog for f in spec.flags):
        raw = str(params.get(name) or "").strip().lower()
        if raw in ("true", "1", "yes"):
            q.flags.append(name)
        elif raw not in ("", "false", "0", "no"):
            raise _bad(name, "not_true_false")
    q.measure = params.get("measure") or None
    if q.measure and not any(m.name == q.measure for spec in catalog for m in spec.measures):
        raise InvalidParameter("measure", "").with_message("measure_unknown_any", name=repr(q.measure))
    q.year = _int(params, "year", None, 2000, 2100)
    q.inspected_since = _instant(params, "inspected_since")
    raw = str(params.get("overdue") or "").strip().lower()
    if raw:
        if raw not in ("true", "1", "yes", "false", "0", "no"):
            raise _bad("overdue", "not_true_false")
        # past a deadline of the layers' declared workflows (registry.workflow)
        q.overdue = raw in ("true", "1", "yes")
    # the workflow deadline within a range (inclusive): what falls due this week
    q.deadline_from, q.deadline_to = _date(params, "deadline_from"), _date(params, "deadline_to")


def _respond(result: SearchResult, q: SearchQuery, fmt: str | None) -> Response:
    fmt = (fmt or "geojson").lower()
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        for row in result.rows:
            geom = row["geometry"]
            lon, lat = geom["coordinates"][:2] if geom["type"] == "Point" else (None, None)
            writer.writerow(
                [
                    row["id"],
                    row["layer"],
                    row["code"],
                    row["status"],
                    row["district_code"],
                    row["responsible_unit"],
                    lon,
                    lat,
                    None if row["distance_m"] is None else round(row["distance_m"], 2),
                    row["updated_at"].isoformat(),
                    row["version"],
                    json.dumps(row["props"], ensure_ascii=False, default=str),
                ]
            )
        # BOM so Excel (common in the bureau) opens the Chinese text correctly
        return Response(
            "\ufeff" + buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="search.csv"',
                "X-Total-Count": str(result.total),
            },
        )
    if fmt not in ("geojson", "json"):
        raise InvalidParameter("f", "").with_message("format_geojson_csv", value=repr(fmt))
    features = []
    for row in result.rows:
        props = {**row["props"], "layer": row["layer"], "distance_m": row["distance_m"]}
        features.append(
            {"type": "Feature", "id": str(row["id"]), "geometry": row["geometry"], "properties": props}
        )
    body = {
        "type": "FeatureCollection",
        "numberMatched": result.total,
        "numberReturned": len(features),
        "limit": q.limit,
        "offset": q.offset,
        "features": features,
    }
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type="application/geo+json")


def _described(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_TEXT: dict[str, Any] = {"type": "string"}
_NUMBER: dict[str, Any] = {"type": "number"}
_INSTANT: dict[str, Any] = {"type": "string", "format": "date-time"}
_DAY: dict[str, Any] = {"type": "string", "format": "date"}
# The parameters GET /api/search reads (it parses them itself, so FastAPI cannot list
# them): OpenAPI clients and the API fuzzer see them. The layers' own value filters
# (kind, risk_grade…) are taken as well.
SEARCH_PARAMETERS = [
    _described("lon", "经度 longitude (with lat)", _NUMBER),
    _described("lat", "纬度 latitude (with lon)", _NUMBER),
    _described("radius", f"半径（米）radius in metres, at most {MAX_RADIUS_M}", _NUMBER),
    _described("nearest", "最近的 k 个 k nearest", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    _described("bbox", "范围 minlon,minlat,maxlon,maxlat", _TEXT),
    _described("coord_sys", "坐标系 of lon/lat, bbox", {"type": "string", "enum": list(COORD_SYSTEMS)}),
    _described("layers", "图层 layers, comma-separated", _TEXT),
    _described("district", "区县代码 district code (GB/T 2260)", _TEXT),
    _described("status", "状态 status, comma-separated", _TEXT),
    _described("owner", "权属/责任单位 owner or responsible unit", _TEXT),
    _described("q", f"编号、名称、道路 code, name, road (at most {MAX_TEXT_QUERY} characters)", _TEXT),
    _described("updated_from", "更新时间起 updated from (RFC 3339)", _INSTANT),
    _described("updated_to", "更新时间止 updated to (RFC 3339)", _INSTANT),
    _described("date_field", "日期属性 a date attribute, e.g. detected_on", _TEXT),
    _described("date_from", "日期起 from (YYYY-MM-DD)", _DAY),
    _described("date_to", "日期止 to (YYYY-MM-DD)", _DAY),
    _described("overdue", "逾期 past a workflow deadline (true/false)", _TEXT),
    _described("deadline_from", "期限起 workflow deadline from (YYYY-MM-DD)", _DAY),
    _described("deadline_to", "期限止 workflow deadline to (YYYY-MM-DD)", _DAY),
    _described("inspected_since", "巡查于此后 inspected since (RFC 3339 or YYYY-MM-DD)", _INSTANT),
    _described("limit", "每页 per page", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    _described("offset", "跳过 skip", {"type": "integer", "minimum": 0}),
    _described("f", "格式 format", {"type": "string", "enum": ["geojson", "csv"]}),
]
_SEARCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["geometry"],
                "properties": {
                    "geometry": {"type": "object", "description": "GeoJSON Polygon or MultiPolygon"},
                    **{p["name"]: p["schema"] for p in SEARCH_PARAMETERS},
                },
            }
        }
    },
}


def _body_params(body: dict[str, Any]) -> dict[str, str]:
    """A POST body's filters as a query string carries them: text, a list comma-joined;
    an object (or a list of them) where a value is expected is a 400 naming it."""
    out: dict[str, str] = {}
    for key, value in body.items():
        if key == "geometry" or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int | float) for v in items):
            raise InvalidParameter(key, "").with_message("search_value_type", key=key)
        out[key] = ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in items)
    return out


@router.get(
    "/search",
    summary="Search assets by location and attributes 位置查询",
    openapi_extra={"parameters": SEARCH_PARAMETERS},
)
def search_get(request: Request, conn: ReadConnDep, catalog: CatalogDep) -> Response:
    """Radius (``lon``, ``lat``, ``radius`` m), ``nearest=k``, ``bbox``, ``district``, ``layers``,
    value filters declared by the layers (``status``, ``kind``, ``risk_grade``…), ``owner``, ``q`` text,
    ``updated_from``/``updated_to``, ``date_field`` + ``date_from``/``date_to``,
    the layers' flags (``water_failing=true``, ``test_overdue=true``, ``deadline_overdue=true``),
    ``measure`` + ``year`` (what a campaign figure counts), ``inspected_since``,
    ``overdue`` and ``deadline_from``/``deadline_to`` (the workflow deadline),
    ``coord_sys`` (wgs84, cgcs2000, gcj02, bd09), ``limit``/``offset``, ``f`` (geojson, csv)."""
    params: dict[str, Any] = dict(request.query_params)
    for name in ("layers", *catalog.filter_attrs()):
        many = request.query_params.getlist(name)
        if len(many) > 1:
            params[name] = ",".join(many)
    q = build_query(params, catalog)
    return _respond(search(conn, catalog, q), q, params.get("f"))


@router.post(
    "/search",
    summary="Search assets inside a drawn polygon 多边形查询",
    openapi_extra={"requestBody": _SEARCH_BODY},
)
def search_post(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    body: dict[str, Any] = Body(...),  # noqa: B008
) -> Response:
    """Body: ``{"geometry": <GeoJSON Polygon>, ...same filters as GET}``; query parameters also apply."""
    geometry = body.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if geometry is None:
        raise InvalidParameter("geometry", "").with_message("search_post_needs_polygon")
    params = {**dict(request.query_params), **_body_params(body)}
    q = build_query(params, catalog, polygon=geometry)
    return _respond(search(conn, catalog, q), q, params.get("f"))
