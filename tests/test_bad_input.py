"""Issue 9: every bad input is a 4xx problem (RFC 9457, web/errors.py), never a 500, and
nothing of it is stored. Each test here failed (500, or a wrong 200) before its fix."""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pyogrio
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.cql import MAX_FILTER_DEPTH, MAX_FILTER_TERMS, compile_filter
from registry.crs import resolve
from registry.errors import InvalidParameter
from registry.permissions import Role
from registry.settings import Settings
from registry.sqlparams import Params
from tests.authkit import Account, fingerprint, make_accounts, make_asset
from tests.factories import CENTRE, make_properties
from tests.live_server import live_server
from web.app import create_app
from web.auth import CSRF_COOKIE

ITEMS = "/ogc/collections/road_voids/items"
EPSG4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"
PROBLEM = "application/problem+json"


@pytest.fixture
def world(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    """Accounts, a road void to edit, and a pole and a wire (one mixed-geometry layer)."""
    users = make_accounts(conn)
    void = make_asset(conn, catalog, "road_voids")
    make_asset(conn, catalog, "poles_wires", 1, element="pole")
    make_asset(conn, catalog, "poles_wires", 2, element="wire")
    return {"users": users, "void": void["id"], "admin": users[Role.ADMIN]}


@pytest.fixture
def client(db: Settings, world: dict[str, Any]) -> Iterator[TestClient]:
    """A client signed in as an admin with an API token."""
    with TestClient(create_app(db), headers=world["admin"].bearer) as c:
        yield c


def _problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


def _void_url(world: dict[str, Any]) -> str:
    return f"/api/assets/road_voids/{world['void']}"


# ---------------------------------------------------------------- NUL and lone surrogates


def _nul_requests(world: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, method, url, httpx kwargs) of requests whose text reaches PostgreSQL."""
    void = _void_url(world)
    return [
        ("search q", "GET", "/api/search", {"params": {"q": "人民\x00路"}}),
        ("search district", "GET", "/api/search", {"params": {"district": "41\x0002"}}),
        ("items property", "GET", ITEMS, {"params": {"road_name": "a\x00"}}),
        ("items filter", "GET", ITEMS, {"params": {"filter": "road_name = 'a\x00'"}}),
        ("history actor", "GET", "/api/history", {"params": {"actor": "ad\x00min"}}),
        ("undo via", "POST", "/api/undo/import:a%00b", {}),
        ("patch notes", "PATCH", void, {"json": {"properties": {"notes": "a\x00b"}}}),
        ("patch comment", "PATCH", void, {"json": {"properties": {"notes": "x"}, "comment": "\x00"}}),
        (
            "create item",
            "POST",
            ITEMS,
            {
                "json": {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": list(CENTRE)},
                    "properties": {"code": "KD-\x00"},
                }
            },
        ),
        ("token name", "POST", "/auth/tokens", {"json": {"name": "my\x00token"}}),
    ]


def test_nul_in_any_text_is_a_4xx_problem_naming_the_parameter(
    client: TestClient, world: dict[str, Any], conn: psycopg.Connection
) -> None:
    before = fingerprint(conn)
    for name, method, url, kwargs in _nul_requests(world):
        response = client.request(method, url, **kwargs)
        body = _problem(response, 422 if "json" in kwargs else 400, "invalid_text")
        assert body["parameter"], name
        assert "空字符" in body["detail"] and "NUL character" not in body["detail"], (name, body)
        english = client.request(method, url, headers={"Accept-Language": "en"}, **kwargs).json()
        assert "NUL character" in english["detail"] and "空字符" not in english["detail"], (name, english)
    assert fingerprint(conn) == before


def test_nul_in_an_anonymous_login_is_a_problem(db: Settings, world: dict[str, Any]) -> None:
    with TestClient(create_app(db)) as anonymous:
        body = _problem(
            anonymous.post("/auth/login", json={"username": "ad\x00min", "password": "x"}),
            422,
            "invalid_text",
        )
        assert body["parameter"] == "username"


def test_nul_in_a_form_field_of_an_upload(client: TestClient) -> None:
    response = client.post(
        "/api/imports",
        data={"layer": "manholes", "mapping": '{"a\x00": "code"}', "dry_run": "true"},
        files={"file": ("m.csv", b"code,x,y\nMH-1,113.2418,35.2155\n", "text/csv")},
    )
    assert _problem(response, 422, "invalid_text")["parameter"] == "mapping"


def test_lone_surrogate_in_json_is_a_422_not_stored(
    client: TestClient, world: dict[str, Any], conn: psycopg.Connection
) -> None:
    before = fingerprint(conn)
    raw = '{"properties": {"notes": "\\ud800 broken"}}'
    response = client.patch(_void_url(world), content=raw, headers={"Content-Type": "application/json"})
    body = _problem(response, 422, "invalid_text")
    assert body["parameter"] == "properties.notes" and "U+D800" in body["detail"]
    # a surrogate *pair* is an ordinary character (here U+1F6A7) and is stored
    pair = '{"properties": {"notes": "\\ud83d\\udea7 施工"}}'
    ok = client.patch(_void_url(world), content=pair, headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["properties"]["notes"] == "\U0001f6a7 施工"
    assert fingerprint(conn) != before


def test_bad_input_keeps_the_keep_alive_connection(db: Settings, world: dict[str, Any]) -> None:
    """A 500 used to close the connection; a 4xx problem keeps it for the next request."""
    assert db.database_url
    with live_server(db.database_url) as base:
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
        conn.connect()
        sock = conn.sock
        headers = world["admin"].bearer
        for path in (
            "/api/search?q=" + quote("a\x00"),
            ITEMS + "?crs=EPSG:" + "9" * 5000,
            ITEMS + "?" + "filter=" + quote(" AND ".join(["code=1"] * 400)),
            "/api/search?q=ok",
        ):
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status < 500 and not response.will_close, (path, response.status)
            assert conn.sock is sock, "the server closed the connection"
        conn.close()


# ---------------------------------------------------------------- CQL2 size and depth


def test_cql2_text_with_400_and_terms_is_a_400_with_the_limit(client: TestClient) -> None:
    cql = " AND ".join(["code=1"] * 400)  # short terms: the URL stays under its length limit
    body = _problem(client.get(ITEMS, params={"filter": cql}), 400, "invalid_parameter")
    assert body["parameter"] == "filter" and str(MAX_FILTER_TERMS) in body["detail"]
    # within the limit, a long chain is fine (compiled flat, without deep recursion)
    cql = " OR ".join(f"road_name = 'r{i}'" for i in range(MAX_FILTER_TERMS))
    assert client.get(ITEMS, params={"filter": cql}).status_code == 200


def _alternating(levels: int) -> str:
    """code=1 AND (code=1 OR (code=1 AND (…))): ``levels`` levels of nesting."""
    ops = ("AND", "OR")
    return "".join(f"code=1 {ops[i % 2]} (" for i in range(levels)) + "code=1" + ")" * levels


def _not_json(levels: int) -> str:
    leaf = '{"op":"=","args":[{"property":"code"},"x"]}'
    return '{"op":"not","args":[' * levels + leaf + "]}" * levels


def test_deeply_nested_filters_are_a_400(client: TestClient) -> None:
    # as deep as fits in a URL (at most 8 kB): over the nesting limit
    response = client.get(ITEMS, params={"filter": _not_json(60), "filter-lang": "cql2-json"})
    body = _problem(response, 400, "invalid_parameter")
    assert body["parameter"] == "filter" and "嵌套" in body["detail"]
    english = client.get(ITEMS, params={"filter": _not_json(60), "filter-lang": "cql2-json", "lang": "en"})
    assert "nested" in _problem(english, 400, "invalid_parameter")["detail"]
    body = _problem(client.get(ITEMS, params={"filter": _alternating(60)}), 400, "invalid_parameter")
    assert str(MAX_FILTER_DEPTH) in body["detail"]
    nested_lower = "lower(" * 60 + "code" + ")" * 60 + " = 'x'"
    _problem(client.get(ITEMS, params={"filter": nested_lower}), 400, "invalid_parameter")
    assert client.get(ITEMS, params={"filter": _alternating(MAX_FILTER_DEPTH - 1)}).status_code == 200


@pytest.mark.parametrize(
    ("text", "lang"),
    [(_not_json(1000), "cql2-json"), (_alternating(1000), "cql2-text")],
    ids=["json", "text"],
)
def test_a_filter_nested_1000_deep_is_refused_without_recursion(
    catalog: LayerCatalog, text: str, lang: str
) -> None:
    """What a POST of a filter (or a longer URL limit) would hand the compiler."""
    with pytest.raises(InvalidParameter) as refused:
        compile_filter(catalog.get("road_voids"), Params(), text, lang, resolve(None, "filter-crs"))
    assert refused.value.parameter == "filter"


def test_invalid_cql2_json_timestamp_is_a_400(client: TestClient) -> None:
    for literal in (
        {"timestamp": "yesterday"},  # pygeofilter's fuzzy date parser took it as a time
        {"timestamp": "2025-02-30T00:00:00Z"},
        {"timestamp": 20250101},
        {"date": "3 March"},
    ):
        cql = {"op": "=", "args": [{"property": "updated_at"}, literal]}
        response = client.get(ITEMS, params={"filter": json.dumps(cql), "filter-lang": "cql2-json"})
        assert _problem(response, 400, "invalid_parameter")["parameter"] == "filter", literal


def test_a_timestamp_is_never_compared_as_text(client: TestClient) -> None:
    cql = {"op": "=", "args": [{"property": "road_name"}, {"timestamp": "2025-01-01T00:00:00Z"}]}
    response = client.get(ITEMS, params={"filter": json.dumps(cql), "filter-lang": "cql2-json"})
    _problem(response, 400, "invalid_parameter")
    ok = {"op": "<", "args": [{"property": "updated_at"}, {"timestamp": "2999-01-01T00:00:00Z"}]}
    response = client.get(ITEMS, params={"filter": json.dumps(ok), "filter-lang": "cql2-json"})
    assert response.status_code == 200 and response.json()["numberMatched"] == 1


@pytest.mark.parametrize(
    "cql",
    [
        "'a' = 5",  # no property on either side: nothing to type the comparison
        "5 BETWEEN 1 AND 'x'",
        "'x' IS NULL",
        "version = road_name",  # integer against text
        "lower(code) = DATE('2025-01-01')",
        "S_DWITHIN(geometry, POINT(113.24 35.21), 1e308)",
        "version = 99999999999",  # beyond PostgreSQL integer
    ],
)
def test_ill_typed_filters_are_a_400(client: TestClient, cql: str) -> None:
    _problem(client.get(ITEMS, params={"filter": cql}), 400, "invalid_parameter")


# ---------------------------------------------------------------- CRS


def test_epsg_4547_outside_its_valid_area_is_a_400(client: TestClient, world: dict[str, Any]) -> None:
    # northing/easting (the CRS's axis order) of a box around the test assets: fine
    inside = client.get(ITEMS, params={"bbox": "3898000,430000,3899000,432000", "bbox-crs": EPSG4547})
    assert inside.status_code == 200 and inside.json()["numberMatched"] == 1, inside.text
    far = {"bbox": "1e9,1e9,2e9,2e9", "bbox-crs": EPSG4547}
    body = _problem(client.get(ITEMS, params=far), 400, "invalid_parameter")
    assert body["parameter"] == "bbox" and "4547" in body["detail"]
    flt = {"filter": "S_INTERSECTS(geometry, POINT(1e9 1e9))", "filter-crs": EPSG4547}
    assert _problem(client.get(ITEMS, params=flt), 400)["parameter"] == "filter"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [1e9, 1e9]},
        "properties": {"code": "KD-CRS-1"},
    }
    response = client.post(ITEMS, json=feature, headers={"Content-Crs": f"<{EPSG4547}>"})
    assert _problem(response, 400)["parameter"] == "Content-Crs"


def test_a_5000_digit_crs_code_is_a_short_400(client: TestClient) -> None:
    for name, extra in (("crs", {}), ("bbox-crs", {"bbox": "35.2,113.2,35.3,113.3"}), ("filter-crs", {})):
        params = {name: "EPSG:" + "9" * 5000, "filter": "code = 'x'", **extra}
        response = client.get(ITEMS, params=params)
        body = _problem(response, 400, "invalid_parameter")
        assert body["parameter"] == name and len(response.content) < 2000


# ---------------------------------------------------------------- geometry


def test_a_3d_point_into_a_2d_layer_drops_the_height_with_a_warning(
    client: TestClient, world: dict[str, Any], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    point = {"type": "Point", "coordinates": [CENTRE[0] + 0.0001, CENTRE[1], 87.5]}
    response = client.patch(_void_url(world), json={"geometry": point})
    assert response.status_code == 200, response.text
    assert response.json()["warnings"][0]["field"] == "geometry"
    props = make_properties(catalog.get("road_voids"), 9)
    created = client.post(
        ITEMS,
        content=json.dumps({"type": "Feature", "geometry": point, "properties": props}, default=str),
        headers={"Content-Type": "application/geo+json"},
    )
    assert created.status_code == 201, created.text
    warning = created.json()["warnings"][0]
    assert warning["code"] == "z_dropped" and warning["message"] == "已去掉高程（Z）值，只保存平面位置"
    english = client.post(
        ITEMS + "?lang=en",
        content=json.dumps(
            {
                "type": "Feature",
                "geometry": point,
                "properties": make_properties(catalog.get("road_voids"), 10),
            },
            default=str,
        ),
        headers={"Content-Type": "application/geo+json"},
    )
    assert english.json()["warnings"][0]["message"] == "Z value dropped: only the plane position is stored"
    dims = conn.execute("SELECT DISTINCT ST_NDims(geom) FROM road_voids").fetchall()
    assert dims == [(2,)]


def test_parking_check_with_corners_at_1e308_is_a_400(client: TestClient) -> None:
    ring = [[-1e308, -1e308], [1e308, -1e308], [1e308, 1e308], [-1e308, -1e308]]
    response = client.post(
        "/api/parking/check", json={"geometry": {"type": "Polygon", "coordinates": [ring]}}
    )
    assert _problem(response, 400, "invalid_parameter")["parameter"] == "geometry"


# ---------------------------------------------------------------- values


def test_a_1_mb_code_is_a_422_and_not_stored(
    client: TestClient, world: dict[str, Any], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    before = fingerprint(conn)
    code = "K" * 1_000_000
    response = client.patch(_void_url(world), json={"properties": {"code": code}})
    body = _problem(response, 422, "invalid_feature")
    limit = next(a.max_length for a in catalog.get("road_voids").all_attrs if a.name == "code")
    assert body["errors"][0]["field"] == "code" and str(limit) in body["errors"][0]["message"]
    assert len(response.content) < 5000, "the value must not be echoed back whole"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(CENTRE)}}
    response = client.post(ITEMS, json={**feature, "properties": {"code": code}})
    _problem(response, 422, "invalid_feature")
    assert fingerprint(conn) == before


def test_a_json_object_where_text_is_expected_is_a_422(
    client: TestClient, world: dict[str, Any], conn: psycopg.Connection
) -> None:
    before = fingerprint(conn)
    for value in ({"a": 1}, ["x", "y"]):
        response = client.patch(_void_url(world), json={"properties": {"notes": value}})
        assert _problem(response, 422, "invalid_feature")["errors"][0]["field"] == "notes"
    assert fingerprint(conn) == before


def test_a_422_never_echoes_a_100_kb_input(client: TestClient, world: dict[str, Any]) -> None:
    huge = "无效" * 50_000
    for body in ({"properties": {"risk_grade": huge}}, {"properties": {"length_m": huge}}):
        response = client.patch(_void_url(world), json=body)
        _problem(response, 422)
        assert len(response.content) < 5000, len(response.content)
    response = client.get(ITEMS, params={"bbox": "9" * 7000})  # as long as a URL may be
    _problem(response, 400)
    assert len(response.content) < 2000


# ---------------------------------------------------------------- login


def test_login_takes_json_or_a_form_with_the_csrf_token(db: Settings, world: dict[str, Any]) -> None:
    admin: Account = world["admin"]
    creds = {"username": admin.username, "password": admin.password}
    with TestClient(create_app(db)) as browser:
        # a cross-site form: no CSRF token (it cannot read or set our cookie)
        _problem(browser.post("/auth/login", data=creds), 403, "csrf_failed")
        browser.cookies.set(CSRF_COOKIE, "from-the-page")
        _problem(browser.post("/auth/login", data={**creds, "csrf_token": "guessed"}), 403, "csrf_failed")
        # a cross-site text/plain form smuggling JSON
        smuggled = browser.post(
            "/auth/login", content=json.dumps(creds), headers={"Content-Type": "text/plain"}
        )
        _problem(smuggled, 415, "unsupported_media_type")
        assert browser.post("/auth/login", data={**creds, "csrf_token": "from-the-page"}).status_code == 200
        assert browser.post("/auth/login", json=creds).status_code == 200


# ---------------------------------------------------------------- export


def test_shapefile_export_of_a_mixed_layer_has_one_shapefile_per_geometry_type(
    client: TestClient, tmp_path: Path
) -> None:
    response = client.get("/api/export", params={"layer": "poles_wires", "format": "shp"})
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        names = set(zf.namelist())
        assert {"poles_wires_point.shp", "poles_wires_line.shp", "poles_wires_point.cpg"} <= names
        zf.extractall(tmp_path)
    points = pyogrio.read_dataframe(tmp_path / "poles_wires_point.shp")
    lines = pyogrio.read_dataframe(tmp_path / "poles_wires_line.shp")
    assert list(points.geometry.geom_type) == ["Point"] and list(points["element"]) == ["pole"]
    assert list(lines.geometry.geom_type) == ["LineString"] and list(lines["element"]) == ["wire"]


# ---------------------------------------------------------------- found by the fuzzer (test_api_fuzz)


def test_an_offset_beyond_postgresql_bigint_is_a_400(client: TestClient) -> None:
    for url, params in (("/api/history", {}), ("/api/layers/road_voids/asof", {"t": "2025-01-01T00:00:00Z"})):
        response = client.get(url, params={**params, "offset": str(10**21)})
        assert _problem(response, 400, "invalid_parameter")["parameter"] == "offset", url


def test_an_export_with_an_empty_layer_and_no_ids_is_a_422(client: TestClient) -> None:
    _problem(client.get("/api/export", params={"layer": ""}), 422)


def test_search_post_filters_of_the_wrong_json_type_are_a_400(client: TestClient) -> None:
    d = 0.001
    ring = [[CENTRE[0] - d, CENTRE[1] - d], [CENTRE[0] + d, CENTRE[1] - d], [CENTRE[0], CENTRE[1] + d]]
    polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    for name, value in (("q", {"a": 1}), ("district", ["x", {"b": 2}]), ("coord_sys", {"gcj": 2})):
        response = client.post("/api/search", json={"geometry": polygon, name: value})
        assert _problem(response, 400, "invalid_parameter")["parameter"] == name
    # numbers and lists are what a query string would carry
    found = client.post("/api/search", json={"geometry": polygon, "layers": ["road_voids"], "limit": 5})
    assert found.status_code == 200 and found.json()["numberMatched"] == 1


def test_an_import_mapping_over_http_is_json_text_never_a_server_file_path(db, tmp_path) -> None:
    import psycopg
    from fastapi.testclient import TestClient

    from registry.permissions import Role
    from tests.authkit import make_accounts
    from web.app import create_app

    secret = tmp_path / "secret.json"
    secret.write_text('{"编号": "code"}', encoding="utf-8")
    with psycopg.connect(db.database_url) as c:
        surveyor = make_accounts(c)[Role.SURVEYOR]
    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_app(settings), headers=surveyor.bearer) as client:
        r = client.post(
            "/api/imports",
            data={"layer": "manholes", "mapping": str(secret), "dry_run": "true"},
            files={"file": ("a.csv", "编号,经度,纬度\nJG-1,113.24,35.21\n".encode(), "text/csv")},
        )
    assert r.status_code == 422 and r.json()["code"] == "import_bad_mapping", r.text
