"""A 200 means committed; the database away is a 503 that says so, and it recovers."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.cluster import Cluster
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts, make_asset
from tests.dbproxy import db_proxy
from tests.live_server import live_server
from web.app import create_app

COMMIT_FAILS = """
CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.notes = 'COMMIT-FAILS' THEN
    RAISE check_violation USING MESSAGE = 'refused at commit';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER UPDATE ON road_voids
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit();
"""


def test_a_write_whose_commit_fails_is_never_answered_200(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    users = make_accounts(conn)
    record = make_asset(conn, catalog, "road_voids")
    conn.execute(COMMIT_FAILS)
    conn.commit()
    url = f"/api/assets/road_voids/{record['id']}"
    item = f"/ogc/collections/road_voids/items/{record['id']}"
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        client.headers.update(users[Role.ADMIN].bearer)
        refused = client.patch(url, json={"properties": {"notes": "COMMIT-FAILS"}})
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "commit_refused"
        after = client.get(item)
        assert after.status_code == 200, after.text
        assert after.headers["ETag"] == f'"{record["version"]}"'
        assert after.json()["properties"]["notes"] == record["notes"]
        # the same client and connection go on working
        ok = client.patch(url, json={"properties": {"notes": "复核"}})
        assert ok.status_code == 200 and ok.headers["ETag"] == f'"{record["version"] + 1}"'


def test_login_then_me_and_patch_then_get_back_to_back_never_see_the_past(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    users = make_accounts(conn)
    record = make_asset(conn, catalog, "road_voids")
    assert db.database_url
    with live_server(db.database_url) as base, httpx.Client(base_url=base, timeout=30) as http:
        admin = users[Role.ADMIN]
        stale_me = 0
        for _ in range(20):
            http.cookies.clear()
            login = http.post("/auth/login", json={"username": admin.username, "password": admin.password})
            assert login.status_code == 200
            stale_me += http.get("/auth/me").status_code != 200
        assert stale_me == 0
        http.cookies.clear()
        url = f"/api/assets/road_voids/{record['id']}"
        stale_reads = 0
        for n in range(150):
            written = http.patch(url, json={"properties": {"notes": f"第{n}次"}}, headers=admin.bearer)
            assert written.status_code == 200, written.text
            read = http.get(f"/ogc/collections/road_voids/items/{record['id']}", headers=admin.bearer)
            stale_reads += read.headers["ETag"] != written.headers["ETag"]
        assert stale_reads == 0


def _wait_for(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def cut_line(db: Settings, conn: psycopg.Connection, cluster: Cluster) -> Any:
    """The app reaches its database through a line the test can cut."""
    users = make_accounts(conn)
    with db_proxy(cluster.port) as proxy:
        assert db.database_url
        url = db.database_url.replace(f":{cluster.port}/", f":{proxy.port}/")
        settings = db.model_copy(update={"database_url": url, "pool_timeout": 1.0})
        yield proxy, settings, users


def test_database_down_is_a_503_with_retry_after_and_health_says_so_then_recovers(
    cut_line: Any,
) -> None:
    proxy, settings, users = cut_line
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(users[Role.VIEWER].bearer)
        assert client.get("/health").json()["database"]["reachable"] is True
        proxy.cut()
        health = client.get("/health")
        assert health.status_code == 503
        assert health.headers["Retry-After"]
        assert health.json()["database"]["reachable"] is False
        started = time.monotonic()
        data = client.get("/ogc/collections/road_voids/items")
        waited = time.monotonic() - started
        assert data.status_code == 503, data.text
        assert data.headers["content-type"] == "application/problem+json"
        assert data.json()["code"] == "database_unavailable"
        assert "数据库" in data.json()["detail"]
        assert data.headers["Retry-After"]
        assert waited < 5, f"a request waited {waited:.1f} s for a connection"
        proxy.start()
        recovered_at = _wait_for(lambda: client.get("/health").status_code == 200 and time.monotonic())
        assert client.get("/ogc/collections/road_voids/items").status_code == 200
        assert recovered_at - started < 20


def test_a_statement_past_the_timeout_is_a_503_problem(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    users = make_accounts(conn)
    record = make_asset(conn, catalog, "road_voids")
    conn.execute(
        "CREATE FUNCTION test_slow_district() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$; "
        "CREATE TRIGGER test_slow BEFORE UPDATE ON road_voids "
        "FOR EACH ROW EXECUTE FUNCTION test_slow_district()"
    )
    conn.commit()
    with TestClient(create_app(db.model_copy(update={"statement_timeout": 0.3}))) as client:
        client.headers.update(users[Role.ADMIN].bearer)
        response = client.patch(
            f"/api/assets/road_voids/{record['id']}", json={"properties": {"notes": "慢"}}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "query_timeout"
