"""The write stage: rows are COPYed into a temporary staging table, checked there as a
set (duplicate codes, near-duplicates), then upserted in ONE statement; the history
triggers journal what it changed (undo reads that journal).

COPY + one ``INSERT … SELECT … ON CONFLICT`` is an order of magnitude faster than a
statement per row and keeps the whole import inside the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from importers import nearby
from importers.nearby import StagedPoints
from registry.spec import LayerSpec

STAGE = "_import_stage"
NEAR_METRES = 1.0


def stage_columns(spec: LayerSpec) -> list[str]:
    """Columns COPYed per row, in order."""
    return ["rownum", *(a.name for a in spec.writable_attrs), "geom", "extra", "is_demo"]


def create_stage(conn: psycopg.Connection, spec: LayerSpec) -> None:
    """A temporary table with the layer's own column types (dropped at commit/rollback)."""
    cols = [a.name for a in spec.writable_attrs] + ["geom", "extra", "is_demo"]
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGE)))
    # The final upsert sorts and hash-joins the whole stage: let it do so in memory
    # (transaction-local; the default 4 MB spills a 100k-row import to disk).
    conn.execute("SET LOCAL work_mem = '64MB'")
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT 0::integer AS rownum, {cols} "
            "FROM {table} WITH NO DATA"
        ).format(
            stage=sql.Identifier(STAGE),
            cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
            table=sql.Identifier(spec.name),
        )
    )


def copy_rows(conn: psycopg.Connection, spec: LayerSpec, rows: Iterable[Sequence[Any]]) -> None:
    """COPY staged rows (tuples in ``stage_columns`` order; geom as hex EWKB)."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(STAGE), sql.SQL(", ").join(map(sql.Identifier, stage_columns(spec)))
    )
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)


def duplicate_codes(conn: psycopg.Connection) -> list[tuple[str, list[int]]]:
    """Codes that occur more than once in the file, with their row numbers."""
    return conn.execute(
        sql.SQL(
            "SELECT code, array_agg(rownum ORDER BY rownum) FROM {} GROUP BY code "
            "HAVING count(*) > 1 ORDER BY min(rownum)"
        ).format(sql.Identifier(STAGE))
    ).fetchall()


def near_duplicates(conn: psycopg.Connection, spec: LayerSpec) -> list[tuple[int, str, str]]:
    """Points within 1 m of an existing point of the layer under another code."""
    if "Point" not in spec.geometry_types:
        return []
    # ~2e-5° is > 1 m in both axes at 35°N: an index-assisted prefilter before the
    # exact spheroidal distance.
    return conn.execute(
        sql.SQL(
            "SELECT s.rownum, s.code, a.code FROM {stage} s JOIN {table} a "
            "ON a.geom && ST_Expand(s.geom, 2e-5) "
            "AND ST_DWithin(a.geom::geography, s.geom::geography, %s) "
            "WHERE a.code <> s.code AND GeometryType(s.geom) = 'POINT' AND GeometryType(a.geom) = 'POINT' "
            "AND a.deleted_at IS NULL ORDER BY s.rownum"
        ).format(stage=sql.Identifier(STAGE), table=sql.Identifier(spec.name)),
        (NEAR_METRES,),
    ).fetchall()


def drop_rows(conn: psycopg.Connection, rownums: Iterable[int]) -> None:
    """Remove rejected rows from the stage."""
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE rownum = ANY(%s)").format(sql.Identifier(STAGE)), (list(rownums),)
    )


def _upsert_from_stage(spec: LayerSpec) -> sql.Composed:
    cols = [a.name for a in spec.writable_attrs] + ["geom", "extra", "is_demo"]
    updatable = [c for c in cols if c != "code"]
    plain = [c for c in updatable if c != "geom"]
    ident = sql.Identifier
    return sql.SQL(
        "WITH up AS ("
        "  INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage} ORDER BY rownum"
        "  ON CONFLICT (code) DO UPDATE SET {sets}"
        # Only a real change writes (and bumps the version): re-importing is a no-op.
        # Rings compared in one orientation: a Shapefile stores outer rings clockwise,
        # so the same polygon read back is the same asset, not an update.
        "  WHERE ({old}, ST_AsEWKB(ST_ForcePolygonCCW(t.geom)))"
        "    IS DISTINCT FROM ({new}, ST_AsEWKB(ST_ForcePolygonCCW(EXCLUDED.geom)))"
        "  RETURNING (xmax = 0) AS inserted"
        ") SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
    ).format(
        table=ident(spec.name),
        stage=ident(STAGE),
        cols=sql.SQL(", ").join(map(ident, cols)),
        sets=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(ident(c)) for c in updatable),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in plain),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(ident(c)) for c in plain),
    )


def upsert_from_stage(conn: psycopg.Connection, spec: LayerSpec) -> Counter[str]:
    """Write every staged row in one statement; count created, updated and unchanged.

    What the import changed is journalled by the history triggers (``asset_history``,
    ``via = 'import:<id>'``, set by the caller): undo and the report read it there
    (importers/undo.py), not from a second copy."""
    staged = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STAGE))).fetchone()
    row = conn.execute(_upsert_from_stage(spec)).fetchone()
    created, updated = row if row is not None else (0, 0)
    counts: Counter[str] = Counter({"created": created, "updated": updated})
    counts["unchanged"] = (staged[0] if staged else 0) - created - updated
    return counts


def row_actions(
    conn: psycopg.Connection, spec: LayerSpec, via: str, limit: int
) -> list[tuple[int, str, str]]:
    """(row, code, created/updated/unchanged) of the first ``limit`` staged rows, from the
    history entries the write made through ``via``."""
    return conn.execute(
        sql.SQL(
            "SELECT s.rownum, s.code, CASE h.action WHEN 'create' THEN 'created' "
            "WHEN 'update' THEN 'updated' ELSE 'unchanged' END "
            "FROM (SELECT rownum, code FROM {stage} ORDER BY rownum LIMIT %s) s "
            "LEFT JOIN {table} t ON t.code = s.code "
            "LEFT JOIN asset_history h ON h.asset_id = t.id AND h.via = %s AND h.child_table IS NULL "
            "ORDER BY s.rownum"
        ).format(stage=sql.Identifier(STAGE), table=sql.Identifier(spec.name)),
        (limit, via),
    ).fetchall()


def outside_jiaozuo(conn: psycopg.Connection, ewkb_hex: list[str]) -> list[int]:
    """Indexes of geometries the write trigger would refuse (same function it uses)."""
    return [
        i - 1
        for (i,) in conn.execute(
            "SELECT i FROM unnest(%s::text[]) WITH ORDINALITY AS t(g, i) "
            "WHERE registry_district_of(g::geometry) IS NULL",
            (ewkb_hex,),
        )
    ]


def _index_stage(conn: psycopg.Connection) -> None:
    """A spatial index on the stage, so the self-joins below stay n·log n (100k rows)."""
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(
            sql.Identifier(STAGE + "_geom"), sql.Identifier(STAGE)
        )
    )
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(STAGE)))


def near_in_file(
    conn: psycopg.Connection, spec: LayerSpec, points: StagedPoints | None = None
) -> list[tuple[int, str, int]]:
    """(row, code, earlier row) of points within 1 m of an earlier point of the same file.

    With the staged ``points`` the pairs are found in memory (importers.nearby, ~4x
    faster than the self-join below) and only the codes of the rows found are read."""
    if "Point" not in spec.geometry_types:
        return []
    found = nearby.near_in_file(points, NEAR_METRES) if points is not None else None
    if found is not None:
        if not found:
            return []
        codes = dict(
            conn.execute(
                sql.SQL("SELECT rownum, code FROM {} WHERE rownum = ANY(%s)").format(sql.Identifier(STAGE)),
                ([r for r, _ in found],),
            ).fetchall()
        )
        return [(r, str(codes[r]), first) for r, first in found]
    _index_stage(conn)
    return conn.execute(
        sql.SQL(
            "SELECT b.rownum, b.code, min(a.rownum) FROM {stage} a JOIN {stage} b "
            "ON a.rownum < b.rownum AND a.geom && ST_Expand(b.geom, 2e-5) "
            "AND ST_DWithin(a.geom::geography, b.geom::geography, %s) "
            "WHERE GeometryType(a.geom) = 'POINT' AND GeometryType(b.geom) = 'POINT' "
            "GROUP BY b.rownum, b.code ORDER BY b.rownum"
        ).format(stage=sql.Identifier(STAGE)),
        (NEAR_METRES,),
    ).fetchall()


def overlaps(conn: psycopg.Connection, spec: LayerSpec) -> list[tuple[int, str, str, float]]:
    """(row, code, other code, m²) of staged shapes that overlap an existing asset, or an
    earlier row of the file, where the layer forbids it (``LayerSpec.overlap_function``,
    the very function its write trigger uses): a row error instead of the trigger's
    exception aborting the whole import."""
    if spec.overlap_function is None:
        return []
    exempt = list(spec.overlap_exempt)
    _index_stage(conn)
    existing = conn.execute(
        sql.SQL(
            "SELECT s.rownum, s.code, o.code, o.overlap_m2 FROM {stage} s "
            "CROSS JOIN LATERAL (SELECT * FROM {fn}(s.geom, NULL, s.code) LIMIT 1) o "
            "WHERE NOT (s.status = ANY(%s)) ORDER BY s.rownum"
        ).format(stage=sql.Identifier(STAGE), fn=sql.Identifier(spec.overlap_function)),
        (exempt,),
    ).fetchall()
    within = conn.execute(
        sql.SQL(
            "SELECT b.rownum, b.code, a.code, x.m2 FROM {stage} a JOIN {stage} b "
            "ON a.rownum < b.rownum AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********') "
            "CROSS JOIN LATERAL (SELECT ST_Area(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)"
            "::geography) AS m2) x "
            "WHERE NOT (a.status = ANY(%s)) AND NOT (b.status = ANY(%s)) AND x.m2 >= 0.05 "
            "ORDER BY b.rownum"
        ).format(stage=sql.Identifier(STAGE)),
        (exempt, exempt),
    ).fetchall()
    seen: set[int] = set()
    out = []
    for row in sorted(existing + within):
        if row[0] not in seen:
            seen.add(row[0])
            out.append((int(row[0]), str(row[1]), str(row[2]), float(row[3])))
    return out
