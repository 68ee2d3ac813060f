"""Planners in the browser: draw a parking polygon and save it, the overlap refusal
(and "save as planned"), the self-intersection mark."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BAY_ORIGIN, M_LAT, M_LON, MapPage, fly, in_module, screen_xy, until

pytestmark = pytest.mark.browser

# The planner's tool is drawing, and (from zoom 15) the parking polygons it snaps to,
# fetched for the view, are on the map (an empty layer when there are none).
DRAWING_WITH_SNAP_TARGETS = (
    "({App}) => { if (!App.map.pm.globalDrawModeEnabled()) return false;"
    " if (App.map.getZoom() < 15) return true;"
    " let snap = false; App.map.eachLayer((l) => { if (l instanceof L.GeoJSON && l.options.style"
    " && l.options.style.color === '#3182bd') snap = true; }); return snap; }"
)
# Pointer moves over the asset tiles reach the map through each tile's canvas renderer
# (VectorGrid keeps them in _vectorTiles), which passes on at most one every 32 ms and
# drops the rest; the drawing tool puts a vertex where it last saw the pointer. True
# when no tile would drop the next move.
TILES_TAKE_POINTER_MOVES = (
    "({App}) => !Object.values(App.tileLayers).some((l) =>"
    " Object.values(l._vectorTiles || {}).some((r) => r._mouseHoverThrottled))"
)
# The vertices placed so far of the shape being drawn (geoman's vertex markers; not the
# marker following the pointer).
VERTICES = ".marker-icon:not(.cursor-marker):not(.marker-icon-middle)"


def _click_drawing(page: Any, xy: tuple[float, float]) -> None:
    """Click the map while drawing, once the tool will see the pointer's move there."""
    until(page, "state.js", TILES_TAKE_POINTER_MOVES, what="the asset tiles to pass on pointer moves")
    page.mouse.click(*xy)


def _vertex(page: Any, xy: tuple[float, float], placed: int) -> None:
    """Click a vertex of the shape being drawn; wait until it is the ``placed``-th."""
    _click_drawing(page, xy)
    expect(page.locator(VERTICES)).to_have_count(placed)


def _draw(mp: MapPage, ring_m: list[tuple[float, float]]) -> None:
    """Draw a polygon with the planner tool; vertices in metres from BAY_ORIGIN."""
    page = mp.page
    page.click("#draw-parking")
    until(page, "state.js", DRAWING_WITH_SNAP_TARGETS, what="the parking tool and its snap targets")
    pts = [screen_xy(mp, BAY_ORIGIN[0] + dx * M_LON, BAY_ORIGIN[1] + dy * M_LAT) for dx, dy in ring_m]
    for n, xy in enumerate(pts, start=1):
        _vertex(page, xy, n)
    _click_drawing(page, pts[0])  # closing on the first vertex finishes the polygon
    page.wait_for_selector("#parking-form")


def _zone(live, code_prefix="TC") -> list[dict]:
    res = httpx.get(
        f"{live.url}/ogc/collections/parking/items", params={"limit": 100}, headers=live.headers()
    ).json()
    return res["features"]


def test_drawing_and_saving_a_parking_polygon(map_page: MapPage, live_server) -> None:
    page = map_page.page
    fly(map_page, BAY_ORIGIN[0] + 20 * M_LON, BAY_ORIGIN[1] + 30 * M_LAT, 19)
    _draw(map_page, [(0, 20), (30, 20), (30, 40), (0, 40)])  # 30 m × 20 m, north of the bays
    area = page.locator("#pk-area").inner_text()
    assert 560 < float(area.split()[0]) < 640
    assert page.locator("#pk-capacity").inner_text().startswith("40")  # 600 m² / 15
    page.fill("#parking-form input[name='code']", "TC-NEW-0001")
    page.select_option("#parking-form select[name='kind']", "off_street_lot")
    page.fill("#parking-form input[name='name']", "新建停车场")
    page.click("#parking-save")
    page.wait_for_selector("#parking-saved")
    saved = next(f for f in _zone(live_server) if f["properties"]["code"] == "TC-NEW-0001")
    assert saved["properties"]["kind"] == "off_street_lot"
    assert 560 < saved["properties"]["area_m2"] < 640
    map_page.shot("parking-saved")


def test_overlap_with_an_existing_bay_is_refused_then_saved_as_planned(
    map_page: MapPage, live_server
) -> None:
    page = map_page.page
    fly(map_page, BAY_ORIGIN[0] + 15 * M_LON, BAY_ORIGIN[1], 19)
    # straddles bays 0 and 1 (each 11 m × 5 m), sticking out north
    _draw(map_page, [(6, 2), (16, 2), (16, 12), (6, 12)])
    page.fill("#parking-form input[name='code']", "TC-NEW-0002")
    page.select_option("#parking-form select[name='status']", "in_use")
    page.click("#parking-save")
    page.wait_for_selector("#parking-overlap")
    text = page.locator("#parking-overlap").inner_text()
    assert "重叠" in text and "TC-TEST-0001" in text and "TC-TEST-0002" in text
    red = in_module(
        page,
        "state.js",
        "({App}) => Object.values(App.map._layers)"
        ".filter(l => l.feature && l.options && l.options.fillColor === '#e31a1c').length",
    )
    assert red == 2  # the two overlaps drawn
    map_page.shot("parking-overlap")
    assert not [f for f in _zone(live_server) if f["properties"]["code"] == "TC-NEW-0002"]
    page.click("#parking-save-planned")
    page.wait_for_selector("#parking-saved")
    saved = next(f for f in _zone(live_server) if f["properties"]["code"] == "TC-NEW-0002")
    assert saved["properties"]["status"] == "planned"


def test_self_intersecting_polygon_is_refused_with_the_spot_marked(map_page: MapPage, live_server) -> None:
    page = map_page.page
    fly(map_page, BAY_ORIGIN[0] + 20 * M_LON, BAY_ORIGIN[1] + 60 * M_LAT, 19)
    _draw(map_page, [(0, 50), (20, 70), (20, 50), (0, 70)])  # a bow tie
    page.fill("#parking-form input[name='code']", "TC-NEW-0003")
    page.click("#parking-save")
    page.wait_for_selector("#parking-selfx")
    assert "自相交" in page.locator("#parking-selfx").inner_text()
    spot = in_module(
        page,
        "state.js",
        "({App, fromMap}) => { const m = Object.values(App.map._layers)"
        ".find(l => l.options && l.options.color === '#b10026' && l.getLatLng);"
        " return m ? fromMap(m.getLatLng()) : null; }",
    )
    assert spot is not None
    assert abs(spot[0] - (BAY_ORIGIN[0] + 10 * M_LON)) < 1.5 * M_LON
    assert abs(spot[1] - (BAY_ORIGIN[1] + 60 * M_LAT)) < 1.5 * M_LAT
    map_page.shot("parking-self-intersection")


def test_a_saved_zone_is_split_along_a_drawn_line(map_page: MapPage, live_server) -> None:
    page = map_page.page
    fly(map_page, BAY_ORIGIN[0] + 20 * M_LON, BAY_ORIGIN[1] + 90 * M_LAT, 19)
    _draw(map_page, [(0, 80), (30, 80), (30, 100), (0, 100)])  # 30 m × 20 m
    page.fill("#parking-form input[name='code']", "TC-NEW-0004")
    page.focus("#parking-form input[name='capacity']")  # offers the estimate: 600 m² / 15 = 40
    assert page.input_value("#parking-form input[name='capacity']") == "40"
    page.click("#parking-save")
    page.wait_for_selector("#parking-saved")
    page.click("#parking-split")
    # a line across the zone 10 m from its west edge; clicking the last vertex again ends it
    a = screen_xy(map_page, BAY_ORIGIN[0] + 10 * M_LON, BAY_ORIGIN[1] + 75 * M_LAT)
    b = screen_xy(map_page, BAY_ORIGIN[0] + 10 * M_LON, BAY_ORIGIN[1] + 105 * M_LAT)
    _vertex(page, a, 1)
    _vertex(page, b, 2)
    _click_drawing(page, b)
    page.wait_for_selector("#parking-split-done")
    assert "TC-NEW-0004、TC-NEW-0004-2" in page.locator("#parking-split-done").inner_text()
    pieces = {f["properties"]["code"]: f["properties"] for f in _zone(live_server)}
    kept, made = pieces["TC-NEW-0004"], pieces["TC-NEW-0004-2"]
    assert 370 < kept["area_m2"] < 430 and 170 < made["area_m2"] < 230
    assert kept["capacity"] + made["capacity"] == 40
    map_page.shot("parking-split")
    assert not map_page.errors
