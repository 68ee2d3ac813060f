"""Where an import's time goes: the throughput bench's file, imported under cProfile
(Python side, including the time spent waiting on each SQL statement), with the
server's own time per statement (``log_min_duration_statement`` → the timings of the
slow statements, read back from the cluster's log) — issue 13's profile.

    .venv/bin/python bench/import_profile.py --rows 100000 [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import bench_database  # noqa: E402
from bench.import_throughput import make_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the final upsert (it still runs)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    try:
        with bench_database(tmp) as dsn:
            _profile(dsn, tmp, args.rows, args.top, args.explain)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _profile(dsn: str, tmp: Path, rows: int, top: int, explain: bool) -> None:
    import psycopg

    from importers import run_import
    from layers import default_catalog
    from registry.settings import Settings

    f = tmp / "points.gpkg"
    make_file(f, rows)
    s = Settings(_env_file=None, database_url=dsn, data_dir=tmp / "data")  # type: ignore[call-arg]
    spec = default_catalog().get("manholes")
    timings: list[tuple[float, str]] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Each statement's server time, as the client sees it (round trip included).
        conn.add_notice_handler(lambda _d: None)
        orig = conn.execute

        plans: list[str] = []

        def timed(query, params=None, **kw):  # type: ignore[no-untyped-def]
            text = query.as_string(conn) if hasattr(query, "as_string") else str(query)
            if explain and text.startswith("WITH up AS"):
                # the plan of a run rolled back to a savepoint, then the real run (the
                # caller reads the statement's result, not a plan)
                orig("SAVEPOINT bench_explain")
                cur = orig("EXPLAIN (ANALYZE, BUFFERS, WAL) " + text, params, **kw)
                plans.extend(r[0] for r in cur.fetchall())
                orig("ROLLBACK TO SAVEPOINT bench_explain")
            t0 = time.perf_counter()
            cur = orig(query, params, **kw)
            timings.append((time.perf_counter() - t0, " ".join(text.split())[:110]))
            return cur

        conn.execute = timed  # type: ignore[method-assign]
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        rep = run_import(conn, spec, f, settings=s, actor="bench")
        prof.disable()
        dt = time.perf_counter() - t0
    print(f"{rep.status} {rep.summary()}: {rows} rows in {dt:.2f} s = {rows / dt:,.0f} rows/s")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())
    print("slowest statements (seconds, client-side):")
    for secs, text in sorted(timings, reverse=True)[:12]:
        print(f"  {secs:7.3f}  {text}")
    print(f"  {sum(t for t, _ in timings):7.3f}  all {len(timings)} statements")
    if plans:
        print("the upsert's plan:")
        print("\n".join(plans))


if __name__ == "__main__":
    main()
