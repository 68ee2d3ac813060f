"""API benchmark (issue 13): small-bbox item queries, a 5 km box of 1,000, z14 vector
tiles cold and warm on N assets (default 1,000,000), our server side by side with tipg
serving the same table, and our server with 1, 2 and 4 worker processes.

Usage:  .venv/bin/python bench/api_bench.py [--n 1000000] [--seconds 8]
        [--tipg var/tipg-venv/bin/python]

Starts its own PostgreSQL + PostGIS cluster in a temporary folder, migrates it,
bulk-loads N manholes with one generate_series INSERT (the write trigger is
disabled for the load: the district is set directly, which is what the trigger
would derive for these points in bulk). Ours runs as ``registry serve`` (web/serve.py),
tipg with uvicorn, one worker each for the side-by-side rows. Cold tiles are measured
on a second instance of ours with REGISTRY_TILE_CACHE=false; warm tiles on the first,
after each of WARM_TILES tiles was requested once. The load generator is a few
processes of threads on kept-alive connections (http.client: light enough that one
process is not the limit at 1,000+ req/s). Stock ``uvicorn --workers 2`` is measured
at c=1 on asyncio's loop, to show the kept-alive penalty ``registry serve --workers``
avoids, and on uvloop, which avoids it too.

Prints requests/s and p50/p95 latency, our/tipg ratios, and ``ROW |…|`` lines (the
issue's table rows: work | registry | peer | ratio | goal) that bench/run collects into
bench/results/latest.md. Never asserts times.
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
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
from pathlib import Path
from urllib.parse import urlsplit

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
BIG_BOX_DEG = (0.055, 0.045)  # ~5 km x 5 km at 35 deg N: "everything in this part of town"
BIG_LIMIT = 1000
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
        elif kind == "big":
            dx, dy = BIG_BOX_DEG
            lon, lat = rnd.uniform(x0, x1 - dx), rnd.uniform(y0, y1 - dy)
            bbox = f"{lon:.6f},{lat:.6f},{lon + dx:.6f},{lat + dy:.6f}"
            urls.append(f"{base}/collections/{collection}/items?bbox={bbox}&limit={BIG_LIMIT}")
        else:
            tx, ty = tile_xy(lon, lat, ZOOM)
            urls.append(f"{base}/collections/{collection}/tiles/WebMercatorQuad/{ZOOM}/{tx}/{ty}")
    return urls


def _load_process(
    urls: list[str], start: int, threads: int, stop_at: float, headers: dict[str, str], out: object
) -> None:
    """One load process: ``threads`` kept-alive connections, each taking URLs in turn."""
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(i: int) -> None:
        nonlocal errors
        parts = urlsplit(urls[0])
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)
        k = start + i
        mine: list[float] = []
        bad = 0
        while time.time() < stop_at:
            u = urlsplit(urls[k % len(urls)])
            k += 97  # another URL each time, spread over the list
            t = time.perf_counter()
            try:
                conn.request("GET", f"{u.path}?{u.query}" if u.query else u.path, headers=headers)
                r = conn.getresponse()
                r.read()
                ok = r.status in (200, 204)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(
                    parts.hostname or "127.0.0.1", parts.port or 80, timeout=120
                )
                ok = False
            mine.append(time.perf_counter() - t)
            bad += not ok
        with lock:
            lat.extend(mine)
            errors += bad

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    out.put((lat, errors))  # type: ignore[attr-defined]


def run_raw(
    urls: list[str], concurrency: int, seconds: float, headers: dict[str, str]
) -> tuple[list[float], int, float]:
    """Hit the URLs with ``concurrency`` kept-alive connections for ``seconds``; the
    latencies (s), the errors (non-2xx answers and failed requests) and the time taken.

    The connections are spread over up to 4 processes, so the client's own GIL is not
    what limits a fast server.
    """
    procs = min(concurrency, 4)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    stop_at = time.time() + seconds
    shares = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    workers = [
        ctx.Process(target=_load_process, args=(urls, 13 * i, n, stop_at, headers, out))
        for i, n in enumerate(shares)
    ]
    t0 = time.time()
    for w in workers:
        w.start()
    latencies: list[float] = []
    errors = 0
    for _ in workers:
        lat, err = out.get()
        latencies += lat
        errors += err
    for w in workers:
        w.join()
    return latencies, errors, max(time.time() - t0, seconds)


def summary(latencies: list[float], errors: int, elapsed: float) -> tuple[float, float, float, int]:
    """req/s, p50 ms, p95 ms, errors."""
    if not latencies:
        return 0.0, float("nan"), float("nan"), errors
    latencies = sorted(latencies)
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000
    return len(latencies) / elapsed, p50, p95, errors


def run(
    urls: list[str], concurrency: int, seconds: float, headers: dict[str, str]
) -> tuple[float, float, float, int]:
    """Hit the URLs for ``seconds``; req/s, p50 ms, p95 ms, errors."""
    return summary(*run_raw(urls, concurrency, seconds, headers))


def compare(
    contenders: list[tuple[str, list[str], dict[str, str]]], concurrency: int, seconds: float, rounds: int = 4
) -> dict[str, tuple[float, float, float, int]]:
    """Each contender's figures, measured in ``rounds`` alternating slices of
    ``seconds / rounds``: the machine is shared, and a load that comes and goes then
    weighs on both sides of a ratio alike instead of on whichever ran at the time."""
    got: dict[str, tuple[list[float], int, float]] = {name: ([], 0, 0.0) for name, _, _ in contenders}
    for _name, urls, headers in contenders:
        run_raw(urls[:20], 2, 0.5, headers)  # warm up
    for _ in range(rounds):
        for name, urls, headers in contenders:
            lat, err, took = run_raw(urls, concurrency, seconds / rounds, headers)
            acc = got[name]
            got[name] = (acc[0] + lat, acc[1] + err, acc[2] + took)
    return {name: summary(*acc) for name, acc in got.items()}


def ours_cmd(port: int, workers: int = 1) -> list[str]:
    """Our server as deployed: ``registry serve`` (web/serve.py)."""
    return [
        sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning",
    ]  # fmt: skip


def row(
    work: str, ours: float | None, peer: float | None, peer_name: str, goal: str, unit: str = "req/s"
) -> None:
    """One line of the issue's table, for bench/run's results file."""
    o = f"{ours:,.0f} {unit}" if ours is not None else "not measured"
    p = f"{peer_name} {peer:,.1f} {unit}" if peer is not None else f"{peer_name}: not measured"
    ratio = f"{ours / peer:.2f}×" if ours is not None and peer else "—"
    print(f"ROW | {work} | {o} | {p} | {ratio} | {goal} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument(
        "--tipg",
        default=str(PROJECT_ROOT / "var" / "tipg-venv" / "bin" / "python"),
        help="python of a venv with tipg installed (bench/run installs one)",
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

    def stop(proc: subprocess.Popen) -> None:
        proc.terminate()
        proc.wait(timeout=30)
        procs.remove(proc)

    def serve(cmd: list[str], env: dict[str, str], probe: str) -> subprocess.Popen:
        proc = start(cmd, env, probe)
        procs.append(proc)
        return proc

    try:
        dsn = cluster.dsn
        n = load(dsn, args.n)
        env = {"DATABASE_URL": dsn}
        ours_port, cold_port, tipg_port = free_port(), free_port(), free_port()
        ours = f"http://127.0.0.1:{ours_port}/ogc"
        ours_cold = f"http://127.0.0.1:{cold_port}/ogc"
        tipg = f"http://127.0.0.1:{tipg_port}"
        ours_proc = serve(ours_cmd(ours_port), env, f"{ours}/conformance")
        cold_proc = serve(
            ours_cmd(cold_port), {**env, "REGISTRY_TILE_CACHE": "false"}, f"{ours_cold}/conformance"
        )
        have_tipg = Path(args.tipg).exists()
        if have_tipg:
            serve(
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
                    **env,
                    "TIPG_DB_SCHEMAS": '["public"]',
                    "TIPG_DB_TABLES": '["public.manholes"]',
                    "TIPG_MAX_FEATURES_PER_QUERY": "10000",
                },
                f"{tipg}/conformance",
            )
        else:
            print(f"tipg NOT INSTALLED at {args.tipg}: no peer figures (bench/run installs it into var/)")
        token = {"Authorization": f"Bearer {viewer_token(dsn)}"}
        servers = [("ours", ours, "manholes", token)] + (
            [("tipg", tipg, "public.manholes", {})] if have_tipg else []
        )

        # sanity: both servers see the same features in the same bbox
        for kind in ("items", "big"):
            probe = make_urls(kind, "", "", 1, 1)[0].split("?", 1)[1]
            for name, base, coll, headers in servers:
                fc = httpx.get(
                    f"{base}/collections/{coll}/items?{probe}", timeout=120, headers=headers
                ).json()
                print(
                    f"{name}: {kind} probe → numberMatched={fc.get('numberMatched')} "
                    f"(at least {fc.get('numberMatchedAtLeast')}) returned={fc.get('numberReturned')}"
                )

        results: dict[tuple[str, str, int], tuple[float, float, float, int]] = {}

        def cell(kind: str, conc: int, contenders: list[tuple[str, list[str], dict[str, str]]]) -> None:
            for name, figures in compare(contenders, conc, args.seconds).items():
                results[(kind, name, conc)] = figures
                rps, p50, p95, err = figures
                print(
                    f"  {kind:<11}{conc:>4} {name:<12}{rps:>9.1f} req/s  "
                    f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  errors {err}",
                    flush=True,
                )

        for kind in ("items", "tiles", "big"):
            for conc in (1, 16) if kind != "big" else (1, 4):
                contenders = []
                for name, base, coll, headers in servers:
                    # cold tiles: ours with its tile cache off (the ~250 z14 tiles of the
                    # area would otherwise be cached within the first seconds)
                    cold = kind == "tiles" and name == "ours"
                    urls = make_urls(kind, ours_cold if cold else base, coll, 2000, seed=42)
                    contenders.append((name, urls, headers))
                cell(kind, conc, contenders)
        stop(cold_proc)
        # Warm tiles (issue 13): WARM_TILES tiles of another seed, each requested once
        # first, then the same tiles again and again. Ours answers them from its tile
        # cache (X-Tile-Cache: hit); tipg has none, so its figure is a warm PostgreSQL
        # buffer cache only.
        warm = []
        for name, base, coll, headers in servers:
            urls = make_urls("tiles", base, coll, WARM_TILES, seed=7)
            with httpx.Client(timeout=60, headers=headers) as client:
                hits = [client.get(u).headers.get("x-tile-cache") for u in urls + urls][len(urls) :]
            if name == "ours":
                print(f"ours: warm tiles primed, second pass {hits.count('hit')}/{len(hits)} cache hits")
            warm.append((name, urls, headers))
        for conc in (1, 16):
            cell("tiles_warm", conc, warm)
        stop(ours_proc)

        # Worker processes: registry serve --workers N (TCP_NODELAY kept, web/serve.py);
        # each new server primes its own in-process tiles first.
        # all three at once (idle workers cost nothing), so they share the same moments
        scaled_items, scaled_warm, scaled = [], [], []
        for workers in (1, 2, 4):
            port = free_port()
            base = f"http://127.0.0.1:{port}/ogc"
            scaled.append(serve(ours_cmd(port, workers), env, f"{base}/conformance"))
            name = f"ours w{workers}"
            warm_w = make_urls("tiles", base, "manholes", WARM_TILES, seed=7)
            with httpx.Client(timeout=60, headers=token) as client:
                for _ in range(2 * workers):  # each worker sees (most of) them
                    for u in warm_w:
                        client.get(u)
            scaled_items.append((name, make_urls("items", base, "manholes", 2000, seed=42), token))
            scaled_warm.append((name, warm_w, token))
        for conc in (1, 16):
            cell("items", conc, scaled_items)
        cell("tiles_warm", 16, scaled_warm)
        for proc in scaled:
            stop(proc)
        # the upstream penalty: stock uvicorn --workers 2, kept-alive connections, on
        # asyncio's loop (it lacks TCP_NODELAY there) and on uvloop (which sets it itself)
        for name, loop in (("uvicorn w2", "asyncio"), ("uvicorn w2 uv", "uvloop")):
            port = free_port()
            base = f"http://127.0.0.1:{port}/ogc"
            stock = [
                sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--port", str(port),
                "--workers", "2", "--loop", loop, "--log-level", "warning",
            ]  # fmt: skip
            proc = serve(stock, env, f"{base}/conformance")
            cell("items", 1, [(name, make_urls("items", base, "manholes", 2000, seed=42), token)])
            stop(proc)

        print(
            f"\n{n:,} assets; small bbox = {BBOX_DEG}° (~200 m), big box = {BIG_BOX_DEG}° (~5 km) "
            f"limit {BIG_LIMIT}, tiles z{ZOOM}; {args.seconds:.0f} s per cell"
        )
        print(
            f"{'scenario':<11}{'conc':>5} {'server':<12}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
        )
        for (kind, name, conc), (rps, p50, p95, err) in results.items():
            print(f"{kind:<11}{conc:>5} {name:<12}{rps:>9.1f}{p50:>9.1f}{p95:>9.1f}{err:>8}")
        if have_tipg:
            print("\nratios ours/tipg (req/s: >1 is faster; p50: <1 is faster)")
            for kind, concs in (
                ("items", (1, 16)),
                ("tiles", (1, 16)),
                ("tiles_warm", (1, 16)),
                ("big", (1, 4)),
            ):
                for conc in concs:
                    o, t = results[(kind, "ours", conc)], results[(kind, "tipg", conc)]
                    print(
                        f"{kind:<11}{conc:>5}  req/s x{o[0] / t[0]:.2f}   "
                        f"p50 x{o[1] / t[1]:.2f}   p95 x{o[2] / t[2]:.2f}"
                    )

        def rps(kind: str, name: str, conc: int) -> float | None:
            got = results.get((kind, name, conc))
            return got[0] if got else None

        label = f"{n // 1000:,}k manholes" if n < 1_000_000 else f"{n / 1e6:g}M manholes"
        print()
        row(
            f"items, 200 m box, c=1 ({label})",
            rps("items", "ours", 1),
            rps("items", "tipg", 1),
            "tipg",
            "≥ 3×",
        )
        row("items, 200 m box, c=16", rps("items", "ours", 16), rps("items", "tipg", 16), "tipg", "≥ 3×")
        row("z14 tiles cold, c=1", rps("tiles", "ours", 1), rps("tiles", "tipg", 1), "tipg", "≥ 2×")
        row("z14 tiles cold, c=16", rps("tiles", "ours", 16), rps("tiles", "tipg", 16), "tipg", "≥ 2×")
        row("z14 tiles warm, c=16 (1 worker)", rps("tiles_warm", "ours", 16), rps("tiles_warm", "tipg", 16),
            "tipg (no tile cache)", "≥ 1,000 req/s")  # fmt: skip
        for w in (2, 4):
            row(f"z14 tiles warm, c=16, registry serve --workers {w}", rps("tiles_warm", f"ours w{w}", 16),
                rps("tiles_warm", "tipg", 16), "tipg 1 worker", "≥ 1,000 req/s")  # fmt: skip
        row(f"5 km box, limit {BIG_LIMIT}, c=1", rps("big", "ours", 1), rps("big", "tipg", 1), "tipg", "≥ 5×")
        for w in (1, 2, 4):
            row(f"items c=16, registry serve --workers {w}", rps("items", f"ours w{w}", 16),
                rps("items", "tipg", 16), "tipg 1 worker", "1/2/4 workers shown")  # fmt: skip
        ours_p50 = results.get(("items", "ours w2", 1))
        for name, label in (("uvicorn w2", "--loop asyncio"), ("uvicorn w2 uv", "--loop uvloop")):
            stock_p50 = results.get(("items", name, 1))
            if stock_p50 and ours_p50:
                print(
                    f"ROW | items c=1 p50, 2 workers: registry serve vs stock uvicorn --workers 2 {label} | "
                    f"{ours_p50[1]:.1f} ms | uvicorn {stock_p50[1]:.1f} ms | "
                    f"{stock_p50[1] / ours_p50[1]:.1f}× faster | no +40 ms kept-alive penalty |"
                )
    finally:
        for p in list(procs):
            p.terminate()
            p.wait(timeout=30)
        cluster.down()
        shutil.rmtree(cluster.base_dir, ignore_errors=True)  # ~3 GB for a million assets


if __name__ == "__main__":
    main()
