"""Mapbox vector tiles (WebMercatorQuad) of any layer, built by PostGIS.

The tile envelope is moved to the storage CRS (EPSG:4490) for the ``&&`` test, so
the GiST index on ``geom`` selects the rows; only those rows are projected to Web
Mercator and clipped by ``ST_AsMVTGeom``. A Mercator tile is a lon/lat rectangle, so
the transformed envelope is exact.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from registry.catalog import LayerCatalog
from registry.errors import InvalidParameter
from registry.spec import LayerSpec

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 24
# Bound the work a single tile can cause; below AGGREGATE_MAX_ZOOM+1 tiles are
# aggregated, so the cap only matters at street zooms.
MAX_FEATURES_PER_LAYER = 50_000
# Up to this zoom, assets smaller than ~2 screen pixels (1/128 of a tile) and that
# close to each other are merged into one point carrying ``point_count``: visually
# the same map, but a city-wide tile over a million assets stays a few thousand
# features instead of 100,000.
AGGREGATE_MAX_ZOOM = 14
AGGREGATE_CELLS_PER_TILE = 128
_WORLD_M = 40075016.685578488
# Attributes that style and label a feature on any layer, when the layer has them.
_STYLE_ATTRS = ("kind", "element", "risk_grade", "condition", "name", "road_name")


def tile_attributes(spec: LayerSpec) -> list[str]:
    """Properties written into the tile for this layer (beyond ``id``)."""
    names = {a.name for a in spec.all_attrs}
    wanted = ["code", "status", *(a for a in _STYLE_ATTRS if a in names)]
    for styling in (spec.style.by, spec.style.due):
        if styling in names and styling not in wanted:
            wanted.append(styling)
    return wanted


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse tiles that do not exist in WebMercatorQuad (a 404, like a missing file)."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter("z", f"zoom must be between 0 and {MAX_ZOOM}, got {z}")
    size = 1 << z
    if not (0 <= x < size and 0 <= y < size):
        raise InvalidParameter("x/y", f"tile {z}/{x}/{y} does not exist: x and y must be below {size}")


def _layer_mvt(spec: LayerSpec) -> sql.Composable:
    cols = sql.SQL(", ").join(
        [sql.SQL("t.id::text AS id")]
        + [sql.SQL("t.{0} AS {0}").format(sql.Identifier(a)) for a in tile_attributes(spec)]
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
    own shape, so lines and areas still read as lines and areas at city zooms."""
    attrs = tile_attributes(spec)
    firsts = sql.SQL(", ").join(
        [sql.SQL("CASE WHEN count(*) = 1 THEN min(s.id::text) END AS id")]
        + [sql.SQL("(array_agg(s.{0}))[1] AS {0}").format(sql.Identifier(a)) for a in attrs]
    )
    own = sql.SQL(", ").join(
        [sql.SQL("s.id::text AS id")] + [sql.SQL("s.{0}").format(sql.Identifier(a)) for a in attrs]
    )
    outer = sql.SQL(", ").join(sql.Identifier(a) for a in ["id", *attrs])
    return sql.SQL(
        "(WITH s AS MATERIALIZED ("
        "  SELECT r.*, ST_XMax(r.g) - ST_XMin(r.g) <= %(cell)s"
        "   AND ST_YMax(r.g) - ST_YMin(r.g) <= %(cell)s AS small FROM ("
        "   SELECT r.*, ST_Transform(ST_SetSRID(r.geom, 4326), 3857) AS g FROM {table} r"
        "   WHERE r.deleted_at IS NULL AND r.geom && ST_SetSRID(ST_Transform("
        "   ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}), 4326), 4490) OFFSET 0) r)"
        " SELECT COALESCE(ST_AsMVT(m, {name}, {extent}, 'geom'), ''::bytea) FROM ("
        " SELECT ST_AsMVTGeom(c.g, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true)"
        " AS geom, point_count, {outer} FROM ("
        "  SELECT ST_SetSRID(ST_MakePoint(avg(ST_X(s.p)), avg(ST_Y(s.p))), 3857) AS g,"
        "  count(*) AS point_count, {firsts}"
        "  FROM (SELECT s.*, ST_Centroid(s.g) AS p FROM s WHERE s.small) s"
        "  GROUP BY floor(ST_X(s.p) / %(cell)s), floor(ST_Y(s.p) / %(cell)s)"
        "  UNION ALL"
        "  (SELECT s.g, 1, {own} FROM s WHERE NOT s.small LIMIT {cap})) c"
        ") m WHERE m.geom IS NOT NULL)"
    ).format(
        name=sql.Literal(spec.name),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        margin=sql.Literal(BUFFER / EXTENT),
        outer=outer,
        firsts=firsts,
        own=own,
        table=sql.Identifier(spec.name),
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


def all_layers(catalog: LayerCatalog) -> list[LayerSpec]:
    """Every layer, in catalogue order (the order they are drawn)."""
    return list(catalog)
