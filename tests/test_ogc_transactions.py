"""OGC API – Features Part 4 with optimistic locking: create, replace, patch, delete,
ETag/If-Match, 412 with the current version, 428 without If-Match, 422 on bad data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.factories import CENTRE, make_json_properties
from web.app import create_app

ITEMS = "/ogc/collections/manholes/items"


@pytest.fixture
def client(db: Settings, catalog: LayerCatalog) -> Iterator[TestClient]:
    with TestClient(create_app(db, catalog), headers=reader_headers(db, Role.ADMIN)) as c:
        yield c


def _feature(
    catalog: LayerCatalog, n: int = 1, lon: float = CENTRE[0], lat: float = CENTRE[1], **kw: Any
) -> dict:
    props = make_json_properties(catalog.get("manholes"), n, **kw)
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def _create(client: TestClient, catalog: LayerCatalog, **kw: Any) -> tuple[str, str]:
    r = client.post(ITEMS, json=_feature(catalog, **kw), headers={"Content-Type": "application/geo+json"})
    assert r.status_code == 201, r.text
    return r.headers["location"], r.headers["etag"]


def test_create_returns_location_and_etag_and_is_readable(
    client: TestClient, catalog: LayerCatalog, conn: psycopg.Connection
) -> None:
    location, etag = _create(client, catalog)
    assert etag == '"1"'
    path = location.replace("http://testserver", "")
    got = client.get(path)
    assert got.status_code == 200 and got.json()["properties"]["code"] == "JG-TEST-0001"
    assert conn.execute("SELECT created_by, district_code FROM manholes").fetchone() == (
        "admin",
        "410802",
    )


def test_create_invalid_feature_is_422_naming_fields(client: TestClient, catalog: LayerCatalog) -> None:
    r = client.post(ITEMS, json=_feature(catalog, kind="spaceship", cover_size_mm=99999))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"kind", "cover_size_mm"} <= fields


def test_create_outside_jiaozuo_is_422_and_duplicate_code_is_409(
    client: TestClient, catalog: LayerCatalog
) -> None:
    r = client.post(ITEMS, json=_feature(catalog, lon=35.2, lat=113.2))  # swapped
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "geometry"
    _create(client, catalog)
    r = client.post(ITEMS, json=_feature(catalog))
    assert r.status_code == 409 and r.json()["code"] == "duplicate_asset"


def test_create_with_content_crs_4490_reads_latitude_first(client: TestClient, catalog: LayerCatalog) -> None:
    body = _feature(catalog, lon=CENTRE[1], lat=CENTRE[0])  # lat, lon order
    r = client.post(ITEMS, json=body, headers={"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4490>"})
    assert r.status_code == 201, r.text
    lon, lat = client.get(r.headers["location"]).json()["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(CENTRE)


def test_patch_with_current_etag_changes_one_attribute_and_bumps_version(
    client: TestClient, catalog: LayerCatalog
) -> None:
    location, etag = _create(client, catalog)
    r = client.patch(
        location, json={"type": "Feature", "properties": {"condition": "damaged"}}, headers={"If-Match": etag}
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    props = client.get(location).json()["properties"]
    assert props["condition"] == "damaged" and props["kind"] == "water_supply" and props["version"] == 2


def test_second_editor_with_stale_etag_gets_412_with_current_version(
    client: TestClient, catalog: LayerCatalog
) -> None:
    location, etag = _create(client, catalog)
    first = client.patch(
        location, json={"type": "Feature", "properties": {"condition": "damaged"}}, headers={"If-Match": etag}
    )
    assert first.status_code == 200
    second = client.patch(
        location, json={"type": "Feature", "properties": {"condition": "sunken"}}, headers={"If-Match": etag}
    )
    assert second.status_code == 412
    assert second.json()["current_version"] == 2 and second.json()["code"] == "version_mismatch"
    assert client.get(location).json()["properties"]["condition"] == "damaged"


def test_writes_without_if_match_are_428(client: TestClient, catalog: LayerCatalog) -> None:
    location, _etag = _create(client, catalog)
    r = client.put(location, json=_feature(catalog))
    assert r.status_code == 428 and r.json()["current_version"] == 1
    assert client.delete(location).status_code == 428


def test_put_replaces_and_validates_the_whole_feature(client: TestClient, catalog: LayerCatalog) -> None:
    location, etag = _create(client, catalog)
    replacement = _feature(catalog, lon=CENTRE[0] + 0.001, condition="missing")
    r = client.put(location, json=replacement, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    got = client.get(location).json()
    assert got["properties"]["condition"] == "missing"
    assert got["geometry"]["coordinates"][0] == pytest.approx(CENTRE[0] + 0.001)
    bad = _feature(catalog, status="remediated", remediated_on=None)
    r = client.put(location, json=bad, headers={"If-Match": '"2"'})
    assert r.status_code == 422


def test_delete_is_soft_and_hides_the_feature(
    client: TestClient, catalog: LayerCatalog, conn: psycopg.Connection
) -> None:
    location, etag = _create(client, catalog)
    assert client.delete(location, headers={"If-Match": etag}).status_code == 204
    assert client.get(location).status_code == 404
    assert conn.execute("SELECT deleted_by FROM manholes").fetchone() == ("admin",)
    assert client.delete(location, headers={"If-Match": etag}).status_code == 404


def test_writes_to_unknown_feature_or_with_bad_body(client: TestClient, catalog: LayerCatalog) -> None:
    r = client.patch(
        f"{ITEMS}/00000000-0000-0000-0000-000000000000",
        json={"type": "Feature", "properties": {}},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 404
    r = client.post(ITEMS, content=b"{not json", headers={"Content-Type": "application/geo+json"})
    assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"
    r = client.post(ITEMS, json={"type": "FeatureCollection", "features": []})
    assert r.status_code == 422
