"""One rule for time: a timestamp without an offset is China Standard Time (UTC+8) at
every endpoint, and every timestamp the API returns carries its offset."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.clock import CHINA
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts, make_asset
from web.app import create_app

OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def test_a_zoneless_timestamp_means_the_same_instant_in_search_asof_and_ogc(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    users = make_accounts(conn)
    record = make_asset(conn, catalog, "road_voids")
    stamp = dt.datetime.fromisoformat(record["updated_at"]).astimezone(CHINA).replace(tzinfo=None)
    before = (stamp - dt.timedelta(seconds=1)).isoformat(timespec="seconds")
    after = (stamp + dt.timedelta(seconds=1)).isoformat(timespec="seconds")
    with TestClient(create_app(db), headers=users[Role.ADMIN].bearer) as client:

        def search(since: str) -> int:
            return client.get("/api/search", params={"layers": "road_voids", "updated_from": since}).json()[
                "numberMatched"
            ]

        def asof(t: str) -> int:
            return len(client.get("/api/layers/road_voids/asof", params={"t": t}).json()["features"])

        def cql(t: str) -> int:
            got = client.get(
                "/ogc/collections/road_voids/items",
                params={"filter": f"updated_at >= TIMESTAMP('{t}')", "filter-lang": "cql2-text"},
            )
            assert got.status_code == 200, got.text
            return len(got.json()["features"])

        # the same wall-clock string is the same instant everywhere
        assert (search(before), asof(before), cql(before)) == (1, 0, 1)
        assert (search(after), asof(after), cql(after)) == (0, 1, 0)
        # what comes back always says its offset
        item = client.get(f"/ogc/collections/road_voids/items/{record['id']}").json()["properties"]
        history: Any = client.get(f"/api/assets/road_voids/{record['id']}/history").json()
    assert OFFSET.search(item["updated_at"]) and OFFSET.search(item["created_at"])
    assert all(OFFSET.search(e["at"]) for e in history["entries"])
