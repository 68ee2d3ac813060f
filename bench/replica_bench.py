"""Read throughput with 0, 1 and 2 streaming replicas (issue 13, docs/scaling.md).

Usage:  .venv/bin/python bench/replica_bench.py [--n 200000] [--seconds 8]

Starts its own primary (a throw-away embedded cluster), loads N manholes as
bench/api_bench.py does, makes two hot standbys of it (``pg_basebackup -R``, started
with ``pg_ctl`` as the server's OS account), then serves the app with uvicorn (one
worker) three times: no DATABASE_READ_URL, one replica, two replicas; each time a
thread-pool load of small-bbox item queries at concurrency 1 and 16. Prints req/s and
latencies, and which server answered (``/health``). On one machine the replicas share
its cores with the primary and the app, so this shows the routing's cost, not the gain
of replicas on their own hosts. Never asserts anything.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_bench import load, make_urls, run, start, viewer_token
from registry.cluster import Cluster, find_bin_dir
from registry.settings import Settings
from tests.conftest import free_port


def _as_server(cluster: Cluster, bin_dir: Path, tool: str, *args: str) -> None:
    proc = subprocess.run(
        cluster._as_server_user([str(bin_dir / tool), *args]), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed: {proc.stderr or proc.stdout}")


def start_standby(primary: Cluster, bin_dir: Path, folder: Path) -> str:
    """A hot standby of ``primary`` in ``folder``; returns its URL once it answers."""
    port = free_port()
    for sub in (folder, folder / "run"):
        sub.mkdir(parents=True, exist_ok=True)
        if primary.os_user:
            shutil.chown(sub, user=primary.os_user)
    _as_server(
        primary, bin_dir, "pg_basebackup", "-D", str(folder / "pg"), "-R", "-X", "stream", "-c", "fast",
        "-h", "127.0.0.1", "-p", str(primary.port), "-U", primary.settings.pg_user,
    )  # fmt: skip
    _as_server(
        primary, bin_dir, "pg_ctl", "start", "-w", "-t", "120", "-D", str(folder / "pg"),
        "-l", str(folder / "log"),
        "-o", f"-p {port} -h 127.0.0.1 -k {folder / 'run'} -c max_connections=200 -c shared_buffers=256MB",
    )  # fmt: skip
    url = primary.dsn.replace(f":{primary.port}/", f":{port}/")
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as c:
                c.execute("SELECT 1")
            return url
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="replica-bench-"))
    base.chmod(0o755)  # reachable by the server's OS account
    primary = Cluster(
        Settings(_env_file=None, database_url=None, data_dir=base / "primary", pg_port=free_port())
    )  # type: ignore[call-arg]
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    standbys: list[Path] = []
    try:
        primary.up()
        n = load(primary.dsn, args.n)
        token = {"Authorization": f"Bearer {viewer_token(primary.dsn)}"}
        replicas = []
        for i in (1, 2):
            standbys.append(base / f"standby{i}")
            replicas.append(start_standby(primary, bin_dir, standbys[-1]))
        rows = []
        for count in (0, 1, 2):
            port = free_port()
            env = {"DATABASE_URL": primary.dsn, "DATABASE_READ_URL": ",".join(replicas[:count])}
            url = f"http://127.0.0.1:{port}"
            proc = start(
                [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--port", str(port),
                 "--log-level", "warning"],
                env,
                f"{url}/health",
            )  # fmt: skip
            try:
                health = httpx.get(f"{url}/health", timeout=10).json()
                standby_seen = [r.get("in_recovery") for r in health.get("read_replicas", [])]
                urls = make_urls("items", f"{url}/ogc", "manholes", 2000, seed=42)
                run(urls[:20], 2, 1.0, token)  # warm up
                for conc in (1, 16):
                    rows.append((count, standby_seen, conc, *run(urls, conc, args.seconds, token)))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        print(f"\n{n:,} manholes; items in a ~200 m bbox; {args.seconds:.0f} s per cell; one app worker")
        print(
            f"{'replicas':>8} {'in_recovery':>12}{'conc':>5}"
            f"{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
        )
        for count, seen, conc, rps, p50, p95, err in rows:
            print(f"{count:>8} {seen!s:>12}{conc:>5}{rps:>9.1f}{p50:>9.1f}{p95:>9.1f}{err:>8}")
    finally:
        for folder in standbys:
            if (folder / "pg" / "postmaster.pid").exists():
                _as_server(primary, bin_dir, "pg_ctl", "stop", "-w", "-m", "fast", "-D", str(folder / "pg"))
        primary.down()
        shutil.rmtree(primary.base_dir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
