"""A GeoPackage with several layers named after registry layers: each imports into its
own layer, with its own record and report, all in one transaction."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from import_helpers import manhole_rows

from importers import ImportOptions, run_multi_import
from importers.errors import ImportFileError
from layers import default_catalog
from tests.factories import make_properties, sample_geometry_for


def _write_layers(path: Path, broken_void: bool = False, extra_layer: str | None = None) -> Path:
    catalog = default_catalog()
    manholes = gpd.GeoDataFrame(
        manhole_rows(2), geometry=gpd.points_from_xy([113.2418, 113.2428], [35.2155, 35.2162]), crs=4490
    )
    manholes.to_file(path, layer="manholes", engine="pyogrio")
    voids = catalog.get("road_voids")
    props = [make_properties(voids, i + 1) for i in range(3)]
    geoms = [sample_geometry_for(voids, p, x=113.2418 + 0.001 * i) for i, p in enumerate(props)]
    if broken_void:
        props[1]["status"] = "不存在的状态"
    gpd.GeoDataFrame(props, geometry=geoms, crs=4490).to_file(path, layer="road_voids", engine="pyogrio")
    if extra_layer:
        manholes.to_file(path, layer=extra_layer, engine="pyogrio")
    return path


def _count(conn, table: str) -> int:
    n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    conn.rollback()
    return n


def test_each_gpkg_layer_goes_into_the_registry_layer_of_its_name(db, conn, tmp_path: Path) -> None:
    f = _write_layers(tmp_path / "survey.gpkg")
    reports = run_multi_import(conn, list(default_catalog()), f, settings=db, actor="t")
    assert {r.layer: (r.status, r.summary()["created"]) for r in reports} == {
        "manholes": ("committed", 2),
        "road_voids": ("committed", 3),
    }
    assert _count(conn, "manholes") == 2 and _count(conn, "road_voids") == 3
    layers = dict(conn.execute("SELECT layer, status FROM imports").fetchall())
    assert layers == {"manholes": "committed", "road_voids": "committed"}


def test_an_error_in_one_layer_writes_no_layer(db, conn, tmp_path: Path) -> None:
    f = _write_layers(tmp_path / "survey.gpkg", broken_void=True)
    reports = run_multi_import(conn, list(default_catalog()), f, settings=db, actor="t")
    by_layer = {r.layer: r for r in reports}
    assert by_layer["road_voids"].status == "rejected" and by_layer["road_voids"].summary()["rejected"] == 1
    assert by_layer["manholes"].status == "rejected"  # fine itself, but not written alone
    assert _count(conn, "manholes") == 0 and _count(conn, "road_voids") == 0
    assert _count(conn, "asset_history") == 0
    # Dry run reports both layers and writes nothing either.
    reports = run_multi_import(
        conn, list(default_catalog()), f, settings=db, actor="t", options=ImportOptions(dry_run=True)
    )
    assert [r.status for r in reports] == ["dry_run", "dry_run"]
    assert _count(conn, "manholes") == 0


def test_a_layer_named_after_no_registry_layer_is_refused_by_name(db, conn, tmp_path: Path) -> None:
    f = _write_layers(tmp_path / "survey.gpkg", extra_layer="井盖补充")
    with pytest.raises(ImportFileError, match="井盖补充"):
        run_multi_import(conn, list(default_catalog()), f, settings=db, actor="t")
    assert _count(conn, "manholes") == 0 and _count(conn, "imports") == 0
