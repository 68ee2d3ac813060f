"""The gazetteer on the demo data (issue 11): roads and places by name, intersections
from the two centre lines, addresses from a crossing, "did you mean" suggestions; and
the export of every match of a search (not the listed page)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from layers.demo import seed_demo
from registry.catalog import LayerCatalog
from registry.cluster import Cluster
from registry.permissions import Role
from registry.places import find as places_find
from registry.settings import Settings
from tests.authkit import make_accounts
from tests.conftest import template_copy
from web.app import create_app


@pytest.fixture(scope="module")
def demo(cluster: Cluster, template_db: str) -> Iterator[Settings]:
    """A database holding the demo (assets and gazetteer)."""
    with template_copy(cluster, template_db, "test_places") as url:
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        with psycopg.connect(url) as conn:
            seed_demo(conn)
            conn.commit()
        yield settings


@pytest.fixture(scope="module")
def client(demo: Settings, catalog: LayerCatalog) -> Iterator[TestClient]:
    """A viewer's client on the demo."""
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        headers = make_accounts(conn)[Role.VIEWER].bearer
    with TestClient(create_app(demo, catalog), headers=headers) as c:
        yield c


def _sql_point(demo: Settings, query: str, *args: object) -> tuple[float, float]:
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


def test_the_demo_seeds_the_gazetteer_with_every_street(demo: Settings) -> None:
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        roads = {r[0] for r in conn.execute("SELECT name FROM places WHERE kind = 'road' AND is_demo")}
        places = conn.execute("SELECT count(*) FROM places WHERE kind = 'place'").fetchone()[0]
        # seeding again changes nothing
        before = conn.execute("SELECT count(*), max(loaded_at) FROM places").fetchone()
        seed_demo(conn)
        assert conn.execute("SELECT count(*), max(loaded_at) FROM places").fetchone() == before
    assert {"解放路", "人民路", "塔南路", "塔北路", "恩州驿古街"} <= roads
    assert places > 50


def test_a_road_by_name_with_its_bounds(client: TestClient) -> None:
    body = client.get("/api/places", params={"q": "塔南"}).json()
    first = body["features"][0]
    assert first["properties"]["name"] == "塔南路" and first["properties"]["kind"] == "road"
    assert first["geometry"]["type"] == "MultiLineString"
    w, s, e, n = first["bbox"]
    assert w < first["properties"]["label"][0] < e + 1e-9 and s <= first["properties"]["label"][1] <= n


@pytest.mark.parametrize(
    "q", ["解放路与塔北路", "解放路/塔北路", "解放路和塔北路", "塔北路与解放路", "解放路塔北路口"]
)
def test_an_intersection_is_where_the_centre_lines_cross(client: TestClient, demo: Settings, q: str) -> None:
    expected = _sql_point(
        demo,
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Intersection(a.geom, b.geom) AS p FROM places a, places b "
        "WHERE a.name = '解放路' AND b.name = '塔北路' AND a.kind = 'road' AND b.kind = 'road') x",
    )
    body = client.get("/api/places", params={"q": q}).json()
    assert body["query"]["kind"] == "intersection"
    (f,) = body["features"]
    assert f["properties"]["crossing"] is True and set(f["properties"]["roads"]) == {"解放路", "塔北路"}
    assert f["geometry"]["coordinates"] == pytest.approx(list(expected), abs=1e-7)


def test_jiefang_and_renmin_roads(client: TestClient, demo: Settings) -> None:
    """解放路与人民路: found from the two centre lines. In the demo's sketches the two
    roads are parallel east-west streets that never meet, so the answer is the nearest
    point between them, with the gap, computed independently here."""
    body = client.get("/api/places", params={"q": "解放路与人民路"}).json()
    assert body["query"]["kind"] == "intersection" and body["message"] is None
    (f,) = body["features"]
    assert set(f["properties"]["roads"]) == {"解放路", "人民路"}
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        crosses, gap, x, y = conn.execute(
            "SELECT ST_Intersects(a.geom, b.geom), ST_Distance(a.geom::geography, b.geom::geography), "
            "ST_X(ST_LineInterpolatePoint(ST_ShortestLine(a.geom, b.geom), 0.5)), "
            "ST_Y(ST_LineInterpolatePoint(ST_ShortestLine(a.geom, b.geom), 0.5)) "
            "FROM places a, places b WHERE a.name = '解放路' AND b.name = '人民路'"
        ).fetchone()
    assert f["properties"]["crossing"] is crosses
    if not crosses:
        assert f["properties"]["gap_m"] == pytest.approx(gap, abs=0.1)
        assert f["geometry"]["coordinates"] == pytest.approx([x, y], abs=1e-7)
        assert "不相交" in body["note"]


def test_an_address_north_of_a_crossing(client: TestClient, demo: Settings) -> None:
    crossing = client.get("/api/places", params={"q": "人民路与塔南路"}).json()["features"][0]
    body = client.get("/api/places", params={"q": "人民路塔南路口北50米"}).json()
    assert body["query"]["kind"] == "address"
    (f,) = body["features"]
    lon0, lat0 = crossing["geometry"]["coordinates"]
    lon, lat = f["geometry"]["coordinates"]
    assert f["properties"]["from_point"] == [lon0, lat0]
    # 50 m north, measured independently on the spheroid
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        metres, azimuth = conn.execute(
            "SELECT ST_Distance(a::geography, b::geography), degrees(ST_Azimuth(a, b)) FROM "
            "(SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4490) a, ST_SetSRID(ST_MakePoint(%s, %s), 4490) b) x",
            (lon0, lat0, lon, lat),
        ).fetchone()
    assert metres == pytest.approx(50, abs=0.5) and azimuth == pytest.approx(0, abs=0.01)


def test_unknown_names_get_suggestions(client: TestClient) -> None:
    body = client.get("/api/places", params={"q": "解方路与人民路"}).json()
    assert body["features"] == [] and body["unmatched"] == "解方路"
    assert "解放路" in body["suggestions"]
    assert body["message"].startswith("没有找到“解方路”。您是不是要找：")
    assert body["message_code"] == "place_not_found_suggest"
    english = client.get("/api/places", params={"q": "解方路与人民路", "lang": "en"}).json()
    assert english["message"].startswith("Nothing found for “解方路”. Did you mean: ")
    assert "没有找到" not in english["message"] and " / " not in english["message"]
    body = client.get("/api/places", params={"q": "塔楠路"}).json()
    assert body["features"] == [] and body["suggestions"][:2] and "塔南路" in body["suggestions"]


def test_bad_place_queries_are_400(client: TestClient) -> None:
    assert client.get("/api/places", params={"q": "  "}).status_code == 400
    assert client.get("/api/places", params={"q": "路" * 101}).status_code == 400
    assert client.get("/api/places", params={"q": "人民路塔南路口北9000米"}).status_code == 400


def test_export_sends_every_match_of_the_search_not_the_page(
    client: TestClient, catalog: LayerCatalog
) -> None:
    search = "q=解放路&limit=200&offset=0"
    page = client.get("/api/search?" + search).json()
    total = page["numberMatched"]
    assert total > 200 and len(page["features"]) == 200
    res = client.get("/api/export", params={"format": "csv", "search": search})
    assert res.status_code == 200, res.text
    rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert len(rows) == total
    # the same assets the search pages list, all of them (codes are unique per layer)
    codes = set()
    for offset in range(0, total, 1000):
        more = client.get(f"/api/search?q=解放路&limit=1000&offset={offset}").json()["features"]
        codes |= {(f["properties"]["layer"], f["properties"]["code"]) for f in more}
    layer_col = next(k for k in rows[0] if k in ("layer", "图层"))
    code_col = next(k for k in rows[0] if k in ("code", "编号"))
    labels = {s.zh: s.name for s in catalog} | {s.name: s.name for s in catalog}
    assert {(labels[r[layer_col]], r[code_col]) for r in rows} == codes


def test_export_by_search_is_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from web.routes import export_search

    monkeypatch.setattr(export_search, "MAX_SEARCH_EXPORT", 100)
    res = client.get("/api/export", params={"format": "csv", "search": "q=解放路"})
    assert res.status_code == 422
    problem = res.json()
    assert problem["code"] == "export_too_large" and "100" in problem["detail"]


def test_a_gazetteer_file_is_imported_from_the_command_line(
    db: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Roads (lines) and places (points) of a GeoJSON in EPSG:4547, converted to CGCS2000;
    then the two roads' crossing is found."""
    import json

    from pyproj import Transformer
    from typer.testing import CliRunner

    from web.cli import app

    fwd = Transformer.from_crs("EPSG:4490", "EPSG:4547", always_xy=True)

    def line(pts: list[tuple[float, float]]) -> dict:
        return {"type": "LineString", "coordinates": [fwd.transform(*p) for p in pts]}

    def feature(name: str, geometry: dict) -> dict:
        return {"type": "Feature", "properties": {"名称": name}, "geometry": geometry}

    features = [
        feature("东西路", line([(113.20, 35.22), (113.26, 35.22)])),
        feature("南北路", line([(113.23, 35.20), (113.23, 35.24)])),
        feature("市民广场", {"type": "Point", "coordinates": fwd.transform(113.24, 35.23)}),
    ]
    crs = {"type": "name", "properties": {"name": "EPSG:4547"}}
    path = tmp_path / "地名.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "crs": crs, "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    assert db.database_url
    monkeypatch.setenv("DATABASE_URL", db.database_url)
    result = CliRunner().invoke(app, ["places", "import", str(path), "--name-field", "名称"])
    assert result.exit_code == 0, result.output
    assert "3" in result.output
    with psycopg.connect(db.database_url) as conn:
        found = places_find(conn, "东西路与南北路")
        square = places_find(conn, "市民广场")
    (f,) = found.features
    assert f["geometry"]["coordinates"] == pytest.approx([113.23, 35.22], abs=1e-6)
    assert square.features[0]["properties"]["kind"] == "place"
