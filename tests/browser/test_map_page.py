"""The map page in a real Chromium: Chinese by default, layers and districts shown,
nothing requested from any other host, English on demand, phone width, keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, MapPage, in_module, open_page, settle

pytestmark = pytest.mark.browser


def test_page_loads_in_chinese_with_layers_legend_and_districts(map_page: MapPage) -> None:
    page = map_page.page
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "焦作市城市管理资产地图"
    layers = page.locator("#layer-list .layer > label")
    assert layers.count() == 6
    assert layers.first.inner_text().strip() == "道路脱空隐患"
    legend = page.locator("#layer-list .legend").first.inner_text()
    assert "Ⅰ级（最严重）" in legend
    water = page.locator("#layer-list .legend").nth(5).inner_text()
    assert "合格" in water and "不合格" in water and "逾期未检（下次检测 < 今天）" in water
    # district boundaries and names are drawn without any basemap
    labels = page.locator(".district-label").all_inner_texts()
    assert "解放区" in labels and "孟州市" in labels and len(labels) == 10
    assert page.locator("#basemap").input_value() == "0"  # no basemap configured: plain background
    settle(map_page)  # the picture shows the assets' tiles
    map_page.shot("map-city")
    assert not map_page.errors


def test_page_requests_nothing_from_other_hosts(map_page: MapPage) -> None:
    settle(map_page)  # every tile of the view has been requested and has arrived
    assert map_page.requests, "the page made no requests at all?"
    assert map_page.off_host() == []
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in map_page.requests)


def test_english_toggle_relabels_ui_and_catalogue_labels(map_page: MapPage) -> None:
    page = map_page.page
    page.click("#lang-btn")
    assert page.locator("h1").inner_text() == "Jiaozuo urban-management asset map"
    assert page.locator("#layer-list .layer > label").first.inner_text().strip() == "Road voids"
    assert "Jiefang District" in page.locator(".district-label").all_inner_texts()
    page.click("#lang-btn")
    assert page.locator("#layer-list .layer > label").first.inner_text().strip() == "道路脱空隐患"


def test_phone_width_hides_the_sidebar_behind_a_menu_button(browser, live_server: LiveServer) -> None:
    mp = open_page(browser, live_server, width=390, height=844)
    page = mp.page
    assert page.locator("#menu-btn").is_visible()
    assert not page.locator("#draw-rect").is_visible() or page.locator("#sidebar").bounding_box()["x"] < 0
    page.click("#menu-btn")
    # the sidebar slides in (a CSS transition): wait until it is wholly on screen
    expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)
    expect(page.locator("#draw-rect")).to_be_in_viewport(ratio=1)
    assert page.locator("#menu-btn").get_attribute("aria-expanded") == "true"
    mp.shot("map-phone")
    page.context.close()


def test_keyboard_reaches_search_and_controls_have_labels(map_page: MapPage) -> None:
    page = map_page.page
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(6):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "(() => { const el = document.activeElement;"
            " return el.getAttribute('aria-label') || el.textContent || el.placeholder"
            " || (el.labels && el.labels[0] && el.labels[0].textContent) || ''; })()"
        )
        assert label.strip(), page.evaluate("document.activeElement.outerHTML")


def test_view_state_is_kept_in_the_url_hash(map_page: MapPage, browser, live_server: LiveServer) -> None:
    page = map_page.page
    in_module(page, "state.js", "({App}) => { App.map.setView([35.22, 113.25], 15, {animate: false}); }")
    page.uncheck("#lyr-manholes")
    # the hash is rewritten in place (history.replaceState): wait until the page's URL has it
    expect(page).to_have_url(re.compile(r"map=15%2F35\.22000%2F113\.25000.*layers=(?![^&]*manholes)"))
    url = page.url
    assert "map=15%2F35.22000%2F113.25000" in url and "manholes" not in url.split("layers=")[1].split("&")[0]
    again = open_page(browser, live_server, "/" + url.split("/", 3)[3].lstrip("/"))
    assert in_module(again.page, "state.js", "({App}) => App.map.getZoom()") == 15
    assert not again.page.is_checked("#lyr-manholes")
    assert again.page.is_checked("#lyr-road_voids")
    again.page.context.close()
