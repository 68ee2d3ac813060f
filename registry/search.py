"""Location search across layers: radius, k nearest, bbox, drawn polygon, district,
attribute filters and a text query, paged with a total.

The query is one ``UNION ALL`` over the selected layers' tables — what PostgreSQL
does for ``SELECT … FROM assets`` (the parent) anyway — written out so each branch
can also filter on that layer's own columns (kind, risk grade, name, road name…).
A layer that lacks a filtered attribute simply has no match. Branches are generated
from the catalogue; values are bound; spatial tests use the GiST index (``&&`` on a
degree box, then the exact metric test on the spheroid).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import psycopg.rows
import shapely
import shapely.geometry
from psycopg import sql
from shapely.geometry.base import BaseGeometry

from registry import clock
from registry.campaigns import flag_condition, measure_condition, year_bounds
from registry.catalog import LayerCatalog
from registry.coords import bd09_to_wgs84, gcj02_to_wgs84
from registry.errors import InvalidParameter
from registry.features import properties_json
from registry.spec import AttrType, LayerSpec
from registry.sqlparams import Params
from registry.workflow_store import deadline_pairs, deadline_sql, overdue_sql

COORD_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
MAX_LIMIT = 1000
MAX_RADIUS_M = 50_000


@dataclass
class SearchQuery:
    """A validated search; coordinates already in WGS84/CGCS2000 lon/lat."""

    layers: list[str] = field(default_factory=list)
    point: tuple[float, float] | None = None
    radius_m: float | None = None
    nearest: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    polygon: BaseGeometry | None = None
    district: str | None = None
    enums: dict[str, list[str]] = field(default_factory=dict)
    owner: str | None = None
    text: str | None = None
    updated_from: dt.datetime | None = None
    updated_to: dt.datetime | None = None
    date_field: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    # declared by the layers (LayerSpec.flags / .measures): flagged assets, and the
    # assets counted for a campaign measure in a year
    flags: list[str] = field(default_factory=list)
    measure: str | None = None
    year: int | None = None
    inspected_since: dt.datetime | None = None
    today: dt.date | None = None
    # past a workflow deadline (True) or not (False), from the layers' declared workflows
    overdue: bool | None = None
    # the workflow deadline (computed from the records, as overdue is) within a range
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    limit: int = 50
    offset: int = 0


def to_wgs84(lon: float, lat: float, coord_sys: str) -> tuple[float, float]:
    """Undo a Chinese map offset (GCJ-02, BD-09); WGS84 and CGCS2000 pass through."""
    convert = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}.get(coord_sys)
    if convert is None:
        return lon, lat
    x, y = convert(lon, lat)
    return float(x), float(y)


def check_coord_sys(value: str | None) -> str:
    """The coordinate system name, or a 400 listing the allowed ones."""
    name = (value or "wgs84").strip().lower()
    if name not in COORD_SYSTEMS:
        raise InvalidParameter("coord_sys", "").with_message(
            "coord_sys_choice", choices=", ".join(COORD_SYSTEMS), value=repr(value)
        )
    return name


def check_lonlat(lon: float, lat: float, parameter: str) -> None:
    """Longitude/latitude in range (a swapped pair near Jiaozuo fails the latitude test)."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidParameter(parameter, "").with_message("lonlat_pair", lon=lon, lat=lat)


# A drawn search area needs dozens of vertices; a million held the service for 31 s.
MAX_SEARCH_VERTICES = 10_000


def polygon_from_geojson(geometry: Any, coord_sys: str) -> BaseGeometry:
    """A drawn shape (GeoJSON Polygon/MultiPolygon) in WGS84, valid."""
    try:
        shape = shapely.geometry.shape(geometry)
    except Exception:
        raise InvalidParameter("geometry", "").with_message("search_area_not_polygon", got="?") from None
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        raise InvalidParameter("geometry", "").with_message("search_area_not_polygon", got=shape.geom_type)
    if (n := shapely.get_num_coordinates(shape)) > MAX_SEARCH_VERTICES:
        raise InvalidParameter("geometry", "").with_message(
            "search_area_vertices", n=n, max=MAX_SEARCH_VERTICES
        )
    if coord_sys in ("gcj02", "bd09"):
        shape = shapely.transform(
            shape,
            lambda xy: np.array([to_wgs84(x, y, coord_sys) for x, y in xy]),
        )
    minx, miny, maxx, maxy = shape.bounds
    check_lonlat(minx, miny, "geometry")
    check_lonlat(maxx, maxy, "geometry")
    if not shape.is_valid:
        raise InvalidParameter("geometry", "").with_message(
            "search_area_invalid", reason=shapely.is_valid_reason(shape)
        )
    return shape


def _campaign_filters(
    conn: psycopg.Connection, spec: LayerSpec, q: SearchQuery, p: Params
) -> list[sql.Composable] | None:
    """Conditions of the flags, measure and inspection filters, or None when the layer
    declares no such flag or measure (it then has no match)."""
    where: list[sql.Composable] = []
    declared = {f.name: f for f in spec.flags}
    for name in q.flags:
        if name not in declared:
            return None
        where.append(flag_condition(declared[name], p, spec, q.today))
    if q.measure:
        m = next((x for x in spec.measures if x.name == q.measure), None)
        if m is None:
            return None
        start, end = year_bounds(p, q.year or (q.today or dt.date.today()).year)
        where.append(measure_condition(conn, spec, m, p, start=start, end=end))
    if q.inspected_since:
        where.append(
            sql.SQL(
                "EXISTS (SELECT 1 FROM inspections i WHERE i.asset_id = t.id AND i.inspected_at >= {})"
            ).format(p.add(q.inspected_since))
        )
    if q.overdue is not None:
        late = overdue_sql(spec, p.add(q.today or clock.today()))
        where.append(late if q.overdue else sql.SQL("NOT ({})").format(late))
    if q.deadline_from or q.deadline_to:
        deadline = deadline_sql(spec)
        if deadline is None:
            return None  # no deadline runs in this layer
        if q.deadline_from:
            where.append(sql.SQL("({}) >= {}").format(deadline, p.add(q.deadline_from)))
        if q.deadline_to:
            where.append(sql.SQL("({}) <= {}").format(deadline, p.add(q.deadline_to)))
    return where


def _branch(
    conn: psycopg.Connection, spec: LayerSpec, q: SearchQuery, p: Params, point: sql.Composable | None
) -> sql.Composable | None:
    """The SELECT for one layer, or None when a filter cannot match this layer."""
    names = {a.name: a for a in spec.all_attrs}
    where: list[sql.Composable] = [sql.SQL("t.deleted_at IS NULL")]
    campaign = _campaign_filters(conn, spec, q, p)
    if campaign is None:
        return None
    where += campaign
    for attr, wanted in q.enums.items():
        if attr not in names:
            return None
        where.append(sql.SQL("t.{} = ANY({})").format(sql.Identifier(attr), p.add(wanted)))
    if q.district:
        where.append(sql.SQL("t.district_code = {}").format(p.add(q.district)))
    if q.owner:
        cols = list(spec.owner_search_attrs)
        pattern = p.add(f"%{_escape_like(q.owner)}%")
        where.append(
            sql.SQL("({})").format(
                sql.SQL(" OR ").join(
                    sql.SQL("t.{} ILIKE {}").format(sql.Identifier(c), pattern) for c in cols
                )
            )
        )
    if q.text:
        cols = list(spec.text_search_attrs)
        pattern = p.add(f"%{_escape_like(q.text)}%")
        where.append(
            sql.SQL("({})").format(
                sql.SQL(" OR ").join(
                    sql.SQL("t.{} ILIKE {}").format(sql.Identifier(c), pattern) for c in cols
                )
            )
        )
    if q.updated_from:
        where.append(sql.SQL("t.updated_at >= {}").format(p.add(q.updated_from)))
    if q.updated_to:
        where.append(sql.SQL("t.updated_at < {}").format(p.add(q.updated_to)))
    if q.date_field:
        attr = names.get(q.date_field)
        if attr is None or attr.type is not AttrType.DATE:
            return None
        if q.date_from:
            where.append(sql.SQL("t.{} >= {}").format(sql.Identifier(q.date_field), p.add(q.date_from)))
        if q.date_to:
            where.append(sql.SQL("t.{} <= {}").format(sql.Identifier(q.date_field), p.add(q.date_to)))
    if point is not None and q.radius_m is not None:
        r = p.add(float(q.radius_m))
        where.append(
            sql.SQL(
                "t.geom && registry_dwithin_box({pt}, {r}) AND ST_DWithin(t.geom::geography, "
                "{pt}::geography, {r})"
            ).format(pt=point, r=r)
        )
    if q.bbox is not None:
        where.append(
            sql.SQL("ST_Intersects(t.geom, ST_MakeEnvelope({}, {}, {}, {}, 4490))").format(
                *(p.add(v) for v in q.bbox)
            )
        )
    if q.polygon is not None:
        where.append(sql.SQL("ST_Intersects(t.geom, ST_GeomFromWKB({}, 4490))").format(p.add(q.polygon.wkb)))
    return sql.SQL(
        "SELECT t.id, t.layer, t.code, t.status, t.district_code, t.responsible_unit, t.updated_at, "
        "t.version, t.geom, {props} AS props FROM {table} t WHERE {where}"
    ).format(
        # the hit's properties, with its workflow deadline and overdue flag when it has any
        props=properties_json(spec, None, deadline_pairs(spec, q.today or clock.today())),
        table=sql.Identifier(spec.name),
        where=sql.SQL(" AND ").join(where),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class SearchResult:
    """One page of hits and the total number of matches."""

    total: int
    rows: list[dict[str, Any]]


def search(conn: psycopg.Connection, catalog: LayerCatalog, q: SearchQuery) -> SearchResult:
    """Run the search; hits carry GeoJSON geometry (lon/lat) and ``distance_m`` with a point."""
    specs = [catalog.get(n) for n in q.layers] if q.layers else list(catalog)
    p = Params()
    point = None
    if q.point is not None:
        point = sql.SQL("ST_SetSRID(ST_MakePoint({}, {}), 4490)").format(p.add(q.point[0]), p.add(q.point[1]))
    branches = [b for b in (_branch(conn, s, q, p, point) for s in specs) if b is not None]
    if not branches:
        return SearchResult(0, [])
    union = sql.SQL(" UNION ALL ").join(branches)
    distance = (
        sql.SQL("ST_Distance(u.geom::geography, {}::geography)").format(point)
        if point is not None
        else sql.SQL("NULL")
    )
    if q.nearest is not None and point is not None:
        # KNN: the index-assisted `<->` order finds the k nearest without sorting everything.
        statement = sql.SQL(
            "SELECT *, count(*) OVER () AS total FROM (SELECT u.id, u.layer, u.code, u.status, "
            "u.district_code, u.responsible_unit, u.updated_at, u.version, "
            "ST_AsGeoJSON(u.geom, 8) AS geometry, u.props, "
            "{dist} AS distance_m FROM ({union}) u ORDER BY u.geom <-> {pt} LIMIT {k}) n "
            "ORDER BY distance_m, code OFFSET {off} LIMIT {lim}"
        ).format(
            dist=distance, union=union, pt=point, k=p.add(q.nearest), off=p.add(q.offset), lim=p.add(q.limit)
        )
    else:
        order = sql.SQL("distance_m, u.code") if point is not None else sql.SQL("u.layer, u.code")
        statement = sql.SQL(
            "SELECT u.id, u.layer, u.code, u.status, u.district_code, u.responsible_unit, u.updated_at, "
            "u.version, ST_AsGeoJSON(u.geom, 8) AS geometry, u.props, {dist} AS distance_m, "
            "count(*) OVER () AS total "
            "FROM ({union}) u ORDER BY {order} OFFSET {off} LIMIT {lim}"
        ).format(dist=distance, union=union, order=order, off=p.add(q.offset), lim=p.add(q.limit))
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(statement, p.values).fetchall()
    total = rows[0]["total"] if rows else _count_past_end(conn, statement, p, q)
    for row in rows:
        row.pop("total", None)
        row["geometry"] = json.loads(row["geometry"])
    return SearchResult(total, rows)


def _count_past_end(conn: psycopg.Connection, statement: sql.Composable, p: Params, q: SearchQuery) -> int:
    """Total when the requested page is past the end (the window count saw no row)."""
    if q.offset == 0:
        return 0
    values = dict(p.values)
    # Re-run page one with one row just to read the window count.
    keys = list(values)
    values[keys[-2]], values[keys[-1]] = 0, 1
    with conn.cursor() as cur:
        row = cur.execute(statement, values).fetchone()
    return row[-1] if row else 0
