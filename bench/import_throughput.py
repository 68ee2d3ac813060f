"""Import throughput: our importer vs ``ogr2ogr -f PostgreSQL`` into the same database.

Generates N manhole points (GeoPackage, EPSG:4490) with pyogrio in a temp folder, starts
a throw-away embedded cluster (or uses DATABASE_URL), then times
1. ``run_import`` (full pipeline: mapping, per-row validation, prefecture check, COPY
   into staging, one upsert; history, which is also the undo journal), in a child
   process that reports its own peak RSS (VmHWM);
2. ``ogr2ogr -f PostgreSQL`` of the same file into a plain table (no validation);
3. the floor any pipeline keeping the registry's schema has: the imported rows copied
   again by one ``INSERT … SELECT`` within the database (no file, no Python), once with
   the layer's triggers (write trigger, history) and once without (only its indexes,
   constraints and foreign key), both rolled back.
Prints rows/s for both and our peak RSS, then one row per size for the results table
of ``bench/run`` (lines starting ``ROW | import``). Never asserts times.

    .venv/bin/python bench/import_throughput.py --rows 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import bench_database, run_child  # noqa: E402


def make_file(path: Path, n: int) -> None:
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(42)
    lon, lat = rng.uniform(113.15, 113.30, n), rng.uniform(35.18, 35.26, n)
    gdf = gpd.GeoDataFrame(
        {
            "编号": [f"B-{i:08d}" for i in range(n)],
            "状态": "在用",
            "井类": "雨水",
            "井盖状况": "完好",
            "井盖尺寸": 700,
            "调查员": "bench",
        },
        geometry=shapely.points(lon, lat),
        crs=4490,
    )
    gdf.to_file(path, driver="GPKG", engine="pyogrio")


def child(dsn: str, path: str, data_dir: str) -> None:
    from importers import run_import
    from layers import default_catalog
    from registry.db import connect
    from registry.settings import Settings

    s = Settings(_env_file=None, database_url=dsn, data_dir=Path(data_dir))  # type: ignore[call-arg]
    t0 = time.perf_counter()
    with connect(s) as conn:
        backend = conn.info.backend_pid
        cpu0 = time.process_time(), _cpu_seconds(backend)
        rep = run_import(conn, default_catalog().get("manholes"), Path(path), settings=s, actor="bench")
        cpu1 = time.process_time(), _cpu_seconds(backend)
    dt = time.perf_counter() - t0
    # CPU seconds of this process and of its database session: on a shared machine they
    # vary far less than the wall time (which waits for the other engineers' work too).
    print(f"CPU_S {cpu1[0] - cpu0[0]:.2f} {cpu1[1] - cpu0[1]:.2f}", flush=True)
    # VmHWM is this process's own peak: ru_maxrss would also count the parent's memory
    # at fork time (Linux carries it across exec), i.e. the 1M points the parent made.
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(f"PEAK_KB {hwm}", flush=True)
    print(f"RESULT {rep.status} {rep.summary()} {dt:.2f}", flush=True)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a local process (the database session), 0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000])
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    table: list[str] = []
    for rows in args.rows:
        # A fresh database per size: the second file's codes would otherwise update the first's.
        tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
        try:
            with bench_database(tmp) as dsn:
                table.append(_measure(dsn, tmp, rows))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("\n".join(table))


def _measure(dsn: str, tmp: Path, rows: int) -> str:
    """The registry's importer, then ogr2ogr, on the same generated file; the results
    table's row."""
    f = tmp / "points.gpkg"
    t0 = time.perf_counter()
    make_file(f, rows)
    print(f"generated {rows} points in {time.perf_counter() - t0:.1f} s ({f.stat().st_size / 1e6:.0f} MB)")

    lines, wall, rss_mb = run_child(__file__, dsn, str(f), str(tmp / "data"))
    result = next(line for line in lines if line.startswith("RESULT"))
    secs = float(result.rsplit(" ", 1)[1])
    ours = rows / secs
    client_cpu, server_cpu = (float(x) for x in next(x for x in lines if x.startswith("CPU_S")).split()[1:])
    print(result)
    print(
        f"registry importer: {rows / secs:,.0f} rows/s ({secs:.1f} s import, {wall:.1f} s incl. "
        f"start-up); peak RSS {rss_mb:.0f} MB; CPU {client_cpu:.1f} s importer + {server_cpu:.1f} s "
        f"database session = {rows / max(client_cpu + server_cpu, 1e-9):,.0f} rows per CPU-second"
    )

    if shutil.which("ogr2ogr"):
        from urllib.parse import urlparse

        u = urlparse(dsn)
        pg = f"PG:host={u.hostname} port={u.port} dbname={u.path.lstrip('/')} user={u.username}"
        t0 = time.perf_counter()
        subprocess.run(
            [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                pg,
                str(f),
                "-nln",
                "ogr_bench",
                "-overwrite",
                "-lco",
                "GEOMETRY_NAME=geom",
                "--config",
                "PG_USE_COPY",
                "YES",
                "-gt",
                "65536",
            ],
            check=True,
        )
        secs = time.perf_counter() - t0
        peer = f"`ogr2ogr -f PostgreSQL` {rows / secs:,.0f} rows/s"
        ratio = f"{ours / (rows / secs):.2f}×"
        print(f"ogr2ogr -f PostgreSQL: {rows / secs:,.0f} rows/s ({secs:.1f} s)")
    else:
        peer, ratio = "ogr2ogr not installed", "—"
        print("ogr2ogr not found (apt install gdal-bin)")
    floor = _floor(dsn, rows)
    return (
        f"ROW | import {rows:,} points: the layer table's own INSERT, no triggers (floor) "
        f"| {floor:,.0f} rows/s | {peer} | {floor / (rows / secs):.2f}× | (shows what the goal leaves) |\n"
        if shutil.which("ogr2ogr")
        else ""
    ) + (
        f"ROW | import {rows:,} points, full pipeline (validation, district, history = undo journal) "
        f"| {ours:,.0f} rows/s, {rss_mb:.0f} MB peak | {peer} | {ratio} "
        "| ≥ 100k rows/s, ≤ 500 MB peak, ≥ 0.6× ogr2ogr |"
    )


def _floor(dsn: str, rows: int) -> float:
    """Rows/s of copying the imported manholes once more inside the database, with the
    layer's triggers and without (rolled back); prints both, returns the latter."""
    import psycopg
    from psycopg import sql

    from layers import default_catalog

    spec = default_catalog().get("manholes")
    names = [a.name for a in spec.writable_attrs if a.name != "code"]
    cols = sql.SQL(", ").join(
        map(sql.Identifier, [*names, "geom", "extra", "is_demo", "layer", "district_code"])
    )
    copy = sql.SQL("INSERT INTO {t} (code, {c}) SELECT 'FLOOR-' || code, {c} FROM {t}").format(
        t=sql.Identifier(spec.name), c=cols
    )
    out = {}
    with psycopg.connect(dsn) as conn:
        for triggers in (True, False):
            with conn.transaction(force_rollback=True):
                conn.execute("SELECT set_config('registry.via', 'bench', true)")
                if not triggers:
                    conn.execute("ALTER TABLE manholes DISABLE TRIGGER USER")
                t0 = time.perf_counter()
                n = conn.execute(copy).rowcount
                out[triggers] = n / (time.perf_counter() - t0)
    print(
        f"the same {rows:,} rows INSERTed again inside the database: {out[True]:,.0f} rows/s with the "
        f"layer's triggers (district, history), {out[False]:,.0f} rows/s without (indexes, constraints, "
        "foreign key only)"
    )
    return out[False]


if __name__ == "__main__":
    main()
