"""A new layer is one module in layers/ and one migration in sql/: the API, edit
rights, tiles, search, import, export and the map's catalogue pick it up with
nothing else changed. This test declares a throw-away seventh layer (kiosks) and its
migration, and walks every one of those paths."""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from layers import default_catalog
from registry.migrate import migrate
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Settings
from registry.spec import Attr, AttrType, Choice, LayerSpec, Style
from tests.authkit import make_accounts
from web.app import create_app

KINDS = (Choice("kiosk", "城管岗亭", "Kiosk"), Choice("station", "环卫驿站", "Sanitation station"))
KIOSKS = LayerSpec(
    name="kiosks",
    zh="岗亭驿站",
    en="Kiosks and stations",
    geometry_types=("Point",),
    code_prefix="GT",
    statuses=(Choice("in_use", "在用", "In use"), Choice("removed", "已拆除", "Removed")),
    attrs=(
        Attr("name", AttrType.TEXT, "名称", "Name", required=True, aliases=("名称", "name")),
        Attr("kind", AttrType.TEXT, "类型", "Kind", required=True, choices=KINDS, aliases=("类型", "kind")),
        Attr("staff", AttrType.INTEGER, "值守人数", "Staff", min=0, max=50, aliases=("值守人数",)),
    ),
    style=Style(by="kind", colors={"kiosk": "#1f78b4", "station": "#33a02c"}),
    grants={"officer": frozenset({"create", "update", "import"})},
    text_search=("name",),
    filters=("kind",),
    map_attrs=("kind", "name"),
)
MIGRATION = """
CREATE TABLE kiosks (
    name  text NOT NULL,
    kind  text NOT NULL CONSTRAINT kiosks_kind_allowed CHECK (kind IN ('kiosk', 'station')),
    staff integer CONSTRAINT kiosks_staff_range CHECK (staff BETWEEN 0 AND 50),
    CONSTRAINT kiosks_status_allowed CHECK (status IN ('in_use', 'removed'))
) INHERITS (assets);
SELECT registry_attach_layer('kiosks', ARRAY['POINT']);
"""
LON, LAT = 113.2418, 35.2155


@pytest.fixture
def api(
    db: Settings, conn: psycopg.Connection, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[Role, Any]]]:
    sql_dir = tmp_path / "sql"
    shutil.copytree(PROJECT_ROOT / "sql", sql_dir)
    (sql_dir / "9001_kiosks.sql").write_text(MIGRATION)
    applied = migrate(conn, sql_dir)
    assert len(applied) == 1 and "9001" in str(applied[0])
    conn.commit()
    users = make_accounts(conn)
    catalog = default_catalog().register(KIOSKS)
    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_app(settings, catalog)) as client:
        yield client, users


def _tile(z: int) -> tuple[int, int]:
    n = 2**z
    return int((LON + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * n)


def test_a_seventh_layer_declared_once_is_served_edited_tiled_searched_imported_and_exported(
    api: Any,
) -> None:
    client, users = api
    officer, planner = users[Role.OFFICER].bearer, users[Role.PLANNER].bearer
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": {
            "code": "GT-0001",
            "status": "在用",
            "name": "塔南路岗亭",
            "kind": "城管岗亭",
            "staff": 2,
        },
    }
    # edit rights come from the layer's own grants
    assert client.post("/ogc/collections/kiosks/items", json=feature, headers=planner).status_code == 403
    created = client.post("/ogc/collections/kiosks/items", json=feature, headers=officer)
    assert created.status_code == 201, created.text
    me = client.get("/auth/me", headers=officer).json()
    assert set(me["permissions"]["kiosks"]) == {"read", "create", "update", "import"}
    # OGC API collection and items, with the district derived by the database
    assert "kiosks" in [
        c["id"] for c in client.get("/ogc/collections", headers=officer).json()["collections"]
    ]
    items = client.get("/ogc/collections/kiosks/items", headers=officer).json()["features"]
    assert [f["properties"]["kind"] for f in items] == ["kiosk"]
    assert items[0]["properties"]["district_code"] == "410802"
    # the map's catalogue: labels, choices, filters, style
    layer = next(x for x in client.get("/api/layers").json()["layers"] if x["name"] == "kiosks")
    assert layer["zh"] == "岗亭驿站" and layer["filters"] == ["status", "kind"]
    assert layer["style"]["colors"]["station"] == "#33a02c"
    # vector tiles carry the declared map attributes
    x, y = _tile(15)
    tile = client.get(f"/ogc/collections/kiosks/tiles/WebMercatorQuad/15/{x}/{y}", headers=officer)
    (drawn,) = mapbox_vector_tile.decode(tile.content)["kiosks"]["features"]
    assert drawn["properties"]["name"] == "塔南路岗亭" and drawn["properties"]["kind"] == "kiosk"
    # search: free text over the declared attributes, and the declared value filter
    found = client.get("/api/search", params={"q": "塔南路", "layers": "kiosks"}, headers=officer).json()
    assert [f["properties"]["code"] for f in found["features"]] == ["GT-0001"]
    none = client.get("/api/search", params={"kind": "station", "layers": "kiosks"}, headers=officer).json()
    assert none["features"] == []
    # import a surveyor-style CSV with Chinese headers
    rows = pd.DataFrame(
        [
            {
                "编号": "GT-0002",
                "状态": "在用",
                "名称": "民主路驿站",
                "类型": "环卫驿站",
                "经度": LON + 0.001,
                "纬度": LAT,
            }
        ]
    )
    upload = ("岗亭.csv", rows.to_csv(index=False).encode(), "text/csv")
    imported = client.post("/api/imports", data={"layer": "kiosks"}, files={"file": upload}, headers=officer)
    assert imported.status_code == 200, imported.text
    assert imported.json()["summary"]["created"] == 1
    # export the whole layer and read it back
    exported = client.get("/api/export", params={"layer": "kiosks", "format": "csv"}, headers=officer)
    assert exported.status_code == 200
    codes = sorted(pd.read_csv(io.BytesIO(exported.content))["编号"])  # (Chinese headers by default)
    assert codes == ["GT-0001", "GT-0002"]
