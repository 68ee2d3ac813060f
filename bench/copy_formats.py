"""COPY into an import's staging table in text and in binary format (issue 13 asked for
binary COPY where it is faster): the same 100,000 manhole rows, each format three
times, server time included (the COPY ends when the server has taken every row).

The importer COPYs text (importers/writer.copy_rows: hex EWKB, JSON as text). Binary
needs every value dumped by psycopg in the column's binary form; for these rows that
costs more in Python than the server saves in parsing. Prints, never asserts.

    .venv/bin/python bench/copy_formats.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import bench_database  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    try:
        with bench_database(tmp) as dsn:
            _measure(dsn, args.rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(dsn: str, n: int) -> None:
    import numpy as np
    import psycopg
    import shapely
    from psycopg import sql
    from psycopg.types import TypeInfo
    from psycopg.types.json import Jsonb
    from psycopg.types.string import BytesBinaryDumper

    from importers import writer
    from layers import default_catalog

    spec = default_catalog().get("manholes")
    cols = writer.stage_columns(spec)
    rng = np.random.default_rng(1)
    points = shapely.set_srid(
        shapely.points(rng.uniform(113.15, 113.3, n), rng.uniform(35.18, 35.26, n)), 4490
    )

    def rows(geoms: list, extra: object) -> list[tuple]:
        base = {"status": "in_service", "kind": "rain", "condition": "intact", "cover_size_mm": 700}
        return [
            tuple({**base, "rownum": i, "code": f"C{i:08d}", "geom": g, "extra": extra}.get(c) for c in cols)
            for i, g in enumerate(geoms)
        ]

    text_rows = rows(list(shapely.to_wkb(points, hex=True, include_srid=True)), '{"调查员": "bench"}')
    binary_rows = rows(list(shapely.to_wkb(points, include_srid=True)), Jsonb({"调查员": "bench"}))
    with psycopg.connect(dsn) as conn:
        geometry = TypeInfo.fetch(conn, "geometry")
        assert geometry is not None

        class GeometryDumper(BytesBinaryDumper):
            oid = geometry.oid  # EWKB bytes are what geometry's binary input reads

        conn.adapters.register_dumper(None, GeometryDumper)
        writer.create_stage(conn, spec)
        oids = [
            conn.execute("SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
                         (writer.STAGE, c)).fetchone()[0]
            for c in cols
        ]  # fmt: skip
        stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(writer.STAGE), sql.SQL(", ").join(map(sql.Identifier, cols))
        )
        times: dict[str, list[float]] = {"text": [], "binary": []}
        for _ in range(3):
            for fmt in times:
                conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(writer.STAGE)))
                t0 = time.perf_counter()
                if fmt == "text":
                    writer.copy_rows(conn, spec, text_rows)
                else:
                    with conn.cursor() as cur, cur.copy(stmt) as copy:
                        copy.set_types(oids)
                        for row in binary_rows:
                            copy.write_row(row)
                times[fmt].append(time.perf_counter() - t0)
                staged = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(writer.STAGE)))
                assert staged.fetchone() == (n,)
        conn.rollback()
    for fmt, secs in times.items():
        best = min(secs)
        print(f"COPY {fmt:<6} {n:,} rows: best of 3 {best:.3f} s = {n / best:,.0f} rows/s")


if __name__ == "__main__":
    main()
