"""The JSON the map page is built from, and the planners' parking check."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping

from layers import ALL_LAYERS
from registry.assets import AssetRow, upsert_assets
from registry.settings import Basemap, Settings
from tests.authkit import reader_headers
from tests.browser.conftest import bay
from tests.factories import make_properties
from web.app import create_app

PARKING = next(s for s in ALL_LAYERS if s.name == "parking")


@pytest.fixture
def client(db: Settings) -> Iterator[TestClient]:
    """A viewer's client: the map's data routes need READ (tests/test_map_auth.py)."""
    with TestClient(create_app(db), headers=reader_headers(db)) as c:
        yield c


def _add_bay(conn: psycopg.Connection, n: int, status: str = "in_use") -> None:
    props = make_properties(PARKING, n, status=status)
    upsert_assets(conn, PARKING, [AssetRow(props, bay(n))])
    conn.commit()


def test_layers_endpoint_serves_the_whole_catalogue_with_labels_and_choices(client: TestClient) -> None:
    body = client.get("/api/layers").json()
    assert [layer["name"] for layer in body["layers"]] == [s.name for s in ALL_LAYERS]
    voids = body["layers"][0]
    assert voids["zh"] == "道路脱空隐患"
    grade = next(a for a in voids["attrs"] if a["name"] == "risk_grade")
    assert {"code": "I", "zh": "Ⅰ级（最严重）", "en": "Grade I (most severe)"} in grade["choices"]
    assert voids["style"]["by"] == "risk_grade" and voids["style"]["colors"]["I"]
    assert next(a for a in voids["attrs"] if a["name"] == "area_m2")["computed"] is True
    water = next(layer for layer in body["layers"] if layer["name"] == "water_supply")
    assert water["children"][0]["name"] == "water_tests"


def test_districts_endpoint_returns_the_ten_simplified_boundaries(client: TestClient) -> None:
    res = client.get("/api/districts")
    assert res.headers["content-type"].startswith("application/geo+json")
    features = res.json()["features"]
    assert len(features) == 10
    assert {f["properties"]["name_zh"] for f in features} >= {"解放区", "山阳区", "孟州市"}
    assert len(res.content) < 400_000  # simplified for display


def test_map_page_is_chinese_and_loads_only_local_scripts(client: TestClient) -> None:
    html = client.get("/").text
    assert '<html lang="zh-CN">' in html and "焦作市城市管理资产地图" in html
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200


def test_basemaps_come_from_settings_with_their_datum(db: Settings) -> None:
    settings = db.model_copy(
        update={"basemaps": [Basemap(name="高德", url="http://127.0.0.1:1/{z}/{x}/{y}.png", crs="gcj02")]}
    )
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/config").json()["basemaps"][0]["crs"] == "gcj02"
        assert '"crs": "gcj02"' in c.get("/").text


def test_parking_check_reports_area_and_capacity_of_a_free_polygon(client: TestClient) -> None:
    body = client.post("/api/parking/check", json={"geometry": mapping(bay(30))}).json()
    assert body["ok"] is True
    assert 50 < body["area_m2"] < 60  # 11 m × 5 m
    assert body["capacity_estimate"] == int(body["area_m2"] // 15)


def test_parking_check_reports_overlap_with_the_overlap_geometry(client: TestClient, conn) -> None:
    _add_bay(conn, 2)
    # half a bay to the east of bay 2 overlaps it by ~27 m²
    shifted = (
        bay(2).buffer(0).__class__([(x + 5.5 / (111320 * 0.8171), y) for x, y in bay(2).exterior.coords])
    )
    body = client.post("/api/parking/check", json={"geometry": mapping(shifted)}).json()
    assert body["ok"] is False
    overlap = body["overlaps"]["features"][0]
    assert overlap["properties"]["code"] == "TC-TEST-0002"
    assert 20 < overlap["properties"]["overlap_m2"] < 35
    assert overlap["geometry"]["type"] == "Polygon"
    planned = client.post(
        "/api/parking/check", json={"geometry": mapping(shifted), "status": "planned"}
    ).json()
    assert planned["ok"] is True and planned["problems"][0]["code"] == "overlap"
    # said in the planner's language (the issue saw "已拒绝保存。 overlaps TC-2025-0215")
    zh = body["problems"][0]
    assert zh["msg"] == "parking_overlaps" and zh["message"].startswith("与 TC-TEST-0002 (")
    assert zh["message"].endswith("m²) 重叠")
    en = client.post(
        "/api/parking/check", json={"geometry": mapping(shifted)}, headers={"Accept-Language": "en"}
    ).json()
    assert en["problems"][0]["message"].startswith("overlaps TC-TEST-0002 (")


def test_parking_check_accepts_a_neighbour_sharing_an_edge(client: TestClient, conn) -> None:
    _add_bay(conn, 2)
    assert client.post("/api/parking/check", json={"geometry": mapping(bay(3))}).json()["ok"] is True


def test_parking_check_marks_the_spot_of_a_self_intersection(client: TestClient) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[113.25, 35.21], [113.251, 35.211], [113.251, 35.21], [113.25, 35.211], [113.25, 35.21]]
        ],
    }
    body = client.post("/api/parking/check", json={"geometry": bowtie}).json()
    assert body["ok"] is False
    problem = body["problems"][0]
    assert problem["code"] == "self_intersection"
    assert problem["location"] == pytest.approx([113.2505, 35.2105])


def test_database_refuses_an_overlapping_bay_unless_planned(conn) -> None:
    _add_bay(conn, 2)
    inside = bay(2).buffer(-0.00001)
    with pytest.raises(psycopg.errors.CheckViolation, match="overlaps parking TC-TEST-0002"):
        upsert_assets(conn, PARKING, [AssetRow(make_properties(PARKING, 9, status="in_use"), inside)])
    conn.rollback()
    upsert_assets(conn, PARKING, [AssetRow(make_properties(PARKING, 9, status="planned"), inside)])
    conn.commit()


def test_water_tests_of_a_site_are_listed_newest_first(client: TestClient, conn) -> None:
    from layers import default_catalog
    from tests.browser.conftest import seed_assets

    seed_assets(conn, default_catalog())
    site = conn.execute("SELECT id FROM water_supply WHERE code = 'GS-TEST-0001'").fetchone()[0]
    rows = client.get(f"/api/assets/water_supply/{site}/children/water_tests").json()["rows"]
    assert [r["tested_on"] for r in rows] == ["2025-06-01", "2025-03-01"]
    assert [r["passed"] for r in rows] == [False, True]
    assert client.get(f"/api/assets/water_supply/{site}/children/nope").status_code == 404


def test_upserting_a_bay_again_by_its_code_is_not_an_overlap_with_itself(conn) -> None:
    _add_bay(conn, 2)
    props = make_properties(PARKING, 2, status="in_use", notes="re-surveyed")
    counts = upsert_assets(conn, PARKING, [AssetRow(props, bay(2))])  # import or seed-demo again
    conn.commit()
    assert counts["updated"] == 1
    with pytest.raises(psycopg.errors.CheckViolation, match="overlaps parking TC-TEST-0002"):
        upsert_assets(conn, PARKING, [AssetRow(make_properties(PARKING, 7, status="in_use"), bay(2))])
    conn.rollback()
