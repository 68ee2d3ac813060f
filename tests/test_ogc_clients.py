"""Two independent real clients read the OGC API over HTTP: GDAL's OAPIF driver
(Debian's ogrinfo/ogr2ogr, and the GDAL inside the pyogrio wheel) and OWSLib."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from registry.catalog import LayerCatalog
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.live_server import live_server
from tests.ogc_support import seed_layer

# Different counts per layer so a client reading the wrong collection is caught.
COUNTS = {"road_voids": 7, "manholes": 12, "poles_wires": 3, "parking": 4, "markets": 5, "water_supply": 2}


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
