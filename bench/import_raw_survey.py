"""A raw survey file at scale: 100,000 manholes in a CSV with Gauss-Krüger 东坐标/北坐标
(EPSG:4547) and no code, status, kind or condition column, imported with defaults for
the run (``--set``) and generated codes (``JG-<year>-<serial>``), as issue 12 asks.

Starts a throw-away embedded cluster (or uses DATABASE_URL), runs ``run_import`` in a
child process that reports its own peak RSS (VmHWM), prints rows/s and peak memory.
Never asserts anything.

    .venv/bin/python bench/import_raw_survey.py --rows 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import bench_database, run_child  # noqa: E402

DEFAULTS = {"status": "in_service", "kind": "rain", "condition": "intact"}


def make_file(path: Path, n: int) -> None:
    import pandas as pd
    from pyproj import Transformer

    rng = np.random.default_rng(12)
    lon, lat = rng.uniform(113.15, 113.30, n), rng.uniform(35.18, 35.26, n)
    east, north = Transformer.from_crs(4490, 4547, always_xy=True).transform(lon, lat)
    pd.DataFrame(
        {"东坐标": np.round(east, 3), "北坐标": np.round(north, 3), "道路": "人民路", "调查员": "bench"}
    ).to_csv(path, index=False)


def child(dsn: str, path: str, data_dir: str) -> None:
    from importers import ImportOptions, run_import
    from layers import default_catalog
    from registry.db import connect
    from registry.settings import Settings

    s = Settings(_env_file=None, database_url=dsn, data_dir=Path(data_dir))  # type: ignore[call-arg]
    options = ImportOptions(crs="EPSG:4547", defaults=DEFAULTS)
    t0 = time.perf_counter()
    with connect(s) as conn:
        rep = run_import(
            conn, default_catalog().get("manholes"), Path(path), settings=s, actor="bench", options=options
        )
    dt = time.perf_counter() - t0
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(f"PEAK_KB {hwm}", flush=True)
    codes = rep.codes_generated
    print(f"CODES {len(codes)} {codes[0] if codes else '-'} {codes[-1] if codes else '-'}", flush=True)
    print(f"RESULT {rep.status} {rep.summary()} {dt:.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    with bench_database(tmp) as dsn:
        f = tmp / "普查.csv"
        make_file(f, args.rows)
        print(f"generated {args.rows} rows (no code/status/kind column) in {f.stat().st_size / 1e6:.1f} MB")
        lines, wall, rss_mb = run_child(__file__, dsn, str(f), str(tmp / "data"))
        result = next(x for x in lines if x.startswith("RESULT"))
        secs = float(result.rsplit(" ", 1)[1])
        print(result)
        print(next(x for x in lines if x.startswith("CODES")))
        print(
            f"raw survey import with defaults and generated codes: {args.rows / secs:,.0f} rows/s "
            f"({secs:.1f} s import, {wall:.1f} s incl. start-up); peak RSS {rss_mb:.0f} MB"
        )


if __name__ == "__main__":
    main()
