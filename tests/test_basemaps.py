"""Basemaps configured by an admin in the app (issue 11): the admin API, what /api/config
and the page's Content-Security-Policy then offer, and the tiles of an MBTiles/PMTiles
file served by the registry itself (files made here with sqlite3, Pillow and the
PMTiles v3 layout)."""

from __future__ import annotations

import gzip
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from registry.permissions import Role
from registry.settings import Settings
from registry.tilefiles import zxy_to_tile_id
from tests.authkit import Account, make_accounts
from web.app import create_app

KEY = "0123456789abcdef0123456789abcdef"


def png(color: tuple[int, int, int]) -> bytes:
    """A 256×256 tile of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(out, format="PNG")
    return out.getvalue()


def make_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], fmt: str = "png") -> None:
    """An MBTiles file holding ``tiles`` ({(z, x, y) in XYZ: bytes}; stored in TMS rows)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute(
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)"
        )
        meta = {"name": "焦作离线底图", "format": fmt, "minzoom": "10", "maxzoom": "12",
                "bounds": "112.9,34.8,113.7,35.5", "attribution": "市测绘院"}  # fmt: skip
        db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
        )


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def make_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes]) -> None:
    """A PMTiles v3 file (gzip-compressed root directory, uncompressed PNG tiles)."""
    entries = sorted((zxy_to_tile_id(*k), v) for k, v in tiles.items())
    data = b"".join(v for _, v in entries)
    offsets, pos = [], 0
    for _, v in entries:
        offsets.append(pos)
        pos += len(v)
    d = bytearray(_varint(len(entries)))
    last = 0
    for tid, _ in entries:
        d += _varint(tid - last)
        last = tid
    d += b"".join(_varint(1) for _ in entries)
    d += b"".join(_varint(len(v)) for _, v in entries)
    d += b"".join(_varint(o + 1) for o in offsets)
    root = gzip.compress(bytes(d))
    meta = gzip.compress(b'{"name": "pm", "attribution": "PM"}')

    def u64(n: int) -> bytes:
        return n.to_bytes(8, "little")

    def i32(n: int) -> bytes:
        return n.to_bytes(4, "little", signed=True)

    root_off = 127
    meta_off = root_off + len(root)
    data_off = meta_off + len(meta)
    header = (
        b"PMTiles\x03" + u64(root_off) + u64(len(root)) + u64(meta_off) + u64(len(meta))
        + u64(data_off) + u64(0) + u64(data_off) + u64(len(data))
        + u64(len(entries)) + u64(len(entries)) + u64(len(entries))
        + bytes([1, 2, 1, 2, 10, 12])  # clustered, internal gzip, tiles raw, png, zooms
        + i32(1129000000) + i32(348000000) + i32(1137000000) + i32(355000000)
        + bytes([11]) + i32(1132400000) + i32(352150000)
    )  # fmt: skip
    assert len(header) == 127
    path.write_bytes(header + root + meta + data)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The basemap folder, with one MBTiles and one PMTiles file."""
    d = tmp_path / "basemaps"
    d.mkdir()
    make_mbtiles(
        d / "jiaozuo.mbtiles", {(11, 1668, 812): png((200, 30, 30)), (10, 834, 406): png((0, 90, 0))}
    )
    make_pmtiles(d / "jiaozuo.pmtiles", {(11, 1668, 812): png((10, 10, 200))})
    return d


@pytest.fixture
def app_settings(db: Settings, folder: Path) -> Settings:
    """The test database, the basemap folder and the bureau's Tianditu key."""
    return db.model_copy(update={"basemap_dir": folder, "tianditu_key": KEY})


@pytest.fixture
def accounts(app_settings: Settings) -> dict[Role, Account]:
    """One account per role in the test database."""
    assert app_settings.database_url
    with psycopg.connect(app_settings.database_url) as conn:
        return make_accounts(conn)


@pytest.fixture
def admin(app_settings: Settings, accounts: dict[Role, Account]) -> Iterator[TestClient]:
    """An admin's client."""
    with TestClient(create_app(app_settings), headers=accounts[Role.ADMIN].bearer) as c:
        yield c


@pytest.fixture
def viewer(app_settings: Settings, accounts: dict[Role, Account]) -> Iterator[TestClient]:
    """A viewer's client (reads, may not configure)."""
    with TestClient(create_app(app_settings), headers=accounts[Role.VIEWER].bearer) as c:
        yield c


def test_admin_configures_tianditu_and_the_page_offers_it_with_the_key(admin: TestClient) -> None:
    res = admin.post("/api/basemaps", json={"name": "tdt-vec", "title": "天地图矢量", "kind": "tianditu_vec"})
    assert res.status_code == 201, res.text
    assert res.json()["problem"] is None and "tk" not in res.json()
    config = admin.get("/api/config").json()
    tdt = next(b for b in config["basemaps"] if b["id"] == "tdt-vec")
    assert tdt["name"] == "天地图矢量" and tdt["crs"] == "wgs84" and tdt["subdomains"] == "01234567"
    assert tdt["url"].startswith("https://t{s}.tianditu.gov.cn/vec_w/wmts?")
    assert "LAYER=vec" in tdt["url"] and "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in tdt["url"]
    assert tdt["url"].endswith("&tk=" + KEY)
    assert "/cva_w/wmts?" in tdt["label_url"] and "LAYER=cva" in tdt["label_url"]
    # the page's policy lets the browser load those tiles: t0–t7, base and annotation
    csp = admin.get("/").headers["content-security-policy"]
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert all(f"https://t{i}.tianditu.gov.cn" in img for i in range(8))
    # imagery too, and the admin list masks the key
    admin.put(
        "/api/basemaps/tdt-img", json={"title": "天地图影像", "kind": "tianditu_img"}
    ).raise_for_status()
    listed = admin.get("/api/basemaps").json()
    assert [b["name"] for b in listed["basemaps"]] == ["tdt-img", "tdt-vec"]
    assert KEY not in str(listed) and listed["tianditu_key_set"] is True


def test_gcj02_xyz_basemap_its_host_in_the_csp_then_removed(admin: TestClient) -> None:
    body = {
        "name": "amap",
        "title": "高德地图",
        "kind": "xyz",
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}",
        "subdomains": "1234",
        "crs": "gcj02",
    }
    assert admin.post("/api/basemaps", json=body).status_code == 201
    assert admin.post("/api/basemaps", json=body).json()["code"] == "basemap_exists"
    amap = next(b for b in admin.get("/api/config").json()["basemaps"] if b["id"] == "amap")
    assert amap["crs"] == "gcj02"
    csp = admin.get("/").headers["content-security-policy"]
    assert "https://webrd01.is.autonavi.com" in csp and "https://webrd04.is.autonavi.com" in csp
    assert admin.delete("/api/basemaps/amap").status_code == 204
    assert "autonavi" not in admin.get("/").headers["content-security-policy"]
    assert admin.delete("/api/basemaps/amap").json()["code"] == "basemap_not_found"


def test_wmts_restful_template_is_translated(admin: TestClient) -> None:
    res = admin.put(
        "/api/basemaps/intranet",
        json={
            "title": "内网 WMTS",
            "kind": "wmts",
            "url": "https://gis.jz.gov.cn/wmts/vec/default/w/{TileMatrix}/{TileRow}/{TileCol}.png",
        },
    )
    assert res.status_code == 200, res.text
    assert res.json()["resolved"]["url"] == "https://gis.jz.gov.cn/wmts/vec/default/w/{z}/{y}/{x}.png"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name", "title": "x", "kind": "xyz", "url": "https://a.b/{z}/{x}/{y}.png"}, "name"),
        ({"name": "x", "title": "x", "kind": "xyz", "url": "ftp://a.b/{z}/{x}/{y}.png"}, "url"),
        ({"name": "x", "title": "x", "kind": "xyz", "url": "https://a.b/tiles.png"}, "url"),
        ({"name": "x", "title": "x", "kind": "mbtiles", "file": "../etc/passwd.mbtiles"}, "file"),
        ({"name": "x", "title": "x", "kind": "mbtiles", "file": "missing.mbtiles"}, "file"),
        ({"name": "x", "title": "x", "kind": "tianditu_vec", "tk": "bad key!"}, "tk"),
        ({"name": "x", "title": "x", "kind": "tianditu_vec", "crs": "gcj02"}, "crs"),
        ({"name": "x", "title": "", "kind": "xyz", "url": "https://a.b/{z}/{x}/{y}.png"}, "title"),
        ({"name": "x", "title": "x", "kind": "bing"}, "kind"),
    ],
)
def test_bad_configuration_is_a_422_naming_the_field(admin: TestClient, body: dict, field: str) -> None:
    res = admin.post("/api/basemaps", json=body)
    assert res.status_code == 422, res.text
    problem = res.json()
    assert problem["code"] == "invalid_basemap" and field in problem["detail"], problem
    assert admin.get("/api/basemaps").json()["basemaps"] == []


def test_only_an_admin_configures_basemaps(viewer: TestClient) -> None:
    assert viewer.get("/api/basemaps").status_code == 403
    res = viewer.post("/api/basemaps", json={"name": "x", "title": "x", "kind": "tianditu_vec"})
    assert res.status_code == 403
    assert viewer.delete("/api/basemaps/x").status_code == 403


def test_mbtiles_tiles_are_served_from_the_file(admin: TestClient, viewer: TestClient) -> None:
    res = admin.post("/api/basemaps", json={"name": "offline", "title": "离线底图", "kind": "mbtiles",
                                            "file": "jiaozuo.mbtiles"})  # fmt: skip
    assert res.status_code == 201, res.text
    offline = next(b for b in admin.get("/api/config").json()["basemaps"] if b["id"] == "offline")
    assert offline["url"] == "/basemaps/offline/{z}/{x}/{y}.png"
    assert offline["min_zoom"] == 10 and offline["bounds"] == [112.9, 34.8, 113.7, 35.5]
    assert offline["attribution"] == "市测绘院" and offline["vector"] is False
    tile = viewer.get("/basemaps/offline/11/1668/812.png")  # XYZ row; the file stores TMS
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(tile.content)).getpixel((5, 5)) == (200, 30, 30)
    z10 = viewer.get("/basemaps/offline/10/834/406.png")
    assert Image.open(io.BytesIO(z10.content)).getpixel((5, 5)) == (0, 90, 0)
    assert viewer.get("/basemaps/offline/11/1668/813.png").status_code == 404  # not in the file
    assert viewer.get("/basemaps/offline/11/1668/812.pbf").status_code == 404  # not its format
    assert viewer.get("/basemaps/nothing/11/1668/812.png").status_code == 404
    # the policy needs nothing beyond 'self' for tiles served by the registry
    img = next(
        d for d in admin.get("/").headers["content-security-policy"].split("; ") if d.startswith("img-src")
    )
    assert img == "img-src 'self' data: blob:"


def test_tiles_need_a_reader(app_settings: Settings, admin: TestClient) -> None:
    admin.post(
        "/api/basemaps",
        json={"name": "offline", "title": "离线", "kind": "mbtiles", "file": "jiaozuo.mbtiles"},
    )
    with TestClient(create_app(app_settings)) as anonymous:
        assert anonymous.get("/basemaps/offline/11/1668/812.png").status_code == 401


def test_pmtiles_tiles_are_served_from_the_file(admin: TestClient) -> None:
    res = admin.post("/api/basemaps", json={"name": "pm", "title": "PMTiles 底图", "kind": "pmtiles",
                                            "file": "jiaozuo.pmtiles"})  # fmt: skip
    assert res.status_code == 201, res.text
    pm = res.json()["resolved"]
    assert pm["url"] == "/basemaps/pm/{z}/{x}/{y}.png" and pm["min_zoom"] == 10 and pm["max_zoom"] == 18
    assert pm["bounds"] == pytest.approx([112.9, 34.8, 113.7, 35.5])
    tile = admin.get("/basemaps/pm/11/1668/812.png")
    assert tile.status_code == 200
    assert Image.open(io.BytesIO(tile.content)).getpixel((0, 0)) == (10, 10, 200)
    assert admin.get("/basemaps/pm/11/1669/812.png").status_code == 404


def test_a_vector_mbtiles_is_offered_as_vector_tiles(admin: TestClient, folder: Path) -> None:
    make_mbtiles(folder / "vector.mbtiles", {(11, 1668, 812): gzip.compress(b"\x1a\x00")}, fmt="pbf")
    with sqlite3.connect(folder / "vector.mbtiles") as db:
        layers = '{"vector_layers": [{"id": "roads"}, {"id": "water"}]}'
        db.execute("INSERT INTO metadata VALUES ('json', ?)", (layers,))
    res = admin.post("/api/basemaps", json={"name": "vec", "title": "矢量底图", "kind": "mbtiles",
                                            "file": "vector.mbtiles"})  # fmt: skip
    resolved = res.json()["resolved"]
    assert resolved["vector"] is True and resolved["vector_layers"] == ["roads", "water"]
    assert resolved["url"] == "/basemaps/vec/{z}/{x}/{y}.pbf"
    tile = admin.get("/basemaps/vec/11/1668/812.pbf")
    assert tile.status_code == 200 and tile.headers["content-encoding"] == "gzip"
    assert tile.content == b"\x1a\x00"  # the client undid the gzip the file stored


def test_a_file_that_went_missing_is_left_out_of_the_page(admin: TestClient, folder: Path) -> None:
    admin.post(
        "/api/basemaps",
        json={"name": "offline", "title": "离线", "kind": "mbtiles", "file": "jiaozuo.mbtiles"},
    )
    (folder / "jiaozuo.mbtiles").unlink()
    assert [b for b in admin.get("/api/config").json()["basemaps"] if b.get("id") == "offline"] == []
    listed = admin.get("/api/basemaps").json()["basemaps"][0]
    assert listed["problem"] and "jiaozuo.mbtiles" in listed["problem"]
