"""Vector tiles from PostGIS: per layer and all layers, attributes for styling,
204 for empty tiles, ETag/Cache-Control, 404/400 problems for impossible tiles."""

from __future__ import annotations

import math
from collections.abc import Iterator

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import LineString, box

from registry.assets import AssetRow, upsert_assets
from registry.catalog import LayerCatalog
from registry.cluster import Cluster
from registry.context import set_actor
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.conftest import template_copy
from tests.factories import CENTRE, make_properties
from tests.ogc_support import seed_all
from web.app import create_app


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture
def client(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog) -> Iterator[TestClient]:
    """A viewer's client on the test's own copy, 3 assets per layer (for tests that write)."""
    seed_all(conn, catalog, 3)
    with TestClient(create_app(db, catalog), headers=reader_headers(db, Role.VIEWER)) as c:
        yield c


@pytest.fixture(scope="module")
def shared_db(cluster: Cluster, template_db: str, catalog: LayerCatalog) -> Iterator[Settings]:
    """One copy of the template for the module's read-only tests, seeded once with 3
    assets per layer; dropped after the module."""
    with template_copy(cluster, template_db, "tiles") as url:
        with psycopg.connect(url) as conn:
            seed_all(conn, catalog, 3)
        yield Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def reader(shared_db: Settings, catalog: LayerCatalog) -> Iterator[TestClient]:
    """A viewer's client on the shared copy: only for tests that change nothing."""
    with TestClient(create_app(shared_db, catalog), headers=reader_headers(shared_db, Role.VIEWER)) as c:
        yield c


def test_layer_tile_has_features_with_styling_attributes(reader: TestClient) -> None:
    x, y = tile_of(*CENTRE, 14)
    r = reader.get(f"/ogc/collections/road_voids/tiles/WebMercatorQuad/14/{x}/{y}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["etag"] and "max-age" in r.headers["cache-control"]
    decoded = mapbox_vector_tile.decode(r.content)
    assert list(decoded) == ["road_voids"]
    props = decoded["road_voids"]["features"][0]["properties"]
    for key in ("id", "code", "status", "risk_grade", "road_name"):
        assert key in props
    assert len(decoded["road_voids"]["features"]) == 3


def test_all_layers_tile_has_one_mvt_layer_per_layer(
    client: TestClient, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    conn.execute(
        "INSERT INTO water_tests (site_id, tested_on, turbidity_ntu)"
        " SELECT id, '2025-03-01', 0.3 FROM water_supply"
    )
    conn.commit()
    x, y = tile_of(*CENTRE, 15)
    r = client.get(f"/ogc/tiles/WebMercatorQuad/15/{x}/{y}")
    assert r.status_code == 200
    decoded = mapbox_vector_tile.decode(r.content)
    assert set(decoded) == set(catalog.names())
    assert "condition" in decoded["manholes"]["features"][0]["properties"]
    assert "element" in decoded["poles_wires"]["features"][0]["properties"]
    # water sites carry what draws them: last test result and when the next one is due
    assert {"last_test_passed", "next_test_due"} <= set(decoded["water_supply"]["features"][0]["properties"])


def test_empty_tile_is_204(reader: TestClient) -> None:
    assert reader.get("/ogc/collections/road_voids/tiles/WebMercatorQuad/14/0/0").status_code == 204


def test_unchanged_tile_is_304_with_if_none_match(reader: TestClient) -> None:
    x, y = tile_of(*CENTRE, 14)
    url = f"/ogc/collections/manholes/tiles/WebMercatorQuad/14/{x}/{y}"
    etag = reader.get(url).headers["etag"]
    assert reader.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_tiles_that_need_an_account_are_never_stored_by_shared_caches(reader: TestClient) -> None:
    x, y = tile_of(*CENTRE, 14)
    r = reader.get(f"/ogc/collections/manholes/tiles/WebMercatorQuad/14/{x}/{y}")
    assert r.headers["cache-control"].startswith("private")
    assert "Authorization" in r.headers["vary"]


def test_deleted_assets_leave_the_tile(client: TestClient, conn: psycopg.Connection) -> None:
    conn.execute("UPDATE road_voids SET deleted_at = now()")
    conn.commit()
    x, y = tile_of(*CENTRE, 14)
    assert client.get(f"/ogc/collections/road_voids/tiles/WebMercatorQuad/14/{x}/{y}").status_code == 204


@pytest.mark.parametrize(
    ("path", "status"),
    [("14/99999/1", 404), ("25/0/0", 404), ("3/8/0", 404), ("-1/0/0", 404), ("a/b/c", 400)],
)
def test_impossible_tiles_are_problems(reader: TestClient, path: str, status: int) -> None:
    r = reader.get(f"/ogc/collections/road_voids/tiles/WebMercatorQuad/{path}")
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


def test_tilejson_lists_tile_url_and_fields(reader: TestClient, catalog: LayerCatalog) -> None:
    doc = reader.get("/ogc/collections/markets/tiles/WebMercatorQuad").json()
    assert doc["tiles"][0].endswith("/ogc/collections/markets/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert doc["vector_layers"][0]["id"] == "markets" and "kind" in doc["vector_layers"][0]["fields"]
    doc = reader.get("/ogc/tiles/WebMercatorQuad").json()
    assert [v["id"] for v in doc["vector_layers"]] == catalog.names()
    assert reader.get("/ogc/collections/nope/tiles/WebMercatorQuad").status_code == 404


def test_city_zoom_tiles_merge_nearby_assets_and_keep_the_count(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    """2,000 manholes within ~50 m: one z12 tile carries a handful of merged points
    whose point_count adds up to 2,000; at z17 each manhole is its own feature."""
    conn.execute(
        """
        INSERT INTO manholes (code, geom, status, kind, condition)
        SELECT 'JG-AGG-' || i,
               ST_SetSRID(ST_MakePoint(113.2418 + (i % 50) * 1e-5, 35.2155 + (i / 50) * 1e-5), 4490),
               'in_service', 'sewage', 'intact'
        FROM generate_series(0, 1999) AS i
        """
    )
    conn.commit()
    with TestClient(create_app(db, catalog), headers=reader_headers(db)) as client:
        x, y = tile_of(113.2420, 35.2157, 12)
        merged = mapbox_vector_tile.decode(
            client.get(f"/ogc/collections/manholes/tiles/WebMercatorQuad/12/{x}/{y}").content
        )["manholes"]["features"]
        assert len(merged) < 20
        assert sum(f["properties"]["point_count"] for f in merged) == 2000
        assert all(f["properties"]["kind"] == "sewage" for f in merged)
        x, y = tile_of(113.2420, 35.2157, 17)
        single = mapbox_vector_tile.decode(
            client.get(f"/ogc/collections/manholes/tiles/WebMercatorQuad/17/{x}/{y}").content
        )["manholes"]["features"]
        assert len(single) == 2000
        assert all("point_count" not in f["properties"] and f["properties"]["id"] for f in single)


def test_city_zoom_tiles_keep_the_shape_of_long_wires_and_large_zones(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    """Only assets smaller than a merge cell (~76 m at z12) become points: a 1 km wire
    stays a line and a 400 m market zone stays a polygon, each with its own id."""
    x0, y0 = CENTRE
    set_actor(conn, "test", via="test")
    wires = catalog.get("poles_wires")
    props = make_properties(wires, 1, element="wire")
    upsert_assets(conn, wires, [AssetRow(props, LineString([(x0, y0), (x0 + 0.011, y0)]))])
    markets = catalog.get("markets")
    upsert_assets(
        conn, markets, [AssetRow(make_properties(markets, 1), box(x0, y0, x0 + 0.0045, y0 + 0.0036))]
    )
    conn.commit()
    with TestClient(create_app(db, catalog), headers=reader_headers(db)) as client:
        x, y = tile_of(x0 + 0.002, y0 + 0.001, 12)
        decoded = mapbox_vector_tile.decode(client.get(f"/ogc/tiles/WebMercatorQuad/12/{x}/{y}").content)
    (wire,) = decoded["poles_wires"]["features"]
    assert wire["geometry"]["type"] == "LineString" and wire["properties"]["id"]
    (zone,) = decoded["markets"]["features"]
    assert zone["geometry"]["type"] == "Polygon" and zone["properties"]["point_count"] == 1


def test_app_sessions_run_without_jit_and_keep_the_options_of_the_url(db) -> None:
    """JIT compilation cost more than a whole city tile; options in DATABASE_URL stay."""
    from registry.db import make_pool

    url = db.database_url + ("&" if "?" in db.database_url else "?") + "options=-c%20statement_timeout%3D7000"
    pool = make_pool(db.model_copy(update={"database_url": url}), max_size=1)
    pool.open()
    try:
        with pool.connection() as conn:
            assert conn.execute("SHOW jit").fetchone()[0] == "off"
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "7s"
    finally:
        pool.close()
