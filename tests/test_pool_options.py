"""Pool options for deployments behind PgBouncer (docs/scaling.md)."""

from __future__ import annotations

import time

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry import db as registry_db
from registry.catalog import LayerCatalog
from registry.db import make_pool
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.ogc_support import seed_all
from web.app import create_app


def test_prepared_statements_can_be_turned_off_for_pgbouncer(db: Settings) -> None:
    for threshold, expected in ((5, 5), (0, None)):
        pool = make_pool(db.model_copy(update={"prepare_threshold": threshold}), max_size=1)
        pool.open(wait=True, timeout=30)
        try:
            with pool.connection() as conn:
                assert conn.prepare_threshold == expected
                for _ in range(7):
                    conn.execute("SELECT 1 WHERE %s", (True,))
                prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
                assert (prepared[0] > 0) is (expected is not None)
        finally:
            pool.close()


def test_a_read_takes_one_connection_of_the_pool_without_replicas(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    # authentication and the read share the request's connection: with a pool of one,
    # a second checkout would wait for the first and the request would be a 503
    seed_all(conn, catalog, 1)
    small = db.model_copy(update={"pool_max_size": 1, "pool_timeout": 2.0})
    with TestClient(create_app(small, catalog), headers=reader_headers(db, Role.VIEWER)) as client:
        for url in ("/ogc/collections/manholes/items?limit=5", "/api/search?layers=manholes"):
            assert client.get(url).status_code == 200, url


def test_prepared_statements_of_the_pool_run_on_generic_plans_unless_the_url_says_otherwise(
    db: Settings,
) -> None:
    """A repeated read is planned once, not on every run; an ``options`` in DATABASE_URL
    still wins (docs/scaling.md: the same setting for PgBouncer goes on the role)."""
    assert db.database_url
    custom = f"{db.database_url}{'&' if '?' in db.database_url else '?'}options=-c%20plan_cache_mode%3Dauto"
    for settings, expected in (
        (db, "force_generic_plan"),
        (db.model_copy(update={"database_url": custom}), "auto"),
    ):
        pool = make_pool(settings, max_size=1)
        pool.open(wait=True, timeout=30)
        try:
            with pool.connection() as conn:
                assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == expected
                for n in range(7):
                    conn.execute("SELECT count(*) FROM assets WHERE layer = %s", (f"layer{n}",))
                plans = conn.execute(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE 'SELECT count(*) FROM assets%%'"
                ).fetchone()
                assert plans is not None
                assert (plans[1] == 0) is (expected == "force_generic_plan")
        finally:
            pool.close()


def test_a_connection_idle_over_a_second_is_tested_before_use_and_a_just_returned_one_is_not(
    db: Settings, conn: psycopg.Connection
) -> None:
    """The pool's liveness query is skipped only for a connection handed back within the
    last second (registry/db.py): a backend that died while idle longer is replaced before
    use; one that died within the second fails its next statement and is then dropped."""
    pool = make_pool(db, min_size=1, max_size=1)
    pool.open(wait=True, timeout=30)
    try:
        for aged in (True, False):
            with pool.connection() as c:
                pid = c.info.backend_pid
            # returns once the backend has exited (or after 10 s)
            assert conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)
            if aged:
                registry_db._returned_at[c] = time.monotonic() - 2 * registry_db.RECENTLY_RETURNED_S
                with pool.connection() as fresh:
                    assert fresh.info.backend_pid != pid
                    assert fresh.execute("SELECT 1").fetchone() == (1,)
            else:
                with pytest.raises(psycopg.OperationalError), pool.connection() as stale:
                    stale.execute("SELECT 1")
                with pool.connection(timeout=30) as fresh:
                    assert fresh.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.close()
