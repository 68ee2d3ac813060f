"""Mapbox vector tiles (WebMercatorQuad) of any layer, built by PostGIS.

The tile envelope is moved to the storage CRS (EPSG:4490) for the ``&&`` test, so
the GiST index on ``geom`` selects the rows; only those rows are projected to Web
Mercator and clipped by ``ST_AsMVTGeom``. A Mercator tile is a lon/lat rectangle, so
the transformed envelope is exact.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from registry.errors import InvalidParameter
from registry.spec import LayerSpec

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 24
# Bound the work a single tile can cause; below AGGREGATE_MAX_ZOOM+1 tiles are
# aggregated, so the cap only matters at street zooms.
MAX_FEATURES_PER_LAYER = 50_000
# Up to this zoom, assets smaller than ~4 screen pixels (1/64 of a 256 px tile) and
# that close to each other are merged into one point carrying ``point_count``: the
# same picture of where assets are, but a city-wide tile over a million assets stays
# at most 4,096 points instead of 300,000 (and 1/128 measured 4x the bytes for the
# browser to draw: 665 kB against 172 kB per z12 tile).
AGGREGATE_MAX_ZOOM = 14
AGGREGATE_CELLS_PER_TILE = 64
_WORLD_M = 40075016.685578488


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse tiles that do not exist in WebMercatorQuad (a 404, like a missing file)."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter("z", "").with_message("tile_zoom_range", max=MAX_ZOOM, z=z)
    size = 1 << z
    if not (0 <= x < size and 0 <= y < size):
        raise InvalidParameter("x/y", "").with_message("tile_not_exist", tile=f"{z}/{x}/{y}", size=size)


def _layer_mvt(spec: LayerSpec) -> sql.Composable:
    cols = sql.SQL(", ").join(
        [sql.SQL("t.id::text AS id")]
        + [sql.SQL("t.{0} AS {0}").format(sql.Identifier(a)) for a in spec.tile_attrs]
    )
    # The row selection is a separate subquery (OFFSET 0 keeps it from being
    # flattened) so its plan is costed without the expensive per-row MVT functions;
    # otherwise PostGIS' high function costs push the planner to a parallel seq scan.
    # Storage 4490 is relabelled 4326 (identical here) before projecting to 3857.
    return sql.SQL(
        "(SELECT COALESCE(ST_AsMVT(m, {name}, {extent}, 'geom'), ''::bytea) FROM ("
        " SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(t.geom, 4326), 3857),"
        " ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true) AS geom, {cols}"
        " FROM (SELECT * FROM {table} r WHERE r.deleted_at IS NULL"
        " AND r.geom && ST_SetSRID(ST_Transform("
        "ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}), 4326), 4490)"
        " LIMIT {cap} OFFSET 0) t) m WHERE m.geom IS NOT NULL)"
    ).format(
        name=sql.Literal(spec.name),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        margin=sql.Literal(BUFFER / EXTENT),
        cols=cols,
        table=sql.Identifier(spec.name),
        cap=sql.Literal(MAX_FEATURES_PER_LAYER),
    )


def _aggregated_layer_mvt(spec: LayerSpec) -> sql.Composable:
    """Small assets of one grid cell become one point; a lone asset keeps its id and
    code. An asset wider or taller than a cell (a long wire, a market zone) keeps its
    own shape, so lines and areas still read as lines and areas at city zooms.

    A city tile can hold hundreds of thousands of rows, so the grouping works on plain
    numbers: the Web Mercator bounds of each row's bounding box, from the spherical
    Mercator formulas (what EPSG:3857 is), not a PROJ call per row. Only the rows that
    are drawn — one per cell and the large shapes — are read in full, by ``ctid``
    (layer tables are leaf tables, so a ctid names one row within the statement).
    """
    attrs = spec.tile_attrs
    cols = sql.SQL(", ").join(sql.SQL("t.{0}").format(sql.Identifier(a)) for a in attrs)
    outer = sql.SQL(", ").join(sql.Identifier(a) for a in ["id", *attrs])
    table = sql.Identifier(spec.name)
    small = sql.SQL("b.x1 - b.x0 <= %(cell)s AND b.y1 - b.y0 <= %(cell)s")
    return sql.SQL(
        "(WITH b AS MATERIALIZED ("
        "  SELECT r.ctid AS tid,"
        "  6378137.0 * radians(ST_XMin(r.geom)) AS x0, 6378137.0 * radians(ST_XMax(r.geom)) AS x1,"
        "  6378137.0 * ln(tan(pi() / 4 + radians(ST_YMin(r.geom)) / 2)) AS y0,"
        "  6378137.0 * ln(tan(pi() / 4 + radians(ST_YMax(r.geom)) / 2)) AS y1"
        "  FROM {table} r"
        "  WHERE r.deleted_at IS NULL AND r.geom && ST_SetSRID(ST_Transform("
        "  ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}), 4326), 4490)),"
        " c AS (SELECT count(*) AS n, avg((b.x0 + b.x1) / 2) AS x, avg((b.y0 + b.y1) / 2) AS y,"
        "  min(b.tid) AS tid FROM b WHERE {small}"
        "  GROUP BY floor((b.x0 + b.x1) / 2 / %(cell)s), floor((b.y0 + b.y1) / 2 / %(cell)s))"
        " SELECT COALESCE(ST_AsMVT(m, {name}, {extent}, 'geom'), ''::bytea) FROM ("
        " SELECT ST_AsMVTGeom(u.g, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true)"
        " AS geom, point_count, {outer} FROM ("
        # OFFSET 0 keeps each lookup a TID scan instead of a join over the whole table
        "  SELECT ST_SetSRID(ST_MakePoint(c.x, c.y), 3857) AS g, c.n AS point_count,"
        "  CASE WHEN c.n = 1 THEN t.id::text END AS id, {cols} FROM c"
        "  CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE t.ctid = c.tid OFFSET 0) t"
        "  UNION ALL"
        "  (SELECT ST_Transform(ST_SetSRID(t.geom, 4326), 3857), 1, t.id::text, {cols} FROM b"
        "  CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE t.ctid = b.tid OFFSET 0) t"
        "  WHERE NOT ({small}) LIMIT {cap})) u"
        ") m WHERE m.geom IS NOT NULL)"
    ).format(
        small=small,
        name=sql.Literal(spec.name),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        margin=sql.Literal(BUFFER / EXTENT),
        outer=outer,
        cols=cols,
        table=table,
        cap=sql.Literal(MAX_FEATURES_PER_LAYER),
    )


def tile(conn: psycopg.Connection, specs: list[LayerSpec], z: int, x: int, y: int) -> bytes:
    """One MVT with one MVT layer per spec (empty bytes when nothing is there).

    Up to ``AGGREGATE_MAX_ZOOM`` nearby assets are merged (see above); closer in,
    every asset is its own feature with its real geometry.
    """
    check_tile(z, x, y)
    layer = _aggregated_layer_mvt if z <= AGGREGATE_MAX_ZOOM else _layer_mvt
    statement = sql.SQL("SELECT {}").format(sql.SQL(" || ").join(layer(s) for s in specs))
    cell = _WORLD_M / (1 << z) / AGGREGATE_CELLS_PER_TILE
    row = conn.execute(statement, {"z": z, "x": x, "y": y, "cell": cell}).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
