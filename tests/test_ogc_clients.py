"""Independent real clients read the OGC API over HTTP: GDAL's OAPIF driver (Debian's
ogrinfo/ogr2ogr, and the GDAL inside the pyogrio wheel), OWSLib, and QGIS.

Tests marked ``gis_client`` (``pytest -m gis_client``) sign desktop clients in with HTTP
Basic (user name + API token), as QGIS 3.22 (Debian 12) and GDAL builds before 3.6 must:
Debian's ogrinfo 3.6 with ``GDAL_HTTP_USERPWD``, and QGIS headless.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import PASSWORDS, reader_headers
from tests.factories import CENTRE
from tests.live_server import live_server
from tests.ogc_support import seed_layer

# Different counts per layer so a client reading the wrong collection is caught.
COUNTS = {"road_voids": 7, "manholes": 12, "poles_wires": 3, "parking": 4, "markets": 5, "water_supply": 2}
# QGIS's Python bindings (Debian's python3-qgis) exist for the system python only
SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_CLIENT = Path(__file__).with_name("qgis_client.py")


@pytest.fixture
def token(db: Settings) -> str:
    """A viewer's API token: GIS desktop clients authenticate with a header."""
    return reader_headers(db)["Authorization"]


@pytest.fixture
def server(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog, token: str) -> Iterator[str]:
    for spec in catalog:
        seed_layer(conn, spec, COUNTS.get(spec.name, 3))
    conn.commit()
    assert db.database_url
    with live_server(db.database_url) as base:
        yield f"{base}/ogc"


def _gdal_env(token: str) -> dict[str, str]:
    return {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: {token}"}


@pytest.fixture
def basic_login(token: str) -> tuple[str, str]:
    """User name and API token, as a desktop client's Basic authentication holds them."""
    return Role.VIEWER.value, token.removeprefix("Bearer ")  # reader_headers' account


def test_gis_client_without_a_token_is_refused(server: str) -> None:
    out = subprocess.run(
        [_need("ogrinfo"), "-ro", "-so", f"OAPIF:{server}", "manholes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "401" in out.stderr


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: install Debian's gdal-bin (scripts/setup.sh does)")
    return path


def test_ogrinfo_reads_every_collection_with_the_right_count(
    server: str, catalog: LayerCatalog, token: str
) -> None:
    ogrinfo = _need("ogrinfo")
    for spec in catalog:
        out = subprocess.run(
            [ogrinfo, "-ro", "-so", f"OAPIF:{server}", spec.name],
            capture_output=True,
            text=True,
            timeout=60,
            env=_gdal_env(token),
        )
        assert out.returncode == 0, out.stderr
        m = re.search(r"Feature Count: (\d+)", out.stdout)
        assert m, out.stdout
        assert int(m.group(1)) == COUNTS[spec.name], (spec.name, out.stdout)


def test_ogr2ogr_copies_a_collection_to_geojson(server: str, tmp_path: Path, token: str) -> None:
    ogr2ogr = _need("ogr2ogr")
    target = tmp_path / "manholes.geojson"
    out = subprocess.run(
        [ogr2ogr, "-f", "GeoJSON", str(target), f"OAPIF:{server}", "manholes"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_gdal_env(token),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(target.read_text())
    assert len(data["features"]) == COUNTS["manholes"]
    lon, lat = data["features"][0]["geometry"]["coordinates"][:2]
    assert 112 < lon < 114 and 34 < lat < 36  # lon/lat order after GDAL's axis handling


def test_pyogrio_gdal_reads_collections_in_the_right_place(
    server: str, catalog: LayerCatalog, token: str
) -> None:
    """The GDAL in the pyogrio wheel (3.1x) prefers the storage CRS (EPSG:4490,
    latitude first): whatever it asks for, every point must land in Jiaozuo."""
    import pyogrio
    import shapely
    from pyproj import CRS, Transformer

    # GDAL >= 3.9 sends a bearer token natively
    pyogrio.set_gdal_config_options(
        {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token.removeprefix("Bearer ")}
    )
    for spec in catalog:
        info = pyogrio.read_info(f"OAPIF:{server}", layer=spec.name, force_feature_count=True)
        assert info["features"] == COUNTS[spec.name], spec.name
        meta, _fids, geoms, _fields = pyogrio.raw.read(f"OAPIF:{server}", layer=spec.name)
        assert len(geoms) == COUNTS[spec.name]
        to_lonlat = Transformer.from_crs(CRS.from_user_input(meta["crs"]), 4326, always_xy=True)
        for wkb in geoms:
            centre = shapely.from_wkb(wkb).centroid
            lon, lat = to_lonlat.transform(centre.x, centre.y)
            assert 113.2 < lon < 113.3 and 35.2 < lat < 35.3, (spec.name, meta["crs"], lon, lat)


def test_owslib_lists_collections_and_pages_through_items(
    server: str, catalog: LayerCatalog, token: str
) -> None:
    from owslib.ogcapi.features import Features

    api = Features(server, headers={"Authorization": token})
    ids = {c["id"] for c in api.collections()["collections"]}
    assert ids == set(catalog.names())
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    seen: list[str] = []
    offset = 0
    while True:
        page = api.collection_items("manholes", limit=5, offset=offset)
        seen += [f["id"] for f in page["features"]]
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 5
    assert len(seen) == len(set(seen)) == COUNTS["manholes"]
    one = api.collection_item("manholes", seen[0])
    assert one["id"] == seen[0]


# ---------------------------------------------------------------- HTTP Basic clients


@pytest.mark.gis_client
@pytest.mark.parametrize("http_auth", [None, "ANY"], ids=["preemptive", "after-challenge"])
def test_ogrinfo_reads_with_gdal_http_userpwd_user_and_api_token(
    server: str, basic_login: tuple[str, str], http_auth: str | None
) -> None:
    """``GDAL_HTTP_USERPWD`` (Basic), the one way in for GDAL before 3.6, here Debian's 3.6.

    With ``GDAL_HTTP_AUTH=ANY`` curl first asks without credentials and answers the
    401's ``WWW-Authenticate`` challenge, which must offer Basic.
    """
    env = {**os.environ, "GDAL_HTTP_USERPWD": ":".join(basic_login)}
    if http_auth:
        env["GDAL_HTTP_AUTH"] = http_auth
    out = subprocess.run(
        [_need("ogrinfo"), "-ro", "-so", f"OAPIF:{server}", "manholes"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    m = re.search(r"Feature Count: (\d+)", out.stdout)
    assert m and int(m.group(1)) == COUNTS["manholes"], out.stdout


@pytest.mark.gis_client
def test_ogrinfo_with_the_account_password_is_refused(server: str, basic_login: tuple[str, str]) -> None:
    username, _token = basic_login
    env = {**os.environ, "GDAL_HTTP_USERPWD": f"{username}:{PASSWORDS[Role.VIEWER]}"}
    out = subprocess.run(
        [_need("ogrinfo"), "-ro", "-so", f"OAPIF:{server}", "manholes"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode != 0
    assert "401" in out.stderr


def _run_qgis(server: str, workdir: Path, username: str, token: str) -> dict[str, Any]:
    """Run tests/qgis_client.py with the system python; its JSON report."""
    if (
        not Path(SYSTEM_PYTHON).exists()
        or subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60
        ).returncode
    ):
        pytest.fail(
            "QGIS's Python bindings are missing: install Debian's python3-qgis "
            "(scripts/setup.sh --with-browser does)"
        )
    # the .venv's variables must not leak into the system python
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    spec = {
        "workdir": str(workdir),
        "ogc": server,
        "username": username,
        "token": token,
        "collection": "manholes",
        "centre": list(CENTRE),
    }
    out = subprocess.run(
        [SYSTEM_PYTHON, str(QGIS_CLIENT), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.gis_client
def test_qgis_reads_features_and_vector_tiles_through_a_basic_auth_config(
    server: str, catalog: LayerCatalog, basic_login: tuple[str, str], tmp_path: Path
) -> None:
    """QGIS 3.22 (Debian 12), headless: a stored "Basic" authentication configuration
    (user name, API token as the password) on an OAPIF layer and a vector tile layer."""
    report = _run_qgis(server, tmp_path, *basic_login)
    assert report["qgis"].startswith("3."), report
    oapif = report["oapif"]
    assert oapif["valid"], report
    assert oapif["count"] == COUNTS["manholes"] > 0, report
    for lon, lat in oapif["lonlat"]:
        assert 113.2 < lon < 113.3 and 35.2 < lat < 35.3, report
    tiles = report["tiles"]
    assert tiles["valid"] and tiles["tiles"] > 0, report
    for spec in catalog:
        assert tiles["features"].get(spec.name, 0) > 0, (spec.name, report)
    # without the configuration the same layers read nothing: the server said 401
    assert report["oapif_anonymous"]["count"] == 0, report
    assert report["tiles_anonymous"]["features"] == {}, report
