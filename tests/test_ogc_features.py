"""OGC API – Features Part 1/2 against a real PostGIS: landing, conformance,
collections, items (paging, bbox, datetime, properties, sortby), single items, CRS."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.factories import CENTRE
from tests.ogc_support import STEP, seed_all, seed_layer
from web.app import create_app


@pytest.fixture
def client(db: Settings, catalog: LayerCatalog) -> Iterator[TestClient]:
    with TestClient(create_app(db, catalog), headers=reader_headers(db, Role.VIEWER)) as c:
        yield c


@pytest.fixture
def seeded(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, int]:
    return seed_all(conn, catalog, 3)


def test_landing_links_to_api_conformance_and_collections(client: TestClient) -> None:
    r = client.get("/ogc")
    assert r.status_code == 200
    rels = {link["rel"] for link in r.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels


def test_landing_page_html_is_chinese_first(client: TestClient) -> None:
    r = client.get("/ogc?f=html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "焦作市城市管理资产登记" in r.text
    r = client.get("/ogc/collections", headers={"Accept": "text/html"})
    assert "道路脱空隐患" in r.text


def test_conformance_declares_core_geojson_crs_filter_and_transactions(client: TestClient) -> None:
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    for part in (
        "features-1/1.0/conf/core",
        "conf/geojson",
        "features-2/1.0/conf/crs",
        "features-3/1.0/conf/filter",
        "cql2/1.0/conf/cql2-text",
        "features-4/1.0/conf/create-replace-delete",
    ):
        assert any(part in c for c in classes), part


def test_openapi_document_is_version_3_0_and_lists_every_collection(
    client: TestClient, catalog: LayerCatalog
) -> None:
    r = client.get("/ogc/api")
    assert r.status_code == 200 and "openapi" in r.headers["content-type"]
    doc = r.json()
    assert doc["openapi"].startswith("3.0")
    for name in catalog.names():
        assert f"/collections/{name}/items" in doc["paths"]


def test_collections_list_every_layer_with_extent_and_crs(
    client: TestClient, catalog: LayerCatalog, seeded: dict[str, int]
) -> None:
    doc = client.get("/ogc/collections").json()
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) == set(catalog.names())
    road = by_id["road_voids"]
    assert road["storageCrs"].endswith("/EPSG/0/4490")
    assert "http://www.opengis.net/def/crs/EPSG/0/4547" in road["crs"]
    minx, miny, maxx, maxy = road["extent"]["spatial"]["bbox"][0]
    assert minx == pytest.approx(CENTRE[0]) and miny == pytest.approx(CENTRE[1])
    assert maxx > minx and maxy >= miny
    assert client.get("/ogc/collections/manholes").json()["id"] == "manholes"


def test_unknown_collection_is_404_problem(client: TestClient) -> None:
    r = client.get("/ogc/collections/nope/items")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "layer_not_found"


def test_items_are_geojson_with_counts_and_properties(client: TestClient, seeded: dict[str, int]) -> None:
    r = client.get("/ogc/collections/road_voids/items?sortby=code")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == 3 and fc["numberReturned"] == 3
    f = fc["features"][0]
    assert f["geometry"]["type"] == "Point"
    assert f["geometry"]["coordinates"][0] == pytest.approx(CENTRE[0])
    for key in ("code", "risk_grade", "road_name", "layer", "district_code", "version", "updated_at"):
        assert key in f["properties"]
    assert f["properties"]["district_code"] == "410802"


def test_paging_follows_next_and_prev_links(
    client: TestClient, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    seed_layer(conn, catalog.get("manholes"), 5)
    conn.commit()
    seen = []
    url = "/ogc/collections/manholes/items?limit=2&sortby=code"
    pages = 0
    while url:
        fc = client.get(url).json()
        assert fc["numberMatched"] == 5
        seen += [f["properties"]["code"] for f in fc["features"]]
        nxt = [link["href"] for link in fc["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
        pages += 1
    assert pages == 3 and seen == sorted(seen) and len(set(seen)) == 5
    fc = client.get("/ogc/collections/manholes/items?limit=2&offset=2").json()
    assert any(link["rel"] == "prev" for link in fc["links"])


def test_paging_in_the_default_order_follows_keyset_links_to_every_feature_once(
    client: TestClient, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    seed_layer(conn, catalog.get("manholes"), 7)
    conn.commit()
    ids, offsets, url = [], [], "/ogc/collections/manholes/items?limit=3"
    while url:
        fc = client.get(url).json()
        ids += [f["id"] for f in fc["features"]]
        nxt = [link["href"] for link in fc["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
        if url:
            assert "after=" in url  # the next page is an id range, not an OFFSET
            offsets.append(int(url.split("offset=")[1].split("&")[0]))
    assert ids == sorted(ids) and len(set(ids)) == 7 and offsets == [3, 6]
    # a page reached by keyset knows its previous page
    fc = client.get(f"/ogc/collections/manholes/items?limit=3&offset=3&after={ids[2]}").json()
    assert [f["id"] for f in fc["features"]] == ids[3:6] and fc["numberMatched"] == 7
    prev = next(link["href"] for link in fc["links"] if link["rel"] == "prev")
    assert "after=" not in prev and "offset=0" in prev
    assert client.get("/ogc/collections/manholes/items?after=not-an-id").status_code == 400


def test_a_large_match_is_counted_only_up_to_the_cap_and_says_so(
    client: TestClient, conn: psycopg.Connection, catalog: LayerCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("registry.features.COUNT_CAP", 4)
    seed_layer(conn, catalog.get("manholes"), 6)
    conn.commit()
    fc = client.get("/ogc/collections/manholes/items?limit=2").json()
    assert "numberMatched" not in fc and fc["numberMatchedAtLeast"] == 5
    assert fc["numberReturned"] == 2 and any(link["rel"] == "next" for link in fc["links"])
    # a match within the cap is counted exactly; the last page needs no count at all
    assert client.get("/ogc/collections/manholes/items?limit=2&code=nobody").json()["numberMatched"] == 0
    last = client.get("/ogc/collections/manholes/items?limit=2&offset=4").json()
    assert last["numberMatched"] == 6 and not any(link["rel"] == "next" for link in last["links"])


def test_bbox_selects_only_features_inside(client: TestClient, seeded: dict[str, int]) -> None:
    x, y = CENTRE
    bbox = f"{x - STEP / 2},{y - 0.001},{x + STEP * 1.5},{y + 0.001}"
    fc = client.get(f"/ogc/collections/road_voids/items?bbox={bbox}").json()
    assert fc["numberMatched"] == 2


def test_bbox_in_epsg_4490_is_latitude_first(client: TestClient, seeded: dict[str, int]) -> None:
    x, y = CENTRE
    bbox = f"{y - 0.001},{x - STEP / 2},{y + 0.001},{x + STEP * 1.5}"
    crs = "http://www.opengis.net/def/crs/EPSG/0/4490"
    fc = client.get(f"/ogc/collections/road_voids/items?bbox={bbox}&bbox-crs={crs}").json()
    assert fc["numberMatched"] == 2


def test_bbox_in_gauss_kruger_4547(client: TestClient, seeded: dict[str, int]) -> None:
    from pyproj import Transformer

    t = Transformer.from_crs(4490, 4547, always_xy=True)
    e0, n0 = t.transform(CENTRE[0] - STEP / 2, CENTRE[1] - 0.001)
    e1, n1 = t.transform(CENTRE[0] + STEP * 1.5, CENTRE[1] + 0.001)
    # EPSG:4547 axis order is northing, easting
    bbox = f"{n0},{e0},{n1},{e1}"
    fc = client.get(f"/ogc/collections/road_voids/items?bbox={bbox}&bbox-crs=EPSG:4547").json()
    assert fc["numberMatched"] == 2


@pytest.mark.parametrize(
    ("crs", "check"),
    [
        ("http://www.opengis.net/def/crs/EPSG/0/4490", lambda c: c == pytest.approx([CENTRE[1], CENTRE[0]])),
        (
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            lambda c: 1.26e7 < c[0] < 1.27e7 and 4.1e6 < c[1] < 4.3e6,
        ),
        # northing first, then the 3-degree zone easting around 500 km
        (
            "http://www.opengis.net/def/crs/EPSG/0/4547",
            lambda c: 3.8e6 < c[0] < 4.0e6 and 4.0e5 < c[1] < 6.0e5,
        ),
    ],
)
def test_crs_parameter_transforms_output_with_the_crs_axis_order(
    client: TestClient, seeded: dict[str, int], crs: str, check: object
) -> None:
    r = client.get(f"/ogc/collections/road_voids/items?crs={crs}&sortby=code")
    assert r.headers["content-crs"] == f"<{crs}>"
    coords = r.json()["features"][0]["geometry"]["coordinates"]
    assert check(coords), coords  # type: ignore[operator]


def test_properties_selection_and_sortby_descending(client: TestClient, seeded: dict[str, int]) -> None:
    fc = client.get("/ogc/collections/road_voids/items?properties=code,risk_grade&sortby=-code").json()
    props = [f["properties"] for f in fc["features"]]
    assert all(set(p) == {"code", "risk_grade"} for p in props)
    codes = [p["code"] for p in props]
    assert codes == sorted(codes, reverse=True)


def test_property_equality_and_datetime_filters(
    client: TestClient, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    spec = catalog.get("manholes")
    seed_layer(conn, spec, 2)
    conn.execute("UPDATE manholes SET updated_at = '2020-01-01' WHERE code = 'JG-TEST-0001'")
    conn.execute("ALTER TABLE manholes DISABLE TRIGGER manholes_before_write")
    conn.execute("UPDATE manholes SET updated_at = '2020-01-01', kind = 'gas' WHERE code = 'JG-TEST-0001'")
    conn.execute("ALTER TABLE manholes ENABLE TRIGGER manholes_before_write")
    conn.commit()
    fc = client.get("/ogc/collections/manholes/items?kind=gas").json()
    assert [f["properties"]["code"] for f in fc["features"]] == ["JG-TEST-0001"]
    fc = client.get("/ogc/collections/manholes/items?datetime=../2021-01-01T00:00:00Z").json()
    assert [f["properties"]["code"] for f in fc["features"]] == ["JG-TEST-0001"]
    fc = client.get("/ogc/collections/manholes/items?datetime=2021-01-01T00:00:00Z/..").json()
    assert [f["properties"]["code"] for f in fc["features"]] == ["JG-TEST-0002"]


def test_soft_deleted_assets_are_not_served(
    client: TestClient, conn: psycopg.Connection, seeded: dict[str, int]
) -> None:
    conn.execute("UPDATE road_voids SET deleted_at = now() WHERE code = 'KD-TEST-0001'")
    conn.commit()
    fc = client.get("/ogc/collections/road_voids/items").json()
    assert fc["numberMatched"] == 2
    fid = conn.execute("SELECT id FROM road_voids WHERE code = 'KD-TEST-0001'").fetchone()[0]
    assert client.get(f"/ogc/collections/road_voids/items/{fid}").status_code == 404


def test_single_item_has_etag_version_and_links(
    client: TestClient, conn: psycopg.Connection, seeded: dict[str, int]
) -> None:
    fid = conn.execute("SELECT id FROM road_voids ORDER BY code LIMIT 1").fetchone()[0]
    r = client.get(f"/ogc/collections/road_voids/items/{fid}")
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    assert r.json()["id"] == str(fid)
    assert (
        client.get(f"/ogc/collections/road_voids/items/{fid}", headers={"If-None-Match": '"1"'}).status_code
        == 304
    )
    assert client.get("/ogc/collections/road_voids/items/not-a-uuid").status_code == 404


def test_queryables_list_layer_attributes_with_enums(client: TestClient) -> None:
    doc = client.get("/ogc/collections/road_voids/queryables").json()
    assert doc["properties"]["risk_grade"]["enum"] == ["I", "II", "III", "IV"]
    assert doc["properties"]["detected_on"]["format"] == "date"
    assert "geometry" in doc["properties"]


def test_items_html_lists_features(client: TestClient, seeded: dict[str, int]) -> None:
    r = client.get("/ogc/collections/road_voids/items?f=html")
    assert r.status_code == 200 and "KD-TEST-0001" in r.text
