"""Cost of keeping history, and of reading it back.

Starts a throw-away PostgreSQL + PostGIS cluster (like the tests), then times:
bulk inserts and updates of road voids with the history trigger on and off, an
as-of query of the whole layer and of a bbox, one asset's history, and argon2
hashing/verification. Prints numbers; asserts nothing.

    .venv/bin/python bench/bench_history.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import psycopg
from argon2 import PasswordHasher
from psycopg import sql

from registry import history
from registry.cluster import Cluster
from registry.context import set_actor
from registry.districts import load_districts
from registry.migrate import migrate
from registry.settings import PROJECT_ROOT, Settings

INSERT = (
    "INSERT INTO road_voids (code, geom, status, road_name, risk_grade, found_on) "
    "SELECT 'B-' || %s || '-' || g, ST_SetSRID(ST_MakePoint(113.20 + g * 1e-5, 35.21), 4490), "
    "'found', '人民路', 'II', DATE '2025-01-01' FROM generate_series(1, %s) g"
)


def _timed(label: str, n: int, fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(
        f"{label:<46} {dt * 1000:9.1f} ms  {n / dt:10.0f} rows/s" if n else f"{label:<46} {dt * 1000:9.1f} ms"
    )
    return dt


def main(n: int) -> None:
    """Run every measurement once on a fresh cluster."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(_env_file=None, database_url=None, data_dir=Path(tempfile.mkdtemp()), pg_port=port)  # type: ignore[call-arg]
    cluster = Cluster(settings)
    cluster.up()
    try:
        dsn = cluster.dsn
        with psycopg.connect(dsn) as conn:
            migrate(conn, PROJECT_ROOT / "sql")
        with psycopg.connect(dsn) as conn:
            load_districts(conn)
        with psycopg.connect(dsn) as conn:
            set_actor(conn, "bench", via="import:1")
            print(f"N = {n} road voids")
            with_h = _timed("insert, history on", n, lambda: conn.execute(INSERT, ("on", n)))
            upd_h = _timed(
                "update all, history on",
                n,
                lambda: conn.execute("UPDATE road_voids SET road_name = '解放路' WHERE code LIKE 'B-on-%'"),
            )
            # the history triggers, one per event (sql/0110)
            history_triggers = ("road_voids_insert_history", "road_voids_update_history")
            switch = sql.SQL("ALTER TABLE road_voids {} TRIGGER {}")
            for trigger in history_triggers:
                conn.execute(switch.format(sql.SQL("DISABLE"), sql.Identifier(trigger)))
            without = _timed("insert, history off", n, lambda: conn.execute(INSERT, ("off", n)))
            upd = _timed(
                "update all, history off",
                n,
                lambda: conn.execute("UPDATE road_voids SET road_name = '解放路' WHERE code LIKE 'B-off-%'"),
            )
            for trigger in history_triggers:
                conn.execute(switch.format(sql.SQL("ENABLE"), sql.Identifier(trigger)))
            print(f"history overhead: insert x{with_h / without:.2f}, update x{upd_h / upd:.2f}")
            conn.commit()
            now = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
            _timed("layer as-of (whole layer)", 0, lambda: history.layer_as_of(conn, "road_voids", now))
            _timed(
                "layer as-of (bbox ~100 m)",
                0,
                lambda: history.layer_as_of(conn, "road_voids", now, bbox=(113.2, 35.2, 113.201, 35.22)),
            )
            some = conn.execute("SELECT asset_id FROM asset_history LIMIT 1").fetchone()[0]  # type: ignore[index]
            _timed("one asset's history", 0, lambda: history.asset_history(conn, some))
            _timed(
                "undo import:1 (create+update of N)", 2 * n, lambda: history.undo(conn, "import:1", actor="b")
            )
            conn.rollback()
    finally:
        cluster.down()
    hasher = PasswordHasher()
    h = hasher.hash("benchmark-password")
    _timed("argon2id hash (RFC 9106 low-memory profile)", 0, lambda: hasher.hash("benchmark-password"))
    _timed("argon2id verify", 0, lambda: hasher.verify(h, "benchmark-password"))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
