"""Surveyors' upload page in the browser: dry-run report with the bad rows in the table
and on the map, then the import, its summary and undo."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from layers import default_catalog
from registry.permissions import Role
from tests.browser.conftest import LiveServer, open_page
from tests.factories import CENTRE, make_json_properties, make_properties

pytestmark = pytest.mark.browser


def _survey_file(tmp_path: Path, *, bad_row: bool = True) -> Path:
    """Four manholes; with ``bad_row`` the third has a condition that is not allowed."""
    spec = default_catalog().get("manholes")
    features = []
    for n in range(1, 5):
        props = make_json_properties(spec, n)
        props["code"] = f"JG-UP-{n:04d}"
        x, y = CENTRE[0] + n * 0.0004, CENTRE[1] - 0.0004
        if n == 3 and bad_row:
            props["condition"] = "exploded"  # not an allowed value
        features.append(
            {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [x, y]}}
        )
    path = tmp_path / ("井盖排查.geojson" if bad_row else "井盖排查-改正.geojson")
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def test_upload_dry_run_report_then_import_and_undo(browser, live_server: LiveServer, tmp_path: Path) -> None:
    mp = open_page(browser, live_server, "/upload", role=Role.SURVEYOR)
    page = mp.page
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("h1").inner_text() == "数据上传"
    page.set_input_files("#up-file", str(_survey_file(tmp_path)))
    page.select_option("#up-layer", "manholes")
    page.click("#up-dry")
    page.wait_for_selector("#report-table")
    bad = page.locator("#report-table tbody tr.bad")
    assert bad.count() >= 1
    assert "condition" in bad.first.inner_text() or "井盖状况" in bad.first.inner_text()
    assert page.locator("#up-bad").inner_text() == "1"
    # the bad row is drawn on the map where the file puts it
    assert (
        page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length")
        >= 1
    )
    # sortable: clicking the row header reverses the order
    page.click("#report-table th[data-key='row']")
    assert page.locator("#report-table th[data-key='row']").get_attribute("aria-sort") == "descending"
    mp.shot("upload-dry-run")

    def total() -> int:
        return httpx.get(f"{live_server.url}/health", headers=live_server.headers()).json()["total"]

    before = total()
    # a file with a bad row is all or nothing: 确认导入 stays off until the surveyor
    # chooses to skip the bad rows; then the three good ones are written, and undone
    expect(page.locator("#up-confirm")).to_be_disabled()
    page.check("#up-skip")
    expect(page.locator("#up-confirm")).to_be_enabled()
    page.click("#up-confirm")
    page.wait_for_selector("#up-status[data-status='committed']", timeout=30000)
    assert "null" not in page.locator("#up-summary").inner_text()
    assert total() == before + 3
    page.click("#up-undo")
    page.wait_for_selector("#up-undone")
    assert total() == before
    page.uncheck("#up-skip")
    # the corrected file imports, and the import is undone
    page.set_input_files("#up-file", str(_survey_file(tmp_path, bad_row=False)))
    page.click("#up-dry")
    expect(page.locator("#up-bad")).to_have_text("0")
    page.click("#up-confirm")
    page.wait_for_selector("#up-status[data-status='committed']", timeout=30000)
    mp.shot("upload-summary")
    assert total() == before + 4
    page.click("#up-undo")
    page.wait_for_selector("#up-undone")
    assert total() == before
    assert not mp.errors
    page.context.close()


def test_a_geopackage_of_several_layers_asks_which_one_then_checks_it(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    import geopandas as gpd

    spec = default_catalog().get("manholes")
    rows = [{**make_properties(spec, n), "code": f"JG-GP-{n}"} for n in (1, 2)]
    points = gpd.points_from_xy([CENTRE[0], CENTRE[0] + 0.0005], [CENTRE[1] - 0.001] * 2)
    path = tmp_path / "标段成果.gpkg"
    gpd.GeoDataFrame(rows, geometry=points, crs=4490).to_file(path, layer="一标段")
    gpd.GeoDataFrame(rows[:1], geometry=points[:1], crs=4490).to_file(path, layer="二标段")
    mp = open_page(browser, live_server, "/upload", role=Role.SURVEYOR)
    page = mp.page
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#up-source-row").is_hidden()
    page.set_input_files("#up-file", str(path))
    page.select_option("#up-layer", "manholes")
    page.click("#up-dry")
    page.wait_for_selector("#up-source-row:not([hidden])")
    assert page.locator("#up-source option").all_inner_texts() == ["一标段", "二标段"]
    assert "一标段" in page.locator("#up-summary").inner_text()
    page.select_option("#up-source", "一标段")
    page.click("#up-dry")
    page.wait_for_selector("#report-table")
    assert page.locator("#report-table tbody tr").count() == 2
    assert page.locator("#report-table tbody tr.bad").count() == 0
    mp.shot("upload-choose-layer")
    page.context.close()


def test_the_upload_map_marks_exactly_the_bad_rows_of_a_csv(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    """CSV rows are numbered as a spreadsheet shows them (header = line 1): the page must
    not draw the next row's position, nor lose the last bad row."""
    lines = ["编号,状态,井类,井盖状况,经度,纬度"]
    bad = {2, 4, 6, 7, 8}  # data rows (1-based), the last one included
    for n in range(1, 9):
        condition = "exploded" if n in bad else "完好"
        lines.append(f"JG-CSV-{n:04d},在用,雨水,{condition},{CENTRE[0] + n * 0.0004:.6f},{CENTRE[1]:.6f}")
    path = tmp_path / "井盖.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mp = open_page(browser, live_server, "/upload", role=Role.SURVEYOR)
    page = mp.page
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("#up-file", str(path))
    page.select_option("#up-layer", "manholes")
    page.click("#up-dry")
    page.wait_for_selector("#report-table")
    assert page.locator("#up-bad").inner_text() == str(len(bad))
    drawn = page.locator(".leaflet-overlay-pane path.leaflet-interactive")
    expect(drawn).to_have_count(len(bad))
    # the report names the bad rows by their line in the file (the header is line 1)
    rows = sorted(
        int(r)
        for r in page.eval_on_selector_all("#report-table tbody tr.bad", "els => els.map(e => e.dataset.row)")
    )
    assert sorted(set(rows)) == sorted(n + 1 for n in bad)  # spreadsheet line numbers
    page.context.close()
