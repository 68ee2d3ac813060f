"""No request can hold the service by its size: URL, headers, body, text attributes,
vertices per geometry (declared with the layer) and free-text search are bounded,
and each refusal is a problem, never a reset connection or a stored value."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import fingerprint, make_accounts, make_asset
from tests.factories import make_json_properties
from tests.live_server import live_server
from web.app import create_app


@pytest.fixture
def api(db: Settings, conn: psycopg.Connection) -> Iterator[tuple[TestClient, dict[Role, Any]]]:
    users = make_accounts(conn)
    with TestClient(create_app(db)) as client:
        client.headers.update(users[Role.ADMIN].bearer)
        yield client, users


def _ring(n: int, lon: float = 113.2418, lat: float = 35.2155, r: float = 0.0005) -> list[list[float]]:
    pts = [
        [lon + r * math.cos(2 * math.pi * i / n), lat + r * math.sin(2 * math.pi * i / n)] for i in range(n)
    ]
    return [*pts, pts[0]]


def _problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if code:
        assert body["code"] == code
    assert len(response.content) < 20_000, "a problem never echoes a large input back"
    return body


def test_oversized_url_and_headers_get_414_and_431_from_a_real_server_and_the_connection_survives(
    db: Settings, conn: psycopg.Connection
) -> None:
    viewer = make_accounts(conn)[Role.VIEWER]
    assert db.database_url
    with live_server(db.database_url) as base, httpx.Client(base_url=base, headers=viewer.bearer) as http:
        _problem(http.get("/api/search", params={"q": "井" * 5_000}), 414, "uri_too_long")
        _problem(http.get("/api/search", headers={"X-Big": "b" * 100_000}), 431, "headers_too_large")
        assert http.get("/health").status_code == 200


def test_a_body_over_the_limit_is_413_with_or_without_content_length(
    db: Settings, conn: psycopg.Connection
) -> None:
    users = make_accounts(conn)
    small = db.model_copy(update={"max_body_bytes": 100_000})
    with TestClient(create_app(small)) as client:
        client.headers.update(users[Role.ADMIN].bearer)
        big = b'{"geometry": "' + b"x" * 200_000 + b'"}'
        _problem(client.post("/api/search", content=big), 413, "body_too_large")

        def chunks() -> Iterator[bytes]:
            for _ in range(30):
                yield b" " * 10_000

        _problem(client.post("/api/search", content=chunks()), 413, "body_too_large")


def test_text_attributes_are_bounded_by_their_declared_length(
    api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, _ = api
    record = make_asset(conn, catalog, "road_voids")
    before = fingerprint(conn)
    url = f"/api/assets/road_voids/{record['id']}"
    notes = catalog.get("road_voids").attr("notes").max_length
    body = _problem(client.patch(url, json={"properties": {"notes": "注" * (notes + 1)}}), 422)
    assert body["errors"][0]["field"] == "notes"
    assert str(notes) in body["errors"][0]["message"]
    _problem(client.patch(url, json={"properties": {"road_name": "路" * 501}}), 422)
    assert fingerprint(conn) == before
    assert client.patch(url, json={"properties": {"notes": "注" * notes}}).status_code == 200


def test_a_geometry_over_the_layers_vertex_limit_is_refused_and_not_stored(
    api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, _ = api
    spec = catalog.get("parking")
    before = fingerprint(conn)
    props = make_json_properties(spec, 1)
    feature = {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": [_ring(spec.max_vertices + 10)]},
    }
    body = _problem(client.post("/ogc/collections/parking/items", json=feature), 422)
    assert any(e["field"] == "geometry" and e["code"] == "too_many_vertices" for e in body["errors"])
    assert any(e["field"] == "geometry" and "顶点过多" in e["message"] for e in body["errors"])
    english = client.post("/ogc/collections/parking/items?lang=en", json=feature).json()
    assert any(e["field"] == "geometry" and "vertices" in e["message"] for e in english["errors"])
    assert fingerprint(conn) == before


def test_search_polygon_vertices_and_free_text_length_are_bounded(api: Any) -> None:
    client, _ = api
    polygon = {"type": "Polygon", "coordinates": [_ring(20_000)]}
    body = _problem(client.post("/api/search", json={"geometry": polygon}), 400)
    assert body["parameter"] == "geometry"
    _problem(client.get("/api/search", params={"q": "井" * 101}), 400)
    assert client.post(
        "/api/search", json={"geometry": {"type": "Polygon", "coordinates": [_ring(64)]}}
    ).is_success
