"""The map's own routes behind the role permissions: what an anonymous visitor, a
viewer and a public-read deployment get; the photo routes; exporting exactly a
search result."""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import psycopg
import pyogrio
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping

from importers.photos import store as store_photo
from layers import default_catalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts
from tests.browser.conftest import bay, seed_assets
from web.app import create_app

# A 1×1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201"
    "e2213d3c0000000049454e44ae426082"
)

PUBLIC = [
    "/",
    "/upload",
    "/api/config",
    "/api/layers",
    "/static/app/app.js",
    "/static/vendor/leaflet/leaflet.js",
]


@pytest.fixture
def seeded(db: Settings, tmp_path: Path) -> Iterator[tuple[Settings, dict]]:
    """Test assets, accounts, and settings whose data folder is the test's own."""
    settings = db.model_copy(update={"data_dir": tmp_path})
    assert db.database_url
    with psycopg.connect(db.database_url) as conn:
        known = seed_assets(conn, default_catalog())
        known["accounts"] = make_accounts(conn)
        known["ids"] = {code: str(i) for i, code in conn.execute("SELECT id, code FROM assets").fetchall()}
    yield settings, known


def _reads(known: dict) -> list[tuple[str, str, dict | None]]:
    site = known["ids"]["GS-TEST-0001"]
    return [
        ("GET", "/api/districts", None),
        ("GET", f"/api/assets/water_supply/{site}/children/water_tests", None),
        ("POST", "/api/parking/check", {"geometry": mapping(bay(30))}),
        ("GET", "/api/search/map.html?lon=113.2418&lat=35.2155&radius=300", None),
        ("GET", f"/api/assets/water_supply/{site}/photos", None),
        ("GET", f"/api/assets/water_supply/{site}/history", None),
        ("GET", f"/api/export?format=csv&ids={site}", None),
    ]


def _call(client: TestClient, method: str, path: str, body: dict | None, headers: dict | None = None):
    return client.request(method, path, json=body, headers=headers or {})


def test_map_data_routes_refuse_anonymous_and_serve_a_viewer(seeded) -> None:
    settings, known = seeded
    viewer = known["accounts"][Role.VIEWER].bearer
    with TestClient(create_app(settings)) as client:
        for method, path, body in _reads(known):
            anon = _call(client, method, path, body)
            assert anon.status_code == 401, (path, anon.text)
            assert anon.headers["content-type"].startswith("application/problem+json")
            assert _call(client, method, path, body, viewer).status_code == 200, path
        for path in PUBLIC:  # the login form must render without an account
            assert client.get(path).status_code == 200, path
        assert "water_supply" in client.get("/api/layers").text  # schema only
        assert client.get("/auth/me").status_code == 401


def test_public_read_deployment_lets_anonymous_visitors_read_the_map(seeded) -> None:
    settings, known = seeded
    with TestClient(create_app(settings.model_copy(update={"public_read": True}))) as client:
        for method, path, body in _reads(known):
            assert _call(client, method, path, body).status_code == 200, path
        # ... but never write
        site = known["ids"]["GS-TEST-0001"]
        res = client.patch(f"/api/assets/water_supply/{site}", json={"properties": {"notes": "x"}})
        assert res.status_code == 401


def test_signed_in_session_reads_the_map_and_a_post_without_csrf_is_refused(seeded) -> None:
    settings, known = seeded
    planner = known["accounts"][Role.PLANNER]
    with TestClient(create_app(settings)) as client:
        res = client.post("/auth/login", json={"username": planner.username, "password": planner.password})
        assert res.status_code == 200
        assert client.cookies.get("registry_csrf") == res.json()["csrf_token"]
        assert client.get("/api/districts").status_code == 200
        me = client.get("/auth/me").json()
        assert "create" in me["permissions"]["parking"] and "create" not in me["permissions"]["manholes"]
        body = {"geometry": mapping(bay(30))}
        assert client.post("/api/parking/check", json=body).status_code == 403  # no CSRF header
        ok = client.post("/api/parking/check", json=body, headers={"X-CSRF-Token": res.json()["csrf_token"]})
        assert ok.status_code == 200 and ok.json()["ok"] is True


def _add_photo(settings: Settings, asset_id: str, layer: str, name: str, data: bytes, tmp: Path) -> str:
    src = tmp / name
    src.write_bytes(data)
    digest, _ = store_photo(src, settings)
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (asset_id, layer, digest, name, mimetypes.guess_type(name)[0], len(data)),
        )
    return digest


def test_photos_of_an_asset_are_listed_and_served_by_digest(seeded, tmp_path: Path) -> None:
    settings, known = seeded
    viewer = known["accounts"][Role.VIEWER].bearer
    void = known["ids"]["KD-TEST-0001"]
    digest = _add_photo(settings, void, "road_voids", "现场.png", PNG, tmp_path)
    with TestClient(create_app(settings), headers=viewer) as client:
        listed = client.get(f"/api/assets/road_voids/{void}/photos").json()["photos"]
        assert [(p["sha256"], p["file_name"], p["url"]) for p in listed] == [
            (digest, "现场.png", f"/api/photos/{digest}")
        ]
        other = known["ids"]["KD-TEST-0002"]
        assert client.get(f"/api/assets/road_voids/{other}/photos").json()["photos"] == []
        img = client.get(f"/api/photos/{digest}")
        assert img.status_code == 200 and img.content == PNG
        assert img.headers["content-type"] == "image/png"
        assert img.headers["x-content-type-options"] == "nosniff"
        # upper-case hex is the same digest; anything else is never a path
        assert client.get(f"/api/photos/{digest.upper()}").status_code == 200
        for bad in ("..%2F..%2Fetc%2Fpasswd", digest[:-1], digest + "0", "g" * 64, f"{digest}.png"):
            assert client.get(f"/api/photos/{bad}").status_code == 404, bad
        # a digest of a file in the store but not recorded for any asset is not served
        (tmp_path / "stray.png").write_bytes(PNG + b"stray")
        stray, _ = store_photo(tmp_path / "stray.png", settings)
        assert client.get(f"/api/photos/{stray}").status_code == 404
    with TestClient(create_app(settings)) as anon:
        assert anon.get(f"/api/photos/{digest}").status_code == 401


def _phone_photo() -> bytes:
    """A 2400×1800 JPEG whose EXIF says "rotate 90°", as phones save portrait shots."""
    from PIL import Image

    img = Image.new("RGB", (2400, 1800), "grey")
    img.paste((200, 0, 0), (0, 0, 2400, 300))  # a red band along the stored top edge
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def test_photo_thumbnails_are_small_upright_jpegs_and_unreadable_images_fall_back_to_the_original(
    seeded, tmp_path: Path
) -> None:
    from PIL import Image

    settings, known = seeded
    void = known["ids"]["KD-TEST-0001"]
    original = _phone_photo()
    digest = _add_photo(settings, void, "road_voids", "IMG_0001.jpg", original, tmp_path)
    broken = _add_photo(settings, void, "road_voids", "坏图.jpg", b"\xff\xd8 not really a jpeg", tmp_path)
    with TestClient(create_app(settings), headers=known["accounts"][Role.VIEWER].bearer) as client:
        listed = {
            p["sha256"]: p for p in client.get(f"/api/assets/road_voids/{void}/photos").json()["photos"]
        }
        assert listed[digest]["thumb_url"] == f"/api/photos/{digest}/thumb"
        thumb = client.get(listed[digest]["thumb_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        img = Image.open(io.BytesIO(thumb.content))
        assert img.size == (240, 320)  # upright portrait, long side 320 px
        assert img.getpixel((230, 160))[0] > 150 > img.getpixel((10, 160))[0]  # the band is on the right
        assert len(thumb.content) < len(original) / 10
        assert client.get(f"/api/photos/{digest}").content == original  # full size untouched
        kept = list((tmp_path / "photos" / "thumbs").rglob(f"{digest}-*.jpg"))
        assert len(kept) == 1 and client.get(f"/api/photos/{digest}/thumb").content == thumb.content
        fallback = client.get(f"/api/photos/{broken}/thumb")
        assert fallback.status_code == 200 and fallback.content == b"\xff\xd8 not really a jpeg"
        assert client.get(f"/api/photos/{'0' * 64}/thumb").status_code == 404
    with TestClient(create_app(settings)) as anon:
        assert anon.get(f"/api/photos/{digest}/thumb").status_code == 401


def _search_ids(client: TestClient) -> list[str]:
    res = client.get("/api/search", params={"lon": 113.2418, "lat": 35.2155, "radius": 60, "limit": 200})
    return [f["id"] for f in res.json()["features"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "gpkg"])
def test_export_of_a_search_result_holds_exactly_its_assets(seeded, fmt: str, tmp_path: Path) -> None:
    settings, known = seeded
    with TestClient(create_app(settings), headers=known["accounts"][Role.VIEWER].bearer) as client:
        ids = _search_ids(client)
        layers = {known["ids"][c]: c.split("-")[0] for c in known["ids"]}
        assert len(ids) >= 4 and len({layers[i] for i in ids}) >= 3  # several layers, not all assets
        res = client.get("/api/export", params={"format": fmt, "ids": ",".join(ids)})
        assert res.status_code == 200, res.text
        out = tmp_path / f"export.{fmt}"
        out.write_bytes(res.content)
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))
            got = [r["系统编号"] for r in rows]  # (Chinese headers: the default for CSV and XLSX)
            assert all(r["图层"] for r in rows)
        elif fmt == "geojson":
            got = [f["properties"]["id"] for f in json.loads(res.content)["features"]]
        elif fmt == "xlsx":
            book = openpyxl.load_workbook(out, read_only=True)
            got = []
            for sheet in book.worksheets:
                rows = list(sheet.values)
                col = rows[0].index("系统编号")
                got += [r[col] for r in rows[1:]]
        else:
            got = []
            for name, _ in pyogrio.list_layers(out):
                got += list(pyogrio.read_dataframe(out, layer=name)["id"])
        assert sorted(got) == sorted(ids)


def test_export_names_ids_that_are_not_live_assets(seeded) -> None:
    settings, known = seeded
    with TestClient(create_app(settings), headers=known["accounts"][Role.VIEWER].bearer) as client:
        void = known["ids"]["KD-TEST-0001"]
        missing = "00000000-0000-4000-8000-000000000000"
        res = client.get("/api/export", params={"format": "csv", "ids": f"{void},{missing}"})
        assert res.status_code == 404 and missing in res.text
        assert client.get("/api/export", params={"format": "csv", "ids": "nope"}).status_code == 422
        # with a layer, ids of another layer are not silently dropped either
        site = known["ids"]["GS-TEST-0001"]
        res = client.get(
            "/api/export", params={"layer": "road_voids", "format": "csv", "ids": f"{void},{site}"}
        )
        assert res.status_code == 404 and site in res.text


# Routes anyone may GET: the pages and what the sign-in form needs, sign-in itself,
# the health check, and the OGC API's self-description (no asset data).
PUBLIC_GETS = {"/", "/upload", "/api/config", "/api/layers", "/health"}


def test_every_get_route_with_asset_data_refuses_anonymous_callers(db: Settings) -> None:
    """An inventory, so a route added later cannot leak data by forgetting READ."""
    app = create_app(db)
    gets = [path for path, ops in app.openapi()["paths"].items() if "get" in ops] + ["/", "/upload"]
    public = []
    with TestClient(app) as client:
        for template in gets:
            path = re.sub(r"\{(layer|collection_id)\}", "manholes", template)
            path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
            if client.get(path).status_code != 401:
                public.append(template)
    assert sorted(public) == sorted(PUBLIC_GETS)
