"""What the import benchmarks share: a migrated database with the districts, and the
import run in a child process so its peak memory is its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def bench_database(tmp: Path) -> Iterator[str]:
    """DATABASE_URL, or a new embedded cluster in ``tmp``; migrated, districts loaded."""
    import psycopg

    from registry.cluster import FALLBACK_ROOT, Cluster
    from registry.districts import load_districts
    from registry.migrate import migrate
    from registry.settings import Settings
    from tests.conftest import free_port

    cluster = None
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        settings = Settings(_env_file=None, database_url=None, data_dir=tmp / "pg", pg_port=free_port())  # type: ignore[call-arg]
        cluster = Cluster(settings)
        cluster.up()
        dsn = cluster.dsn
    try:
        with psycopg.connect(dsn) as conn:
            migrate(conn, ROOT / "sql")
        with psycopg.connect(dsn) as conn:
            load_districts(conn)
        yield dsn
    finally:
        if cluster is not None:
            cluster.down()
            # As root the cluster may live under /var/lib/jiaozuo-registry/<hash> (the
            # temp folder is out of the server account's reach): remove it too, or every
            # run leaves its gigabytes behind (a 1M-point run ~3.5 GB; the disk filled up).
            if cluster.base_dir.resolve().parent == FALLBACK_ROOT:
                shutil.rmtree(cluster.base_dir, ignore_errors=True)


def run_child(script: str, *args: str) -> tuple[list[str], float, float]:
    """Run ``script --child args…``; its output lines, wall seconds and peak RSS in MB
    (the child prints ``PEAK_KB n``)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, script, "--child", *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    wall = time.perf_counter() - t0
    lines = out.stdout.splitlines()
    rss_mb = next(int(x.split()[1]) for x in lines if x.startswith("PEAK_KB")) / 1024
    return lines, wall, rss_mb
