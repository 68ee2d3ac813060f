"""The pages under the app's Content-Security-Policy in a real browser: the policy is
on, a violation is caught (so every browser test fails on one), and the pages built by
libraries — folium's printable map, the OGC API's HTML — work under it."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import CspWatch, LiveServer, MapPage, in_module, open_page
from tests.factories import CENTRE

pytestmark = pytest.mark.browser


def test_map_runs_under_a_policy_with_no_inline_script(map_page: MapPage, live_server: LiveServer) -> None:
    page = map_page.page
    response = page.request.get(live_server.url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    # the configuration came from the JSON data block, through config.js
    assert in_module(page, "config.js", "({CONFIG}) => typeof CONFIG.public_read") == "boolean"
    # the app's modules talk through imports, not globals
    leaked = page.evaluate("['App', 'Auth', 'I18n', 'Coords', 'REGISTRY_CONFIG'].filter(n => n in window)")
    assert leaked == []
    # the legend's colour swatches are styled through the DOM, not style attributes
    swatch = page.locator("#layer-list .swatch").first
    assert swatch.evaluate("el => getComputedStyle(el).backgroundColor") not in ("", "rgba(0, 0, 0, 0)")


def test_an_inline_script_is_refused_and_reported(map_page: MapPage, csp_watch: CspWatch) -> None:
    page = map_page.page
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
        " document.body.append(s); }"
    )
    deadline = time.monotonic() + 10
    while not csp_watch.violations and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets playwright deliver the console event
    assert page.evaluate("window.injected") is None
    assert any("script-src" in v for v in csp_watch.violations), csp_watch.violations
    csp_watch.violations.clear()  # expected here; any other test fails on one


def test_printable_map_draws_the_result_under_its_nonce(map_page: MapPage, live_server: LiveServer) -> None:
    page = map_page.page
    in_module(page, "search.js", "({radiusSearch}, lonlat) => { radiusSearch(lonlat); }", list(CENTRE))
    page.wait_for_selector("#result-list li")
    with page.context.expect_page() as popup:
        page.click("#print-map")
    printed = popup.value
    printed.wait_for_load_state()
    # folium's inline script ran (nonce): the map and the result's markers are drawn
    printed.wait_for_selector(".leaflet-container path.leaflet-interactive")
    assert printed.locator(".result-table tr").count() > 1
    assert printed.evaluate("getComputedStyle(document.body).margin") == "0px"  # folium's <style>
    printed.close()


def test_ogc_html_pages_are_styled_from_a_stylesheet(browser, live_server: LiveServer) -> None:
    mp = open_page(browser, live_server, "/ogc/collections?f=html", wait=False)
    page = mp.page
    page.wait_for_selector("table")
    assert "WenQuanYi" in page.evaluate("getComputedStyle(document.body).fontFamily")
    assert mp.off_host() == []
    page.context.close()
