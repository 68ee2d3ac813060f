"""The campaign dashboard in a real browser on the demo data: the charts are drawn
(ECharts canvases), under the app's Content-Security-Policy (a violation fails the
test), nothing is loaded from another host, the figures link to the map, and it is
readable on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer, open_page

pytestmark = pytest.mark.browser


def _charts_drawn(page: Any) -> None:
    for chart in ("#chart-targets", "#chart-status", "#chart-trend"):
        page.wait_for_selector(f"{chart} canvas", timeout=15000)
        box = page.locator(f"{chart} canvas").first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, chart


def test_dashboard_draws_its_charts_under_the_policy(browser: Any, demo_server: LiveServer) -> None:
    mp = open_page(browser, demo_server, "/dashboard?year=2025", width=1280, height=1500)
    page = mp.page
    _charts_drawn(page)
    assert mp.off_host() == []
    assert mp.errors == []
    assert page.locator("h1").inner_text() == "焦作市城市管理专项整治看板"
    # the targets table: the manholes figure links to the map's search of those assets
    link = page.locator("#table-targets a").first
    assert link.get_attribute("href").startswith("/#layers=")
    assert int(page.locator("#flags a[data-flag='water_failing'] strong").inner_text()) > 0
    # the report downloads point at the API
    assert "/api/reports/monthly?month=" in page.locator("#report-pdf").get_attribute("href")
    mp.shot("dashboard")
    # a figure opens the map with its search
    link.click()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#result-list li", timeout=15000)
    assert "layers=manholes" in page.url or "layers=" in page.url


def test_dashboard_on_a_phone_in_english(browser: Any, demo_server: LiveServer) -> None:
    mp = open_page(browser, demo_server, "/dashboard", width=390, height=844, lang="en")
    page = mp.page
    _charts_drawn(page)
    assert page.locator("h1").inner_text() == "Jiaozuo urban management campaigns"
    # one column: nothing wider than the screen
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide


def test_dashboard_asks_for_a_sign_in(browser: Any, demo_server: LiveServer) -> None:
    mp = open_page(browser, demo_server, "/dashboard", role=None)
    assert "请先在地图页登录" in mp.page.locator("#notice").inner_text()
