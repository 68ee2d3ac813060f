"""Planners split a parking zone along a drawn line: the largest piece keeps the
asset, the others become new assets; capacity is shared by area; all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

from registry import history, store
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import Account, fingerprint, make_accounts
from tests.factories import CENTRE, make_properties
from web.app import create_app

X, Y = CENTRE
ZONE = box(X, Y, X + 0.0003, Y + 0.0001)  # ~27 m × 11 m
# a line across the zone at one third of its width
CUT = {"type": "LineString", "coordinates": [[X + 0.0001, Y - 0.00002], [X + 0.0001, Y + 0.00012]]}


@pytest.fixture
def planner(db: Settings, conn: psycopg.Connection) -> Iterator[tuple[TestClient, dict[Role, Account]]]:
    users = make_accounts(conn)
    with TestClient(create_app(db), headers=users[Role.PLANNER].bearer) as client:
        yield client, users


@pytest.fixture
def zone(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    spec = catalog.get("parking")
    props = make_properties(spec, 1, capacity=18, status="in_use")
    record = store.create_asset(conn, spec, props=props, geom=ZONE, actor="planner", via="api")
    conn.commit()
    return record


def test_split_keeps_the_larger_piece_and_creates_the_other_with_the_next_code(
    planner: Any, conn: psycopg.Connection, zone: dict[str, Any]
) -> None:
    client, _ = planner
    r = client.post(
        f"/api/assets/parking/{zone['id']}/split", json={"line": CUT}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    kept, new = r.json()["features"]
    assert kept["id"] == zone["id"] and kept["properties"]["version"] == 2 and r.headers["ETag"] == '"2"'
    assert new["properties"]["code"] == zone["code"] + "-2"
    assert shape(kept["geometry"]).area == pytest.approx(2 * shape(new["geometry"]).area, rel=1e-6)
    assert shape(kept["geometry"]).union(shape(new["geometry"])).equals(ZONE)
    assert (kept["properties"]["capacity"], new["properties"]["capacity"]) == (12, 6)
    assert new["properties"]["kind"] == zone["kind"] and new["properties"]["status"] == "in_use"
    # both writes are in the history, attributed to the planner
    assert [e.action for e in history.asset_history(conn, zone["id"])] == ["create", "update"]
    (created,) = history.asset_history(conn, new["id"])
    assert created.actor == "planner" and "split from" in (created.comment or "")
    # a piece of a piece is named after its parent
    again = client.post(
        f"/api/assets/parking/{new['id']}/split",
        json={"line": {"type": "LineString", "coordinates": [[X + 5e-5, Y - 1e-3], [X + 5e-5, Y + 1e-3]]}},
    )
    assert again.status_code == 200, again.text
    assert again.json()["features"][1]["properties"]["code"] == zone["code"] + "-2-2"


def test_a_line_that_does_not_cross_the_zone_is_refused_and_nothing_changes(
    planner: Any, conn: psycopg.Connection, zone: dict[str, Any]
) -> None:
    client, _ = planner
    before = fingerprint(conn)
    inside = {"type": "LineString", "coordinates": [[X + 0.0001, Y + 0.00002], [X + 0.0001, Y + 0.00008]]}
    r = client.post(f"/api/assets/parking/{zone['id']}/split", json={"line": inside})
    assert r.status_code == 400 and r.json()["parameter"] == "line"
    assert r.json()["detail"] == "分割线须从多边形的一边穿到另一边"
    en = client.post(f"/api/assets/parking/{zone['id']}/split?lang=en", json={"line": inside})
    assert en.status_code == 400 and "from one edge to another" in en.json()["detail"]
    point = client.post(
        f"/api/assets/parking/{zone['id']}/split", json={"line": {"type": "Point", "coordinates": [X, Y]}}
    )
    assert point.status_code == 400
    assert fingerprint(conn) == before


def test_a_stale_split_gets_412_and_nothing_changes(
    planner: Any, conn: psycopg.Connection, zone: dict[str, Any]
) -> None:
    client, _ = planner
    assert (
        client.patch(f"/api/assets/parking/{zone['id']}", json={"properties": {"notes": "x"}}).status_code
        == 200
    )
    before = fingerprint(conn)
    r = client.post(
        f"/api/assets/parking/{zone['id']}/split", json={"line": CUT}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 412 and r.json()["current_version"] == 2
    assert fingerprint(conn) == before
