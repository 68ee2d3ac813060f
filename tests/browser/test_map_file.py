"""The asset's file (一患一档) in the browser: labels from the catalogue, child records
with pass/fail, lifecycle, history, and an edit that hits a concurrent change (412)."""

from __future__ import annotations

import datetime as dt
import struct
import zlib

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from importers.photos import store as store_photo
from registry.permissions import Role
from tests.browser.conftest import LiveServer, open_page

pytestmark = pytest.mark.browser


def _png(width: int = 640, height: int = 480) -> bytes:
    """A solid orange PNG written by hand (no imaging library needed)."""
    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = _png()


def _id(live: LiveServer, layer: str, code: str) -> str:
    return live.asset_id(layer, code)


def test_water_site_file_shows_chinese_labels_and_failed_test(browser, live_server: LiveServer) -> None:
    site = _id(live_server, "water_supply", "GS-TEST-0001")
    mp = open_page(browser, live_server, f"/#asset=water_supply/{site}")
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
    void = _id(live_server, "road_voids", "KD-TEST-0001")
    mp = open_page(browser, live_server, f"/#asset=road_voids/{void}")
    page = mp.page
    page.wait_for_selector("#file:not([hidden]) .timeline")
    steps = page.locator(".timeline li").all_inner_texts()
    # the steps its workflow declares: 排查发现 → 确权 → 开始整治 → 整治完成 → 销号
    assert steps[0].startswith("排查发现") and len(steps) == 5
    assert "风险等级" in page.locator("table.attrs").inner_text()
    assert "Ⅰ级（最严重）" in page.locator("table.attrs").inner_text()
    page.context.close()


def test_file_shows_change_history_after_an_edit(browser, live_server: LiveServer) -> None:
    """Who, when and what changed, in Chinese, newest first, from the real history endpoint."""
    void = _id(live_server, "road_voids", "KD-TEST-0002")
    mp = open_page(browser, live_server, f"/#asset=road_voids/{void}", role=Role.SURVEYOR)
    page = mp.page
    page.wait_for_selector("#file-history li")
    assert page.locator("#file-history > ol > li").count() == 1  # created by the seed
    page.click("#file-edit")
    page.fill("#edit-form input[name='road_name']", "塔南路")
    page.select_option("#edit-form select[name='risk_grade']", "I")
    page.click("#edit-form button[type='submit']")
    expect(page.locator("#file-history > ol > li")).to_have_count(2)
    newest = page.locator("#file-history > ol > li").first
    head = newest.locator("strong").inner_text()
    assert "surveyor" in head and "修改" in head  # who and what kind of change
    assert head.startswith(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y/%m/%d"))
    changes = newest.locator("li").all_inner_texts()
    assert any(c.startswith("道路名称") and c.endswith("→ 塔南路") for c in changes), changes
    assert any(c.startswith("风险等级") and "→ Ⅰ级（最严重）" in c for c in changes), changes
    assert not any("version" in c or "updated_at" in c for c in changes)  # bookkeeping is not a change
    assert "新建" in page.locator("#file-history > ol > li").last.inner_text()
    mp.shot("file-history")
    page.context.close()


def test_file_shows_photo_thumbnails_and_the_full_photo_on_click(browser, live_server: LiveServer) -> None:
    void = _id(live_server, "road_voids", "KD-TEST-0004")
    src = live_server.settings.data_dir / "现场照片.png"
    src.write_bytes(PNG)
    digest, _ = store_photo(src, live_server.settings)
    assert live_server.settings.database_url
    with psycopg.connect(live_server.settings.database_url) as conn:
        conn.execute(
            "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes) "
            "VALUES (%s, 'road_voids', %s, '现场照片.png', 'image/png', %s)",
            (void, digest, len(PNG)),
        )
    mp = open_page(browser, live_server, f"/#asset=road_voids/{void}", role=Role.VIEWER)
    page = mp.page
    page.wait_for_selector("#file-photos img")
    thumb = page.locator("#file-photos img").first
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    assert thumb.get_attribute("src") == f"/api/photos/{digest}/thumb"  # a small JPEG made by the server
    assert thumb.bounding_box()["width"] <= 100
    thumb.click()
    page.wait_for_selector("#photo-full img")
    assert page.locator("#photo-full img").get_attribute("src") == f"/api/photos/{digest}"  # the original
    assert page.locator("#photo-full img").bounding_box()["width"] > 200
    page.keyboard.press("Escape")
    assert page.locator("#photo-full").count() == 0
    page.context.close()


def test_second_save_of_a_changed_asset_shows_the_difference(browser, live_server: LiveServer) -> None:
    void = _id(live_server, "road_voids", "KD-TEST-0003")
    mp = open_page(browser, live_server, f"/#asset=road_voids/{void}")
    page = mp.page
    page.wait_for_selector("#file-edit")
    # someone else edits it meanwhile
    res = httpx.patch(
        f"{live_server.url}/ogc/collections/road_voids/items/{void}",
        json={"type": "Feature", "properties": {"road_name": "人民路"}},
        headers={"If-Match": '"1"', "Content-Type": "application/geo+json", **live_server.headers()},
    )
    assert res.status_code == 200, res.text
    page.click("#file-edit")
    page.fill("#edit-form input[name='road_name']", "民主路")
    page.click("#edit-form button[type='submit']")
    page.wait_for_selector("#conflict")
    conflict = page.locator("#conflict").inner_text()
    assert "已被他人修改" in conflict and "民主路" in conflict and "人民路" in conflict
    page.context.close()
