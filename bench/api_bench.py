"""API benchmark: small-bbox item queries and z14 vector tiles on N assets (default
1,000,000), our server side by side with tipg serving the same tables.

Usage:  .venv/bin/python bench/api_bench.py [--n 1000000] [--seconds 8]
        [--tipg /work/tipg-venv/bin/python]

Starts its own PostgreSQL + PostGIS cluster in a temporary folder, migrates it,
bulk-loads N manholes with one generate_series INSERT (the write trigger is
disabled for the load: the district is set directly, which is what the trigger
would derive for these points in bulk), then runs both servers with uvicorn
(one worker each) and a thread-pool load generator at concurrency 1 and 16.
Cold tiles are measured on a second instance of ours with REGISTRY_TILE_CACHE=false;
warm tiles on the first, after each of WARM_TILES tiles was requested once.
Prints requests/s and p50/p95 latency, and our/tipg ratios. Never asserts times.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.accounts import create_token, create_user
from registry.cluster import Cluster
from registry.districts import load_districts
from registry.migrate import migrate
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port

# The built-up part of the prefecture the points are spread over.
AREA = (113.0, 35.1, 113.5, 35.35)
BBOX_DEG = 0.002  # ~200 m: "what is around here"
ZOOM = 14
WARM_TILES = 200  # the tiles a warm map view keeps asking for (issue 13)

LOAD_SQL = """
INSERT INTO manholes (id, layer, code, geom, district_code, status, kind, condition, road_name,
                      owner_unit, version, created_by, updated_by)
SELECT gen_random_uuid(), 'manholes', 'JG-BENCH-' || lpad(i::text, 8, '0'),
       ST_SetSRID(ST_MakePoint(%(x0)s + random() * %(dx)s, %(y0)s + random() * %(dy)s), 4490),
       '410802',
       (ARRAY['in_service','pending','remediated','decommissioned'])[1 + (i %% 4)],
       (ARRAY['water_supply','sewage','rain','power','telecom','gas'])[1 + (i %% 6)],
       (ARRAY['intact','damaged','missing','sunken','rattling'])[1 + (i %% 5)],
       '道路' || (i %% 500),
       'owner ' || (i %% 50),
       1, 'bench', 'bench'
FROM generate_series(1, %(n)s) AS i
WHERE (i %% 4) <> 2  -- 'remediated' needs a date; skip those rows
"""


def viewer_token(dsn: str) -> str:
    """A viewer's API token: our server is measured as a GIS client reaches it (reading
    needs a token by default), tipg has no access control."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        user = create_user(conn, username="bench", password=secrets.token_urlsafe(16), role=Role.VIEWER)
        return create_token(conn, user, name="bench").token


def load(dsn: str, n: int) -> int:
    x0, y0, x1, y1 = AREA
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, PROJECT_ROOT / "sql")
        load_districts(conn)
        t = time.perf_counter()
        # 4/3 n rows generated, 3/4 kept → n rows
        conn.execute("ALTER TABLE manholes DISABLE TRIGGER manholes_before_write")
        conn.execute(LOAD_SQL, {"x0": x0, "y0": y0, "dx": x1 - x0, "dy": y1 - y0, "n": math.ceil(n * 4 / 3)})
        conn.execute("ALTER TABLE manholes ENABLE TRIGGER manholes_before_write")
        conn.execute("VACUUM ANALYZE manholes")
        count = conn.execute("SELECT count(*) FROM manholes").fetchone()[0]
        print(f"loaded {count:,} manholes in {time.perf_counter() - t:.1f} s")
        return count


def start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server died: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"server at {url} did not start")


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def make_urls(kind: str, base: str, collection: str, count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    x0, y0, x1, y1 = AREA
    urls = []
    for _ in range(count):
        lon = rnd.uniform(x0, x1 - BBOX_DEG)
        lat = rnd.uniform(y0, y1 - BBOX_DEG)
        if kind == "items":
            bbox = f"{lon:.6f},{lat:.6f},{lon + BBOX_DEG:.6f},{lat + BBOX_DEG:.6f}"
            urls.append(f"{base}/collections/{collection}/items?bbox={bbox}&limit=100")
        else:
            tx, ty = tile_xy(lon, lat, ZOOM)
            urls.append(f"{base}/collections/{collection}/tiles/WebMercatorQuad/{ZOOM}/{tx}/{ty}")
    return urls


def run(
    urls: list[str], concurrency: int, seconds: float, headers: dict[str, str]
) -> tuple[float, float, float, int]:
    """Hit the URLs round-robin for ``seconds``; return req/s, p50 ms, p95 ms, errors."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(timeout=60, headers=headers) as client:
            while time.perf_counter() < stop:
                url = urls[next(counter) % len(urls)]
                t = time.perf_counter()
                r = client.get(url)
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    if r.status_code not in (200, 204):
                        errors += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
    return len(latencies) / elapsed, p50, p95, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument(
        "--tipg", default="/work/tipg-venv/bin/python", help="python of a venv with tipg installed"
    )
    args = ap.parse_args()

    settings = Settings(
        _env_file=None,
        database_url=None,
        data_dir=Path(tempfile.mkdtemp(prefix="api-bench-")),
        pg_port=free_port(),
    )  # type: ignore[call-arg]
    cluster = Cluster(settings)
    cluster.up()
    procs: list[subprocess.Popen] = []
    try:
        dsn = cluster.dsn
        n = load(dsn, args.n)
        ours_port, tipg_port = free_port(), free_port()
        ours = f"http://127.0.0.1:{ours_port}/ogc"
        tipg = f"http://127.0.0.1:{tipg_port}"
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "web.app:create_app",
                    "--port",
                    str(ours_port),
                    "--log-level",
                    "warning",
                ],
                {"DATABASE_URL": dsn},
                f"{ours}/conformance",
            )
        )
        cold_port = free_port()
        ours_cold = f"http://127.0.0.1:{cold_port}/ogc"
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "web.app:create_app",
                    "--port",
                    str(cold_port),
                    "--log-level",
                    "warning",
                ],
                {"DATABASE_URL": dsn, "REGISTRY_TILE_CACHE": "false"},
                f"{ours_cold}/conformance",
            )
        )
        have_tipg = Path(args.tipg).exists()
        if have_tipg:
            procs.append(
                start(
                    [
                        args.tipg,
                        "-m",
                        "uvicorn",
                        "tipg.main:app",
                        "--port",
                        str(tipg_port),
                        "--log-level",
                        "warning",
                    ],
                    {
                        "DATABASE_URL": dsn,
                        "TIPG_DB_SCHEMAS": '["public"]',
                        "TIPG_DB_TABLES": '["public.manholes"]',
                        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
                    },
                    f"{tipg}/conformance",
                )
            )
        else:
            print(f"tipg not found at {args.tipg}: only our server is measured")
        token = {"Authorization": f"Bearer {viewer_token(dsn)}"}
        servers = [("ours", ours, "manholes", token)] + (
            [("tipg", tipg, "public.manholes", {})] if have_tipg else []
        )

        # sanity: both servers see the same features in the same bbox
        probe = make_urls("items", "", "", 1, 1)[0].split("?", 1)[1]
        for name, base, coll, headers in servers:
            fc = httpx.get(f"{base}/collections/{coll}/items?{probe}", timeout=60, headers=headers).json()
            print(
                f"{name}: probe bbox → numberMatched={fc.get('numberMatched')} "
                f"returned={fc.get('numberReturned')}"
            )

        results: dict[tuple[str, str, int], tuple[float, float, float, int]] = {}
        for kind in ("items", "tiles"):
            for conc in (1, 16):
                for name, base, coll, headers in servers:
                    # cold tiles: ours with its tile cache off (the ~250 z14 tiles of the
                    # area would otherwise be cached within the first seconds)
                    cold = kind == "tiles" and name == "ours"
                    urls = make_urls(kind, ours_cold if cold else base, coll, 2000, seed=42)
                    run(urls[:20], 2, 1.0, headers)  # warm up
                    results[(kind, name, conc)] = run(urls, conc, args.seconds, headers)
        # Warm tiles (issue 13): WARM_TILES tiles of another seed, each requested once
        # first, then the same tiles again and again. Ours answers them from its tile
        # cache (X-Tile-Cache: hit); tipg has none, so its figure is a warm PostgreSQL
        # buffer cache only.
        for name, base, coll, headers in servers:
            urls = make_urls("tiles", base, coll, WARM_TILES, seed=7)
            with httpx.Client(timeout=60, headers=headers) as client:
                hits = [client.get(u).headers.get("x-tile-cache") for u in urls + urls][len(urls) :]
            if name == "ours":
                print(f"ours: warm tiles primed, second pass {hits.count('hit')}/{len(hits)} cache hits")
            for conc in (1, 16):
                results[("tiles_warm", name, conc)] = run(urls, conc, args.seconds, headers)

        print(
            f"\n{n:,} assets; small bbox = {BBOX_DEG}° (~200 m), tiles z{ZOOM}; {args.seconds:.0f} s per cell"
        )
        print(f"{'scenario':<10}{'conc':>5}{'server':>7}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
        for (kind, name, conc), (rps, p50, p95, err) in results.items():
            print(f"{kind:<10}{conc:>5}{name:>7}{rps:>9.1f}{p50:>9.1f}{p95:>9.1f}{err:>8}")
        if have_tipg:
            print("\nratios ours/tipg (req/s: >1 is faster; p50: <1 is faster)")
            for kind in ("items", "tiles", "tiles_warm"):
                for conc in (1, 16):
                    o, t = results[(kind, "ours", conc)], results[(kind, "tipg", conc)]
                    print(
                        f"{kind:<10}{conc:>5}  req/s x{o[0] / t[0]:.2f}   "
                        f"p50 x{o[1] / t[1]:.2f}   p95 x{o[2] / t[2]:.2f}"
                    )
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        cluster.down()
        shutil.rmtree(cluster.base_dir, ignore_errors=True)  # ~3 GB for a million assets


if __name__ == "__main__":
    main()
