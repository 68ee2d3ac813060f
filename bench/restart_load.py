"""A 60-second mixed load at 24 clients with a PostgreSQL restart in the middle.

Usage:  .venv/bin/python bench/restart_load.py [--clients 24] [--seconds 60] [--restart-at 30]

Starts its own PostgreSQL + PostGIS cluster in a temporary folder, migrates it, loads
the Jiaozuo demo data, serves the app with uvicorn (one worker), and runs N client
threads, each looping over: list road voids, a radius search, a versioned PATCH of
the client's own asset (If-Match), and a read of that asset. Halfway, the cluster is
stopped (pg_ctl -m fast) and started again.

Prints requests, failures by status, the time from the restart to the first request
answered 2xx again, and lost updates: an asset whose stored notes are older than the
last write the server acknowledged with 200 (writes whose answer was an error may or
may not have committed; those are allowed values, not lost ones). Never asserts.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layers import default_catalog
from layers.demo import seed_demo
from registry import store
from registry.accounts import create_token, create_user
from registry.cluster import Cluster
from registry.districts import load_districts
from registry.migrate import migrate
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port
from tests.factories import make_properties, sample_geometry_for
from tests.live_server import live_server


def prepare(dsn: str, clients: int) -> tuple[str, list[str]]:
    """Migrate, seed the demo, and give each client an asset of its own; an admin token."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, PROJECT_ROOT / "sql")
        load_districts(conn)
    with psycopg.connect(dsn) as conn:
        seed_demo(conn)
        conn.commit()
        spec = default_catalog().get("road_voids")
        ids = []
        for i in range(clients):
            props = make_properties(spec, 9000 + i)
            geom = sample_geometry_for(spec, props, x=113.24 + i * 1e-4)
            rec = store.create_asset(conn, spec, props=props, geom=geom, actor="bench", via="bench")
            ids.append(str(rec["id"]))
        user = create_user(conn, username="loadbench", password=secrets.token_urlsafe(16), role=Role.ADMIN)
        token = create_token(conn, user, name="bench").token
        conn.commit()
    return token, ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--restart-at", type=float, default=30.0)
    args = ap.parse_args()
    settings = Settings(
        _env_file=None,
        database_url=None,
        data_dir=Path(tempfile.mkdtemp(prefix="restart-bench-")),
        pg_port=free_port(),
    )  # type: ignore[call-arg]
    cluster = Cluster(settings)
    cluster.up()
    servers = contextlib.ExitStack()
    try:
        token, ids = prepare(cluster.dsn, args.clients)
        base = servers.enter_context(live_server(cluster.dsn))
        statuses: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        acked: dict[str, str] = {}
        unknown: dict[str, set[str]] = collections.defaultdict(set)
        successes: list[float] = []
        t0 = time.monotonic()
        stop = t0 + args.seconds

        def record(kind: str) -> None:
            with lock:
                statuses[kind] += 1
                if kind.startswith("2"):
                    successes.append(time.monotonic())

        def client(i: int) -> None:
            asset = ids[i]
            headers = {"Authorization": f"Bearer {token}"}
            version: str | None = None
            n = 0
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                while time.monotonic() < stop:
                    for step in range(4):
                        try:
                            if step == 0:
                                r = http.get("/ogc/collections/road_voids/items", params={"limit": 20})
                            elif step == 1:
                                r = http.get(
                                    "/api/search", params={"lon": 113.2418, "lat": 35.2155, "radius": 800}
                                )
                            elif step == 2:
                                n += 1
                                value = f"c{i}-{n}"
                                h = {"If-Match": version} if version else {}
                                r = http.patch(
                                    f"/api/assets/road_voids/{asset}",
                                    json={"properties": {"notes": value}},
                                    headers=h,
                                )
                                if r.status_code == 200:
                                    acked[asset] = value
                                    unknown[asset].clear()
                                    version = r.headers.get("ETag")
                                else:
                                    unknown[asset].add(value)
                                    version = None
                            else:
                                r = http.get(f"/ogc/collections/road_voids/items/{asset}")
                                if r.status_code == 200:
                                    version = r.headers.get("ETag")
                            record(str(r.status_code))
                        except httpx.HTTPError as exc:
                            record(type(exc).__name__)
                            if step == 2:
                                unknown[asset].add(f"c{i}-{n}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(max(0.0, t0 + args.restart_at - time.monotonic()))
        restart_began = time.monotonic()
        cluster.down()
        cluster.up()
        restart_done = time.monotonic()
        for t in threads:
            t.join()
        first_ok_after = min((s for s in successes if s > restart_done), default=None)
        with psycopg.connect(cluster.dsn) as conn:
            stored = dict(
                conn.execute(
                    "SELECT id::text, notes FROM road_voids WHERE id = ANY(%s::uuid[])", (ids,)
                ).fetchall()
            )
        lost = [a for a in ids if a in acked and stored[a] != acked[a] and stored[a] not in unknown[a]]
        total = sum(statuses.values())
        failed = total - sum(v for k, v in statuses.items() if k.startswith("2"))
        print(f"clients {args.clients}, {args.seconds:.0f} s, PostgreSQL restart at {args.restart_at:.0f} s")
        print(f"requests {total}  ({total / args.seconds:.0f}/s)  failed {failed}")
        print("by status:", dict(sorted(statuses.items())))
        print(f"restart (stop+start) took {restart_done - restart_began:.1f} s")
        if first_ok_after is not None:
            print(f"first 2xx after the database was back: {first_ok_after - restart_done:.2f} s")
        print(f"acknowledged writes checked: {len(acked)} assets; lost updates: {len(lost)}")
    finally:
        servers.close()
        cluster.down()


if __name__ == "__main__":
    main()
