"""The asset's file (一患一档) in the browser: labels from the catalogue, child records
with pass/fail, lifecycle, history, and an edit that hits a concurrent change (412)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import LiveServer, needs, open_page

pytestmark = pytest.mark.browser


def _id(live: LiveServer, layer: str, code: str) -> str:
    res = httpx.get(f"{live.url}/ogc/collections/{layer}/items", params={"limit": 100}).json()
    return next(f["id"] for f in res["features"] if f["properties"]["code"] == code)


def test_water_site_file_shows_chinese_labels_and_failed_test(browser, live_server: LiveServer) -> None:
    needs(live_server, "GET", "/ogc/collections/{collection_id}/items/{feature_id}", "api")
    site = _id(live_server, "water_supply", "GS-TEST-0001")
    mp = open_page(browser, live_server.url, f"/#asset=water_supply/{site}")
    page = mp.page
    page.wait_for_selector("#file:not([hidden]) table.attrs")
    assert "GS-TEST-0001" in page.locator("#file-title").inner_text()
    attrs = page.locator("table.attrs").inner_text()
    assert "小区名称" in attrs and "所属区县" in attrs
    page.wait_for_selector("table[data-child='water_tests'] tbody tr")
    tests = page.locator("table[data-child='water_tests']")
    assert "浑浊度" in tests.inner_text()
    assert tests.locator("tbody tr").count() == 2
    assert tests.locator("tbody tr.bad").count() == 1  # 2.5 NTU fails GB 5749-2022
    assert tests.locator("td.fail").first.inner_text() == "否"
    mp.shot("file-water")
    page.context.close()


def test_road_void_file_shows_lifecycle_timeline(browser, live_server: LiveServer) -> None:
    needs(live_server, "GET", "/ogc/collections/{collection_id}/items/{feature_id}", "api")
    void = _id(live_server, "road_voids", "KD-TEST-0001")
    mp = open_page(browser, live_server.url, f"/#asset=road_voids/{void}")
    page = mp.page
    page.wait_for_selector("#file:not([hidden]) .timeline")
    steps = page.locator(".timeline li").all_inner_texts()
    assert steps[0].startswith("排查发现") and len(steps) == 4
    assert "风险等级" in page.locator("table.attrs").inner_text()
    assert "Ⅰ级（最严重）" in page.locator("table.attrs").inner_text()
    page.context.close()


def test_file_shows_change_history_after_an_edit(browser, live_server: LiveServer) -> None:
    needs(live_server, "GET", "/ogc/collections/{collection_id}/items/{feature_id}", "api")
    void = _id(live_server, "road_voids", "KD-TEST-0002")
    needs(live_server, "GET", "/api/assets/{layer}/{asset_id}/history", "auth")
    mp = open_page(browser, live_server.url, f"/#asset=road_voids/{void}")
    page = mp.page
    page.wait_for_selector("#file-edit")
    page.click("#file-edit")
    page.fill("#edit-form input[name='road_name']", "塔南路")
    page.click("#edit-form button[type='submit']")
    page.wait_for_selector("#file-history li")
    history = page.locator("#file-history").inner_text()
    assert "塔南路" in history and "道路名称" in history
    mp.shot("file-history")
    page.context.close()


def test_second_save_of_a_changed_asset_shows_the_difference(browser, live_server: LiveServer) -> None:
    needs(live_server, "GET", "/ogc/collections/{collection_id}/items/{feature_id}", "api")
    void = _id(live_server, "road_voids", "KD-TEST-0003")
    mp = open_page(browser, live_server.url, f"/#asset=road_voids/{void}")
    page = mp.page
    page.wait_for_selector("#file-edit")
    # someone else edits it meanwhile
    res = httpx.patch(
        f"{live_server.url}/ogc/collections/road_voids/items/{void}",
        json={"type": "Feature", "properties": {"road_name": "人民路"}},
        headers={"If-Match": '"1"', "Content-Type": "application/geo+json"},
    )
    assert res.status_code == 200, res.text
    page.click("#file-edit")
    page.fill("#edit-form input[name='road_name']", "民主路")
    page.click("#edit-form button[type='submit']")
    page.wait_for_selector("#conflict")
    conflict = page.locator("#conflict").inner_text()
    assert "已被他人修改" in conflict and "民主路" in conflict and "人民路" in conflict
    page.context.close()
