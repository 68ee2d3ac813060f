"""Read features of one layer as GeoJSON text built by PostGIS (OGC API – Features).

The database does the geometry work (transform, axis swap, ``ST_AsGeoJSON``) and
renders each feature's JSON, so Python only joins strings. Property names come
from the layer's whitelist; every value is bound.

Fast paths (issue 13, measured on 1M manholes): the feature expression — a few hundred
composed SQL pieces with the workflow deadline — is rendered once per layer, CRS,
property selection and day, not per request (composing it took about 1 ms of each
small-bbox request); the same text makes psycopg's prepared statements reusable. A page
asks for one row more than its limit to know whether a next page exists, and counts
matches only when it must, up to ``COUNT_CAP`` (an exact count over a large match
cost more than the page itself; OGC API Features allows omitting ``numberMatched``).
In the default order (by id) the next page is found by keyset (``after``): an index
range, not an OFFSET that reads and drops every earlier row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql

from registry import clock
from registry.crs import SAME_AS_STORAGE, STORAGE_SRID, ApiCrs, check_inside, from_storage, to_storage
from registry.errors import InvalidParameter, shown
from registry.properties import lookup, parse_instant, properties_of
from registry.spec import LayerSpec
from registry.sqlparams import Params
from registry.workflow_store import deadline_pairs, overdue_sql

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
# Matches are counted exactly up to this many; beyond, numberMatched is left out and
# the response says only that there are more (``numberMatchedAtLeast``).
COUNT_CAP = 10_000


@dataclass
class ItemQuery:
    """A parsed ``/items`` request (parameters already validated)."""

    crs: ApiCrs
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None  # x/y order, in bbox_crs
    bbox_crs: ApiCrs | None = None
    interval: tuple[dt.datetime | None, dt.datetime | None] | None = None
    equals: dict[str, Any] = field(default_factory=dict)
    condition: sql.Composable | None = None  # compiled CQL2, its values in params
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (name, descending)
    properties: list[str] | None = None
    params: Params = field(default_factory=Params)
    # past a deadline of the layer's workflow (True) or not (False); as of ``today``
    overdue: bool | None = None
    today: dt.date | None = None
    # keyset paging in the default order: only features whose id sorts after this one
    after: uuid.UUID | None = None


@dataclass(frozen=True)
class ItemPage:
    """One page of features (GeoJSON text each), the match count when known (else at
    least how many match), and whether a next page exists."""

    features: list[str]
    matched: int | None
    more: bool
    at_least: int | None = None


def parse_bbox(text: str, bbox_crs: ApiCrs) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or 6 numbers with heights) in the CRS's axis order → x/y order."""
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameter("bbox", "").with_message("bbox_numbers", value=shown(text)) from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        raise InvalidParameter("bbox", "").with_message("bbox_numbers", value=shown(text))
    a, b, c, d = numbers
    if a > c or b > d:
        raise InvalidParameter("bbox", "").with_message("bbox_min_max")
    if bbox_crs.swap_axes:
        a, b, c, d = b, a, d, c
    # out of range for a geographic CRS, or outside a projection's area (EPSG:4547)
    check_inside(bbox_crs, (a, b, c, d), "bbox")
    return a, b, c, d


def parse_datetime(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant, ``start/end``, ``../end`` or ``start/..`` (RFC 3339) → half-open bounds."""
    try:
        if "/" in text:
            start_text, end_text = text.split("/", 1)
            start = None if start_text in ("", "..") else parse_instant(start_text)
            end = None if end_text in ("", "..") else parse_instant(end_text)
            if start and end and start > end:
                raise InvalidParameter("datetime", "").with_message("datetime_interval_order")
            return start, end
        instant = parse_instant(text)
        if len(text.strip()) == 10:  # a bare date means that whole day
            return instant, instant + dt.timedelta(days=1)
        return instant, instant
    except ValueError:
        raise InvalidParameter("datetime", "").with_message("datetime_form", value=shown(text)) from None


def parse_sortby(spec: LayerSpec, text: str) -> list[tuple[str, bool]]:
    """``+code,-updated_at`` → [(name, descending)]; unknown names are a 400."""
    out = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        desc = item.startswith("-")
        name = item.lstrip("+- ")
        out.append((lookup(spec, name, "sortby").name, desc))
    return out


def parse_properties(spec: LayerSpec, text: str) -> list[str]:
    """The ``properties`` selection, each checked against the layer."""
    return [lookup(spec, p.strip(), "properties").name for p in text.split(",") if p.strip()]


def _where(spec: LayerSpec, q: ItemQuery) -> sql.Composable:
    clauses: list[sql.Composable] = [sql.SQL("t.deleted_at IS NULL")]
    p = q.params
    if q.bbox is not None:
        assert q.bbox_crs is not None
        env: sql.Composable = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, {})").format(
            *(p.add(v) for v in q.bbox), p.add(q.bbox_crs.srid)
        )
        # Compare in the storage CRS so the GiST index on geom is used.
        env = to_storage(env, q.bbox_crs.srid)
        if q.bbox_crs.srid == STORAGE_SRID or q.bbox_crs.srid in SAME_AS_STORAGE:
            # Still a rectangle in storage: a geometry whose box lies inside it surely
            # intersects it, which a box comparison says without ST_Intersects' exact
            # test (measured 7 us a row, most of a 5 km box's time). Points always do;
            # only shapes crossing the edge get the exact test.
            clauses.append(
                sql.SQL("t.geom && {env} AND ({env} ~ t.geom OR ST_Intersects(t.geom, {env}))").format(
                    env=env
                )
            )
        else:
            clauses.append(sql.SQL("ST_Intersects(t.geom, {})").format(env))
    if q.interval is not None:
        start, end = q.interval
        if start is not None and start == end:
            clauses.append(sql.SQL("t.updated_at = {}").format(p.add(start)))
        else:
            if start is not None:
                clauses.append(sql.SQL("t.updated_at >= {}").format(p.add(start)))
            if end is not None:
                clauses.append(sql.SQL("t.updated_at < {}").format(p.add(end)))
    props = properties_of(spec)
    for name, value in q.equals.items():
        clauses.append(sql.SQL("{} = {}").format(props[name].column, p.add(value)))
    if q.condition is not None:
        clauses.append(q.condition)
    if q.overdue is not None:
        late = overdue_sql(spec, p.add(q.today or clock.today()))
        clauses.append(late if q.overdue else sql.SQL("NOT ({})").format(late))
    return sql.SQL(" AND ").join(clauses)


def keyset_applies(q: ItemQuery) -> bool:
    """Whether pages can be found by id (the default order) rather than by offset."""
    return not q.sortby


def geometry_expr(crs: ApiCrs, column: str = "geom") -> sql.Composable:
    """The stored geometry in the output CRS and axis order."""
    expr: sql.Composable = from_storage(sql.SQL("t.{}").format(sql.Identifier(column)), crs.srid)
    if crs.swap_axes:
        expr = sql.SQL("ST_FlipCoordinates({})").format(expr)
    return expr


def properties_json(
    spec: LayerSpec, names: list[str] | None, extra: list[sql.Composable] | None = None
) -> sql.Composable:
    """The selected properties (and ``extra`` key/value pairs) as one JSON object.

    ``json_build_object``, not ``jsonb``: building and re-serialising a jsonb value cost
    about 3 us a row more (a tenth of a small-bbox request on 1M manholes, issue 13).
    The function takes at most 100 arguments; a layer with more properties than one call
    holds is built in jsonb chunks joined by ``||``.
    """
    props = properties_of(spec)
    selected = [props[n] for n in (names if names is not None else list(props))]
    pairs = [sql.SQL("{}, {}").format(sql.Literal(pr.name), pr.column) for pr in selected] + (extra or [])
    if not pairs:
        return sql.SQL("'{}'::json")
    if len(pairs) <= 50:
        return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(pairs))
    chunks = [
        sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + 40]))
        for i in range(0, len(pairs), 40)
    ]
    return sql.SQL(" || ").join(chunks)


def _feature_json(
    spec: LayerSpec, crs: ApiCrs, names: list[str] | None, today: dt.date | None = None
) -> sql.Composable:
    """A feature's GeoJSON text; with all properties it also carries the workflow deadline
    and overdue flag."""
    decimals = 8 if crs.geographic else 3
    extra = deadline_pairs(spec, today or clock.today()) if names is None else []
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON({g}, {d})::json, "
        "'properties', {props})::text"
    ).format(g=geometry_expr(crs), d=sql.Literal(decimals), props=properties_json(spec, names, extra))


def _feature_sql(spec: LayerSpec, crs: ApiCrs, names: list[str] | None, today: dt.date) -> sql.Composable:
    """:func:`_feature_json` rendered once and kept (it depends on nothing per request)."""
    return _rendered_feature_sql(spec, crs, tuple(names) if names is not None else None, today)


# bounded: days go by, and property selections are the caller's
@lru_cache(maxsize=1024)
def _rendered_feature_sql(
    spec: LayerSpec, crs: ApiCrs, names: tuple[str, ...] | None, today: dt.date
) -> sql.Composable:
    selected = list(names) if names is not None else None
    return sql.SQL(_feature_json(spec, crs, selected, today).as_string(None))


def query_items(conn: psycopg.Connection, spec: LayerSpec, q: ItemQuery) -> ItemPage:
    """One page of features (GeoJSON text each), whether more follow, and the number
    matched overall when it is known or cheap (see ``COUNT_CAP``)."""
    base = where = _where(spec, q)
    offset = q.offset
    if q.after is not None and keyset_applies(q):
        where = sql.SQL("{} AND t.id > {}").format(base, q.params.add(q.after))
        offset = 0
    table = sql.Identifier(spec.name)
    props = properties_of(spec)
    order = [
        sql.SQL("{} {}").format(props[name].column, sql.SQL("DESC" if desc else "ASC"))
        for name, desc in q.sortby
    ]
    order.append(sql.SQL("t.id"))
    statement = sql.SQL(
        "SELECT {f} FROM {table} t WHERE {where} ORDER BY {order} LIMIT {lim} OFFSET {off}"
    ).format(
        f=_feature_sql(spec, q.crs, q.properties, q.today or clock.today()),
        table=table,
        where=where,
        order=sql.SQL(", ").join(order),
        lim=q.params.add(q.limit + 1),
        off=q.params.add(offset),
    )
    rows = [r[0] for r in conn.execute(statement, q.params.values)]
    more = len(rows) > q.limit
    del rows[q.limit :]
    if not more and q.after is None and (rows or q.offset == 0):
        return ItemPage(rows, q.offset + len(rows), False)  # the end is on this page: no count
    count = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {where} LIMIT {cap}) s").format(
        table=table, where=base, cap=sql.Literal(COUNT_CAP + 1)
    )
    counted = conn.execute(count, q.params.values).fetchone()[0]
    if counted > COUNT_CAP:
        return ItemPage(rows, None, more, at_least=counted)
    return ItemPage(rows, counted, more)


def parse_feature_id(feature_id: str) -> uuid.UUID | None:
    """The asset uuid, or None when the id cannot be one (then it is simply not found)."""
    try:
        return uuid.UUID(feature_id)
    except ValueError:
        return None


def get_item(
    conn: psycopg.Connection, spec: LayerSpec, feature_id: str, crs: ApiCrs, names: list[str] | None = None
) -> tuple[str, int] | None:
    """One feature's GeoJSON text and version, or None when absent or deleted."""
    fid = parse_feature_id(feature_id)
    if fid is None:
        return None
    statement = sql.SQL(
        "SELECT {f}, t.version FROM {table} t WHERE t.id = %(id)s AND t.deleted_at IS NULL"
    ).format(f=_feature_json(spec, crs, names), table=sql.Identifier(spec.name))
    row = conn.execute(statement, {"id": fid}).fetchone()
    return (row[0], row[1]) if row else None


def extents(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Spatial (lon/lat) and temporal (updated_at) extent of each layer, one pass over ``assets``."""
    out: dict[str, dict[str, Any]] = {}
    statement = (
        "SELECT layer, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), t0, t1 FROM ("
        " SELECT layer, ST_Extent(geom) AS e, min(updated_at) AS t0, max(updated_at) AS t1"
        " FROM assets WHERE deleted_at IS NULL GROUP BY layer) s"
    )
    for layer, x0, y0, x1, y1, t0, t1 in conn.execute(statement):
        out[layer] = {"bbox": [x0, y0, x1, y1], "interval": [t0, t1]}
    return out
