"""Raw survey files as surveyors bring them (issue 12): defaults for a run and generated
codes, survey coordinate columns and X = north, the ranked CRS guess, "did you mean",
geometry edge cases, near duplicates in a file, overlaps and plausibility as row errors,
the GCJ-02 hint, and the CLI's errors and exit codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from import_helpers import POINTS, assets, manhole_rows, write_vector
from pyproj import Transformer
from shapely.geometry import Point, Polygon
from test_import_cli import cli

from importers import ImportOptions, run_import
from importers.checks import checked_defaults
from importers.errors import BadOption, CrsLooksOffset, CrsMissing, CrsWrong

YEAR = dt.date.today().year


@pytest.fixture
def settings(db, tmp_path):
    return db.model_copy(update={"data_dir": tmp_path / "data"})


def _imp(conn, spec, path, settings, **opts):
    return run_import(conn, spec, path, settings=settings, actor="t", options=ImportOptions(**opts))


def _xy(epsg: int) -> list[tuple[float, float]]:
    to = Transformer.from_crs(4490, epsg, always_xy=True)
    return [to.transform(lon, lat) for lon, lat in POINTS]


def _errors(rep, lang="en"):
    return [r for r in rep.as_dict(lang)["rows"] if r["level"] == "error"]


def test_defaults_and_generated_codes_for_a_plain_survey_table(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    xy = _xy(4547)
    table = pd.DataFrame(
        {"东坐标": [x for x, _ in xy[:4]], "北坐标": [y for _, y in xy[:4]], "道路": "人民路"}
    )
    table.loc[2, "道路"] = None
    f = tmp_path / "普查.csv"
    table.to_csv(f, index=False)
    rep = _imp(
        conn,
        spec,
        f,
        settings,
        crs="4547",
        defaults={"status": "in_service", "kind": "雨水", "condition": "完好"},
    )
    assert rep.status == "committed" and rep.summary()["created"] == 4, _errors(rep)
    codes = [f"JG-{YEAR}-{i:04d}" for i in (1, 2, 3, 4)]
    assert rep.codes_generated == codes and rep.as_dict()["codes_generated"]["count"] == 4
    stored = assets(conn, spec)
    assert sorted(stored) == codes and {a["kind"] for a in stored.values()} == {"rain"}
    # the next run's codes continue after the stored ones (found with one query)
    again = _imp(
        conn,
        spec,
        f,
        settings,
        crs="4547",
        defaults={"status": "in_service", "kind": "rain", "condition": "intact"},
    )
    assert again.codes_generated[0] == f"JG-{YEAR}-0005"
    with pytest.raises(BadOption) as bad:
        _imp(conn, spec, f, settings, crs="4547", defaults={"status": "broken"})
    assert "status" in bad.value.message_en and "默认值" in bad.value.message_zh
    with pytest.raises(BadOption):
        _imp(conn, spec, f, settings, crs="4547", defaults={"colour": "red"})
    # the upload page's example: an attribute named by its label, a value by its label
    assert checked_defaults(spec, {"状态": "在用", "井类": "雨水"}) == {"status": "在用", "kind": "雨水"}
    with pytest.raises(BadOption) as bad:
        checked_defaults(spec, {"状态": "坏了"})
    # the nested reason is rendered in the language of the message around it
    assert "不是允许的取值" in bad.value.text("zh") and "not an allowed value" in bad.value.text("en")
    assert "不是" not in bad.value.text("en")


@pytest.mark.parametrize(("xname", "yname"), [("X坐标", "Y坐标"), ("Easting", "Northing"), ("E", "N")])
def test_survey_coordinate_columns_are_recognised(conn, catalog, settings, tmp_path, xname, yname) -> None:
    spec = catalog.get("manholes")
    xy = _xy(4547)
    rows = manhole_rows(2)
    table = pd.DataFrame(rows).assign(**{xname: [x for x, _ in xy[:2]], yname: [y for _, y in xy[:2]]})
    f = tmp_path / "s.csv"
    table.to_csv(f, index=False)
    rep = _imp(conn, spec, f, settings, crs="EPSG:4547", dry_run=True)
    assert rep.summary()["created"] == 2, _errors(rep)


def test_x_north_is_guessed_and_swap_xy_applies_it(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    xy = _xy(4547)
    # survey convention: X = north, Y = east
    table = pd.DataFrame(manhole_rows(3)).assign(X坐标=[y for _, y in xy[:3]], Y坐标=[x for x, _ in xy[:3]])
    f = tmp_path / "测量.csv"
    table.to_csv(f, index=False)
    with pytest.raises(CrsMissing) as guess:
        _imp(conn, spec, f, settings)
    assert "--swap-xy" in guess.value.message_en and "EPSG:4547" in guess.value.message_en
    assert "--swap-xy" in guess.value.message_zh
    rep = _imp(conn, spec, f, settings, crs="4547", swap_xy=True, dry_run=True)
    assert rep.summary()["created"] == 3, _errors(rep)
    # named columns
    g = tmp_path / "named.csv"
    pd.DataFrame(manhole_rows(1)).assign(北=[xy[0][1]], 东=[xy[0][0]], px=[1]).to_csv(g, index=False)
    rep = _imp(conn, spec, g, settings, crs="4547", x_column="东", y_column="北", dry_run=True)
    assert rep.summary()["created"] == 1
    with pytest.raises(BadOption):
        _imp(conn, spec, g, settings, crs="4547", x_column="nope", y_column="北")


def test_the_crs_guess_ranks_every_zone_by_landing_inside(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    for epsg in (4546, 4547, 4526):
        xy = _xy(epsg)
        f = tmp_path / f"gk{epsg}.csv"
        pd.DataFrame(manhole_rows(3)).assign(x=[x for x, _ in xy[:3]], y=[y for _, y in xy[:3]]).to_csv(
            f, index=False
        )
        with pytest.raises(CrsMissing) as guess:
            _imp(conn, spec, f, settings)
        assert f"EPSG:{epsg}" in guess.value.message_en, guess.value.message_en
        assert _imp(conn, spec, f, settings, crs=str(epsg), dry_run=True).summary()["created"] == 3


def test_did_you_mean_and_normalised_values(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("markets")
    rows = [
        {"编号": "SC-1", "状态": "开放", "类型": "马路市场场", "名称": "a"},
        {"编号": "SC-2", "状态": "开放", "类型": "马路 市场", "名称": "b"},
        {"编号": "SC-3", "状态": "ＡＣＴＩＶＥ", "类型": "Night  Market", "名称": "c"},
    ]
    rep = _imp(conn, spec, write_vector(tmp_path / "m.gpkg", rows), settings, dry_run=True)
    (bad,) = _errors(rep, "zh")
    assert bad["row"] == 1 and "您是不是要填“马路市场”" in bad["reason"], bad
    assert bad["field_label"] == "类型" and _errors(rep)[0]["field_label"] == "Kind"
    assert rep.summary()["created"] == 2


def test_geometry_edge_cases_each_get_one_clear_reason(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    rows = manhole_rows(4)
    table = pd.DataFrame(rows).assign(
        wkt=["POINT (181 95)", "POINT EMPTY", "POINT Z (113.2418 35.2155 88)", "POINT (113.2428 35.2162)"]
    )
    f = tmp_path / "g.csv"
    table.to_csv(f, index=False)
    rep = _imp(conn, spec, f, settings, dry_run=True)
    found = rep.as_dict("en")["rows"]
    by_row = {r["row"]: [x for x in found if x["row"] == r["row"] and x["level"] != "ok"] for r in found}
    assert ["out of range" in x["reason"] for x in by_row[2]] == [True]
    assert [x["reason"] for x in by_row[3]] == ["geometry is missing or empty"]
    assert [x["level"] for x in by_row[4]] == ["warning"] and "Z value dropped" in by_row[4][0]["reason"]
    assert rep.summary()["created"] == 2


def test_near_duplicates_within_the_file_are_found(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    pts = [POINTS[0], (POINTS[0][0] + 5e-6, POINTS[0][1]), POINTS[3]]  # 0.45 m apart, then far
    rep = _imp(
        conn, spec, write_vector(tmp_path / "n.gpkg", manhole_rows(3), points=pts), settings, dry_run=True
    )
    (near,) = [r for r in rep.as_dict("en")["rows"] if r["level"] == "warning"]
    assert near["row"] == 2 and "row 1 of this file" in near["reason"]


def test_a_wrong_projected_crs_is_one_clear_error(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    f = write_vector(tmp_path / "deg.gpkg", manhole_rows(10))
    with pytest.raises(CrsWrong) as wrong:
        _imp(conn, spec, f, settings, crs="EPSG:4547")
    # (what they do look like, rather than ten rows of Infinity coordinates)
    assert "EPSG:4547" in wrong.value.message_en and "look like EPSG:4490" in wrong.value.message_en
    assert len(wrong.value.message_zh) < 400


def test_bow_tie_repair_keeps_the_largest_half_and_says_what_it_dropped(
    conn, catalog, settings, tmp_path
) -> None:
    spec = catalog.get("parking")
    x, y = POINTS[0]
    d = 2e-4
    bow = Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])
    rows = [{"编号": "TC-1", "状态": "在用", "类型": "路内泊位"}]
    f = write_vector(tmp_path / "bow.gpkg", rows, points=[bow])
    assert "invalid geometry" in _errors(_imp(conn, spec, f, settings, dry_run=True))[0]["reason"]
    rep = _imp(conn, spec, f, settings, dry_run=True, repair_geometry=True)
    (note,) = [r for r in rep.as_dict("en")["rows"] if r["level"] == "warning"]
    assert "kept the largest of 2 parts, dropped" in note["reason"] and "m²" in note["reason"]
    assert "舍弃面积" in rep.as_dict("zh")["rows"][0]["reason"] or any(
        "舍弃面积" in r["reason"] for r in rep.as_dict("zh")["rows"]
    )
    assert rep.summary()["created"] == 1


def test_overlap_with_a_parking_bay_and_an_implausible_area_are_row_errors(
    conn, catalog, settings, tmp_path
) -> None:
    spec = catalog.get("parking")
    x, y = POINTS[0]
    d = 3e-4
    first = Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])
    rows = [{"编号": "TC-1", "状态": "在用", "类型": "路内泊位"}]
    assert (
        _imp(conn, spec, write_vector(tmp_path / "a.gpkg", rows, points=[first]), settings).status
        == "committed"
    )
    shifted = Polygon([(x + d / 2, y), (x + 1.5 * d, y), (x + 1.5 * d, y + d), (x + d / 2, y + d)])
    huge = Polygon([(x, y), (x + 0.2, y), (x + 0.2, y + 0.2), (x, y + 0.2)])
    rows = [
        {"编号": "TC-2", "状态": "在用", "类型": "路内泊位"},
        {"编号": "TC-3", "状态": "规划", "类型": "路内泊位"},
        {"编号": "TC-4", "状态": "在用", "类型": "路外停车场"},
    ]
    f = write_vector(tmp_path / "b.gpkg", rows, points=[shifted, shifted, huge])
    for dry in (True, False):
        rep = _imp(conn, spec, f, settings, dry_run=dry, skip_rejected=True)
        errors = {r["row"]: r for r in _errors(rep)}
        assert set(errors) == {1, 3}, errors
        assert "overlaps TC-1 by" in errors[1]["reason"] and "planned" in errors[1]["reason"]
        assert "plausible" in errors[3]["reason"]
        assert "重叠" in _errors(rep, "zh")[0]["reason"]


def test_a_phone_app_table_is_refused_with_the_gcj02_hint(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    table = pd.DataFrame(manhole_rows(2)).assign(
        经度=[p[0] for p in POINTS[:2]], 纬度=[p[1] for p in POINTS[:2]], 高德POI=["a", "b"]
    )
    f = tmp_path / "points.csv"
    table.to_csv(f, index=False)
    with pytest.raises(CrsLooksOffset) as hint:
        _imp(conn, spec, f, settings)
    assert "--crs gcj02" in hint.value.message_en and "GCJ-02" in hint.value.message_zh
    assert _imp(conn, spec, f, settings, crs="gcj02", dry_run=True).summary()["created"] == 2


def test_cli_file_errors_languages_defaults_and_exit_codes(db, conn, tmp_path: Path) -> None:
    missing = cli(db, tmp_path, "import", "nope.csv", "--layer", "manholes", ok=False)
    assert missing.returncode == 2 and missing.stderr.strip() == "错误：找不到文件 nope.csv", missing.stderr
    xy = _xy(4547)
    f = tmp_path / "普查.csv"
    pd.DataFrame({"X坐标": [y for _, y in xy[:3]], "Y坐标": [x for x, _ in xy[:3]]}).to_csv(f, index=False)
    guessed = cli(db, tmp_path, "import", str(f), "--layer", "manholes", "--lang", "en", ok=False)
    assert guessed.returncode == 2 and "--swap-xy" in guessed.stderr and "Traceback" not in guessed.stderr
    assert len(guessed.stderr.strip().splitlines()) == 1
    args = [
        "import",
        str(f),
        "--layer",
        "manholes",
        "--crs",
        "4547",
        "--swap-xy",
        "--set",
        "status=in_service",
    ]
    dry = cli(db, tmp_path, *args, "--dry-run", ok=False)  # kind is required: every row rejected
    assert dry.returncode == 1 and "\t错误\t井类\t" in dry.stdout and "必填字段缺失" in dry.stdout, dry.stdout
    ok = cli(db, tmp_path, *args, "--set", "kind=rain", "--set", "condition=intact")
    assert f"JG-{YEAR}-0001 … JG-{YEAR}-0003" in ok.stdout and "新增 3" in ok.stdout, ok.stdout


def test_http_form_takes_defaults_and_swap(db, tmp_path: Path) -> None:
    import psycopg
    from fastapi.testclient import TestClient

    from registry.permissions import Role
    from tests.authkit import make_accounts
    from web.app import create_app

    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    xy = _xy(4547)
    body = pd.DataFrame({"X坐标": [y for _, y in xy[:2]], "Y坐标": [x for x, _ in xy[:2]]}).to_csv(
        index=False
    )
    with psycopg.connect(db.database_url) as admin_conn:
        surveyor = make_accounts(admin_conn)[Role.SURVEYOR]
    with TestClient(create_app(settings), headers=surveyor.bearer) as client:
        data = {"layer": "manholes", "crs": "EPSG:4547", "swap_xy": "true", "dry_run": "true"}
        r = client.post(
            "/api/imports",
            data={**data, "set": ["status=in_service", "kind=rain\ncondition=intact"]},
            files={"file": ("a.csv", body.encode(), "text/csv")},
        )
        assert r.status_code == 200, r.text
        assert r.json()["summary"]["created"] == 2 and r.json()["codes_generated"]["count"] == 2
        r = client.post(
            "/api/imports", data={**data, "set": "kind"}, files={"file": ("a.csv", body.encode())}
        )
        assert r.status_code == 422 and "--set" in r.text


def test_gpkg_with_z_and_geometry_types(conn, catalog, settings, tmp_path) -> None:
    spec = catalog.get("manholes")
    gdf = gpd.GeoDataFrame(manhole_rows(1), geometry=[Point(*POINTS[0], 99.0)], crs=4490)
    gdf.to_file(tmp_path / "z.gpkg", engine="pyogrio")
    rep = _imp(conn, spec, tmp_path / "z.gpkg", settings)
    assert rep.status == "committed" and "高程" in rep.as_dict("zh")["rows"][0]["reason"]
