"""What field capture's once-only sync costs (issue 14): a new asset sent through
``POST /api/field/submissions`` (idempotency key claimed, batch counted, answer kept, all
in the write's transaction) beside the same create through the OGC API
(``POST /ogc/collections/manholes/items``, no key), and a resend of an already stored
key (answered from the store, nothing written).

Usage:  .venv/bin/python bench/field_bench.py [--n 300] [--concurrency 1 8]

Starts its own throw-away cluster (or uses DATABASE_URL), serves the app with uvicorn
(one worker) and sends ``n`` creates per way and concurrency from a thread pool, as a
surveyor with an API token. Prints req/s and latency percentiles side by side from the
same run; never asserts anything. On the shared 2-core machine the numbers are noisy:
read the ratio.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_database
from registry.accounts import create_token, create_user
from registry.permissions import Role
from tests.live_server import live_server

# inside 解放区, spread so that no two bench assets share a point
X0, Y0 = 113.20, 35.20


def _props(tag: str, i: int) -> dict[str, Any]:
    return {"code": f"BENCH-{tag}-{i:06d}", "status": "in_service", "kind": "sewage", "condition": "intact"}


def _point(i: int) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [X0 + (i % 300) * 1e-4, Y0 + (i // 300) * 1e-4]}


def _measure(
    base: str, token: str, concurrency: int, n: int, send: Callable[[httpx.Client, int], httpx.Response]
) -> tuple[float, list[float], dict[int, int]]:
    """req/s, latencies (ms) and status counts of ``n`` requests at ``concurrency``."""
    clients = [
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        for _ in range(concurrency)
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def one(i: int) -> None:
        t = time.perf_counter()
        r = send(clients[i % concurrency], i)
        latencies.append((time.perf_counter() - t) * 1000)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    for c in clients:
        c.close()
    return n / wall, latencies, statuses


def _row(name: str, c: int, result: tuple[float, list[float], dict[int, int]]) -> str:
    rate, lat, statuses = result
    q = statistics.quantiles(lat, n=20)
    return f"{name:<34} c={c:<3} {rate:8.1f} req/s   p50 {q[9]:7.1f} ms   p95 {q[18]:7.1f} ms   {statuses}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            user = create_user(
                conn, username="bench_surveyor", password=secrets.token_urlsafe(16), role=Role.SURVEYOR
            )
            token = create_token(conn, user, name="bench").token
        with live_server(dsn) as base:
            httpx.get(f"{base}/health")
            print(f"# field sync bench: {args.n} creates per row, one uvicorn worker")
            for c in args.concurrency:
                tag = f"c{c}"
                keys = [str(uuid.uuid4()) for _ in range(args.n)]

                def ogc(client: httpx.Client, i: int, tag: str = tag) -> httpx.Response:
                    feature = {"type": "Feature", "geometry": _point(i), "properties": _props(f"O{tag}", i)}
                    return client.post("/ogc/collections/manholes/items", json=feature)

                def field(
                    client: httpx.Client, i: int, tag: str = tag, keys: list[str] = keys, c: int = c
                ) -> httpx.Response:
                    body = {
                        "kind": "create",
                        "layer": "manholes",
                        "geometry": _point(i),
                        "properties": _props(f"F{tag}", i),
                        "position": {
                            "lon": _point(i)["coordinates"][0],
                            "lat": _point(i)["coordinates"][1],
                            "accuracy_m": 3,
                            "source": "gps",
                        },
                    }
                    # one phone per client thread, as many phones syncing at once
                    headers = {"Idempotency-Key": keys[i], "X-Field-Device": f"phone-{i % c}"}
                    return client.post("/api/field/submissions", json=body, headers=headers)

                print(_row("OGC create (peer, no key)", c, _measure(base, token, c, args.n, ogc)), flush=True)
                print(
                    _row("field create (c phones, key kept)", c, _measure(base, token, c, args.n, field)),
                    flush=True,
                )
                print(
                    _row("field resend (answered from store)", c, _measure(base, token, c, args.n, field)),
                    flush=True,
                )


if __name__ == "__main__":
    main()
