"""Officers' location search in the browser: radius (click), polygon (drawn), and a
coordinate typed in GCJ-02 that must land on the true (WGS84) spot."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import M_LAT, M_LON, MapPage, fly, in_module, screen_xy
from tests.factories import CENTRE

pytestmark = pytest.mark.browser

# The road voids row of the seeded data: 5 voids, 40 m apart, 15 m north of CENTRE.
VOID_Y = CENTRE[1] + 15 * M_LAT


def _gcj02(lon: float, lat: float, mp: MapPage) -> tuple[float, float]:
    return tuple(in_module(mp.page, "coords.js", "(C, [a, b]) => C.wgs84ToGcj02(a, b)", [lon, lat]))


def test_click_radius_search_lists_results_by_distance_with_circle(map_page: MapPage, live_server) -> None:
    page = map_page.page
    fly(map_page, CENTRE[0] + 40 * M_LON, VOID_Y, 18)
    page.fill("#radius", "30")
    # 8 m south of KD-TEST-0002, on bare map: a click right on the drawn asset opens
    # its file instead (whether its tile has loaded yet is a race), so stay clear of it.
    page.mouse.click(*screen_xy(map_page, CENTRE[0] + 40 * M_LON, VOID_Y - 8 * M_LAT))
    page.wait_for_selector("#result-list li")
    items = page.locator("#result-list li")
    codes = [items.nth(i).locator(".code").inner_text() for i in range(items.count())]
    assert codes[0] == "KD-TEST-0002"  # the void nearest the click comes first
    dists = [float(items.nth(i).locator(".dist").inner_text().split()[0]) for i in range(items.count())]
    assert dists == sorted(dists) and 6 < dists[0] < 10 and dists[-1] <= 30
    assert "道路脱空隐患" in items.first.inner_text()
    assert in_module(page, "state.js", "({App}) => App.shapeLayer && App.shapeLayer.getRadius()") == 30
    # hover on a result highlights its marker
    items.first.hover()
    assert "hl" in items.first.get_attribute("class")
    map_page.shot("search-radius")
    assert "search=" in page.url  # shareable


def test_polygon_search_returns_the_assets_inside(map_page: MapPage, live_server) -> None:
    page = map_page.page
    fly(map_page, CENTRE[0] + 80 * M_LON, CENTRE[1] + 40 * M_LAT, 18)
    page.click("#draw-rect")
    a = screen_xy(map_page, CENTRE[0] - 10 * M_LON, CENTRE[1] + 10 * M_LAT)  # SW, just south of the voids
    b = screen_xy(map_page, CENTRE[0] + 50 * M_LON, CENTRE[1] + 20 * M_LAT)  # NE: voids 1-2 only
    page.mouse.click(*a)
    page.mouse.click(*b)
    page.wait_for_selector("#result-list li")
    codes = sorted(page.locator("#result-list li .code").all_inner_texts())
    assert codes == ["KD-TEST-0001", "KD-TEST-0002"]
    map_page.shot("search-polygon")


def test_gcj02_coordinates_land_on_the_true_spot(map_page: MapPage, live_server) -> None:
    page = map_page.page
    true = (CENTRE[0] + 80 * M_LON, VOID_Y)  # KD-TEST-0003
    gx, gy = _gcj02(*true, map_page)
    assert abs(gx - true[0]) > 0.003  # the GCJ-02 value really is ~500 m off
    page.fill("#radius", "10")
    page.select_option("#coord-sys", "gcj02")
    page.fill("#coord", f"{gy:.7f}, {gx:.7f}")  # lat, lon order is recognised too
    page.click("#coord-form button[type='submit']")
    page.wait_for_selector("#result-list li")
    first = page.locator("#result-list li").first
    assert first.locator(".code").inner_text() == "KD-TEST-0003"
    assert float(first.locator(".dist").inner_text().split()[0]) < 2
    centre = in_module(page, "state.js", "({App, fromMap}) => fromMap(App.map.getCenter())")
    assert abs(centre[0] - true[0]) < 5 * M_LON and abs(centre[1] - true[1]) < 5 * M_LAT


def test_dms_coordinates_are_accepted(map_page: MapPage, live_server) -> None:
    page = map_page.page
    page.fill("#coord", "N35°12'55.8\" E113°14'30.5\"")
    page.click("#coord-form button[type='submit']")
    # the search around the coordinate has run and the map is fitted to it (the page
    # counts finished searches)
    expect(page.locator("body")).to_have_attribute("data-searched", "1")
    centre = in_module(page, "state.js", "({App, fromMap}) => fromMap(App.map.getCenter())")
    assert abs(centre[0] - (113 + 14 / 60 + 30.5 / 3600)) < 1e-4
    assert abs(centre[1] - (35 + 12 / 60 + 55.8 / 3600)) < 1e-4


def test_gcj02_basemap_shifts_what_is_drawn_and_unshifts_clicks(browser, live_server, db) -> None:
    """With a GCJ-02 basemap, the districts are drawn shifted, and a click on the shifted
    spot reads back the true position."""
    from registry.settings import Basemap
    from tests.browser.conftest import app_settings, open_page

    tile = "/static/vendor/leaflet/images/layers.png?{z}/{x}/{y}"  # a local image: no network
    basemaps = [Basemap(name="高德（测试）", url=live_server.url + tile, crs="gcj02")]
    with app_settings(live_server, basemaps=basemaps):
        mp = open_page(browser, live_server)
    page = mp.page
    assert in_module(page, "state.js", "({App}) => App.crs") == "gcj02"
    shifted = in_module(page, "state.js", "({toMap}) => [toMap(113.24, 35.21).lng, toMap(113.24, 35.21).lat]")
    assert shifted[0] - 113.24 > 0.004  # drawn ~500 m east of the WGS84 position
    back = in_module(page, "state.js", "({toMap, fromMap}) => fromMap(toMap(113.24, 35.21))")
    assert abs(back[0] - 113.24) < 1e-7 and abs(back[1] - 35.21) < 1e-7
    assert mp.off_host() == []
    page.context.close()


def test_text_search_suggests_and_lists_matches(map_page: MapPage, live_server) -> None:
    page = map_page.page
    page.fill("#q", "KD-TEST-000")
    page.locator("#q-suggest option").first.wait_for(state="attached", timeout=5000)
    suggestions = page.evaluate("[...document.querySelectorAll('#q-suggest option')].map(o => o.value)")
    assert "KD-TEST-0001" in suggestions
    page.fill("#q", "KD-TEST-0004")
    page.press("#q", "Enter")
    page.wait_for_selector("#result-list li")
    assert page.locator("#result-list li .code").all_inner_texts() == ["KD-TEST-0004"]


def test_status_filter_narrows_the_results(map_page: MapPage, live_server) -> None:
    page = map_page.page
    # the filters follow the chosen layer (issue 11): the voids' own risk grades
    page.select_option("#filter-layer", "road_voids")
    page.select_option("#filter-risk_grade", "I")
    page.fill("#radius", "1000")
    page.fill("#coord", f"{CENTRE[0]}, {CENTRE[1]}")
    page.click("#coord-form button[type='submit']")
    page.wait_for_selector("#result-list li")
    codes = page.locator("#result-list li .code").all_inner_texts()
    assert "KD-TEST-0001" in codes and "KD-TEST-0002" not in codes  # grade I only among voids
