"""Location search: radius with distances, k nearest, bbox, polygon, district, layers,
attribute and text filters, GCJ-02/BD-09 input points, paging, CSV, and 400s."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.coords import bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84, wgs84_to_gcj02
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.factories import CENTRE
from tests.ogc_support import STEP, seed_layer
from web.app import create_app

X, Y = CENTRE


@pytest.fixture
def client(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog) -> Iterator[TestClient]:
    # road voids and manholes on a line east of CENTRE, ~91 m apart
    seed_layer(conn, catalog.get("road_voids"), 5)
    seed_layer(conn, catalog.get("manholes"), 3)
    seed_layer(conn, catalog.get("markets"), 2)
    conn.execute("UPDATE road_voids SET risk_grade = 'II', road_name = '塔南路' WHERE code = 'KD-TEST-0002'")
    conn.execute("UPDATE manholes SET kind = 'gas', owner_unit = '焦作中裕燃气' WHERE code = 'JG-TEST-0003'")
    conn.commit()
    with TestClient(create_app(db, catalog), headers=reader_headers(db, Role.VIEWER)) as c:
        yield c


def hits(client: TestClient, **params: object) -> dict:
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_radius_search_sorts_by_distance_and_returns_metres(client: TestClient) -> None:
    fc = hits(client, lon=X, lat=Y, radius=150, layers="road_voids")
    codes = [f["properties"]["code"] for f in fc["features"]]
    assert codes == ["KD-TEST-0001", "KD-TEST-0002"]
    d = [f["properties"]["distance_m"] for f in fc["features"]]
    assert d[0] == pytest.approx(0, abs=0.01) and d[1] == pytest.approx(91, abs=2)


def test_radius_search_spans_layers(client: TestClient) -> None:
    fc = hits(client, lon=X, lat=Y, radius=50)
    assert {f["properties"]["layer"] for f in fc["features"]} == {"road_voids", "manholes", "markets"}
    fc = hits(client, lon=X, lat=Y, radius=50, layers="road_voids,manholes")
    assert {f["properties"]["layer"] for f in fc["features"]} == {"road_voids", "manholes"}


def test_k_nearest(client: TestClient) -> None:
    fc = hits(client, lon=X + 4.2 * STEP, lat=Y, nearest=2, layers="road_voids")
    assert [f["properties"]["code"] for f in fc["features"]] == ["KD-TEST-0005", "KD-TEST-0004"]
    assert fc["numberMatched"] == 2


def test_bbox_district_and_attribute_filters(client: TestClient, conn: psycopg.Connection) -> None:
    fc = hits(client, bbox=f"{X - 0.0001},{Y - 0.0001},{X + 1.5 * STEP},{Y + 0.0001}")
    assert fc["numberMatched"] == 2 + 2 + 2
    in_jiefang = conn.execute("SELECT count(*) FROM assets WHERE district_code = '410802'").fetchone()[0]
    assert 0 < in_jiefang < 10  # the line of test assets crosses a district boundary
    assert hits(client, district="410802")["numberMatched"] == in_jiefang
    assert hits(client, district="410811")["numberMatched"] == 10 - in_jiefang
    fc = hits(client, risk_grade="II")
    assert [f["properties"]["code"] for f in fc["features"]] == ["KD-TEST-0002"]
    fc = hits(client, kind="gas", owner="中裕")
    assert [f["properties"]["code"] for f in fc["features"]] == ["JG-TEST-0003"]
    assert hits(client, status="found", layers="road_voids")["numberMatched"] == 5


def test_text_query_on_code_and_road_name(client: TestClient) -> None:
    assert [f["properties"]["code"] for f in hits(client, q="塔南")["features"]] == ["KD-TEST-0002"]
    assert hits(client, q="JG-TEST")["numberMatched"] == 3
    assert hits(client, q="%")["numberMatched"] == 0  # a wildcard typed by the user is literal


def test_date_ranges(client: TestClient) -> None:
    assert (
        hits(client, date_field="found_on", date_from="2024-12-31", layers="road_voids")["numberMatched"] == 5
    )
    assert hits(client, date_field="found_on", date_to="2024-12-31")["numberMatched"] == 0
    assert hits(client, updated_from="2000-01-01")["numberMatched"] == 10
    assert hits(client, updated_to="2000-01-01")["numberMatched"] == 0


def test_polygon_search_by_post(client: TestClient) -> None:
    ring = [
        [X - 0.0002, Y - 0.0002],
        [X + 1.5 * STEP, Y - 0.0002],
        [X + 1.5 * STEP, Y + 0.0002],
        [X - 0.0002, Y + 0.0002],
        [X - 0.0002, Y - 0.0002],
    ]
    r = client.post(
        "/api/search", json={"geometry": {"type": "Polygon", "coordinates": [ring]}, "layers": ["road_voids"]}
    )
    assert r.status_code == 200, r.text
    assert [f["properties"]["code"] for f in r.json()["features"]] == ["KD-TEST-0001", "KD-TEST-0002"]


def test_gcj02_and_bd09_points_land_on_the_true_position(client: TestClient) -> None:
    glon, glat = wgs84_to_gcj02(X, Y)
    assert abs(glon - X) > 0.003  # the offset is hundreds of metres here
    fc = hits(client, lon=glon, lat=glat, coord_sys="gcj02", radius=5, layers="road_voids")
    assert [f["properties"]["code"] for f in fc["features"]] == ["KD-TEST-0001"]
    blon, blat = gcj02_to_bd09(glon, glat)
    fc = hits(client, lon=blon, lat=blat, coord_sys="bd09", radius=5, layers="road_voids")
    assert [f["properties"]["code"] for f in fc["features"]] == ["KD-TEST-0001"]
    # without conversion the same point finds nothing within 5 m
    assert hits(client, lon=glon, lat=glat, radius=5, layers="road_voids")["numberMatched"] == 0


def test_offset_inverses_land_within_centimetres() -> None:
    # GCJ-02's inverse is iterated to < 1 mm; Baidu's published BD-09 inverse (kept as
    # every converter has it) is good to ~15 cm.
    for lon, lat in [(113.2418, 35.2155), (112.9, 35.0), (113.6, 35.4)]:
        back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
        assert (float(back[0]), float(back[1])) == pytest.approx((lon, lat), abs=1e-8)
        back = bd09_to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
        assert (float(back[0]), float(back[1])) == pytest.approx((lon, lat), abs=2e-6)


def test_paging_reports_total(client: TestClient) -> None:
    first = hits(client, layers="road_voids", limit=2)
    assert first["numberMatched"] == 5 and first["numberReturned"] == 2
    last = hits(client, layers="road_voids", limit=2, offset=4)
    assert last["numberReturned"] == 1
    past = hits(client, layers="road_voids", limit=2, offset=10)
    assert past["numberMatched"] == 5 and past["numberReturned"] == 0
    codes = [
        f["properties"]["code"]
        for p in (0, 2, 4)
        for f in hits(client, layers="road_voids", limit=2, offset=p)["features"]
    ]
    assert len(set(codes)) == 5


def test_csv_output(client: TestClient) -> None:
    r = client.get(
        "/api/search", params={"lon": X, "lat": Y, "radius": 100, "layers": "road_voids", "f": "csv"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [row["code"] for row in rows] == ["KD-TEST-0001", "KD-TEST-0002"]
    assert float(rows[0]["lon"]) == pytest.approx(X) and rows[1]["distance_m"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"lon": "abc", "lat": "35"}, "lon"),
        ({"lon": "35.2", "lat": "113.2", "radius": "10"}, "lon/lat"),
        ({"lon": "113.2"}, "lat"),
        ({"lon": "113.2", "lat": "35.2", "radius": "-5"}, "radius"),
        ({"radius": "100"}, "radius"),
        ({"lon": "113.2", "lat": "35.2", "nearest": "0"}, "nearest"),
        ({"bbox": "113.3,35,113.2,36"}, "bbox"),
        ({"layers": "road_voids,nope"}, None),
        ({"coord_sys": "mars"}, "coord_sys"),
        ({"limit": "100000"}, "limit"),
        ({"date_field": "nope"}, "date_field"),
        ({"date_field": "found_on", "date_from": "yesterday"}, "date_from"),
        ({"f": "xml"}, "f"),
    ],
)
def test_bad_search_parameters_are_4xx_problems(
    client: TestClient, params: dict, parameter: str | None
) -> None:
    r = client.get("/api/search", params=params)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if parameter:
        assert r.json()["parameter"] == parameter


def test_bad_polygon_is_400(client: TestClient) -> None:
    r = client.post("/api/search", json={"geometry": {"type": "Point", "coordinates": [X, Y]}})
    assert r.status_code == 400 and r.json()["parameter"] == "geometry"
    bowtie = [[X, Y], [X + 0.01, Y + 0.01], [X + 0.01, Y], [X, Y + 0.01], [X, Y]]
    r = client.post("/api/search", json={"geometry": {"type": "Polygon", "coordinates": [bowtie]}})
    assert r.status_code == 400
