"""Place search and results on the city's demo data (issue 11): ``解放路与人民路`` and a real
crossing found from the centre lines, a 1,000 m radius search fitting the view, the
results of ``解放路`` paged beyond 200 and exported in full; and the screenshots of the map
on an offline basemap (an MBTiles file drawn from the demo's street sketches) at city
and street zoom."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from layers.demo import seed_demo
from layers.demo_streets import ALL_STREETS
from registry.catalog import LayerCatalog
from registry.settings import Settings
from tests.browser.conftest import LiveServer, fly, in_module, open_page, screen_xy, serve
from tests.browser.street_tiles import write_mbtiles

pytestmark = pytest.mark.browser

CITY = (113.13, 35.19, 113.38, 35.28)


@pytest.fixture(scope="module")
def demo_server(module_db: Settings, catalog: LayerCatalog) -> Iterator[LiveServer]:
    """The app on the demo data, with an offline basemap drawn from the demo streets."""
    assert module_db.database_url
    with psycopg.connect(module_db.database_url) as conn:
        seed_demo(conn)
        crossing = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Intersection(a.geom, b.geom) p FROM places a, places b "
            "WHERE a.name = '解放路' AND b.name = '塔北路') x"
        ).fetchone()
    folder = module_db.data_dir / "basemaps"
    folder.mkdir(exist_ok=True)
    roads = [(s.name, s.points) for s in ALL_STREETS]
    lon, lat = crossing
    street = (lon - 0.012, lat - 0.008, lon + 0.012, lat + 0.008)
    write_mbtiles(folder / "streets.mbtiles", roads, [(CITY, range(11, 15)), (street, range(15, 18))])
    with serve(module_db, catalog, {"crossing": crossing}) as live:
        res = httpx.put(
            f"{live.url}/api/basemaps/streets",
            json={"title": "道路底图（内网）", "kind": "mbtiles", "file": "streets.mbtiles"},
            headers=live.headers(),
        )
        assert res.status_code == 200, res.text
        yield live


def _search(page: Any, q: str) -> None:
    before = page.evaluate("() => Number(document.body.dataset.searched || 0)")
    page.fill("#q", q)
    page.press("#q", "Enter")
    page.locator(f"body[data-searched='{before + 1}']").wait_for()


def _in_view(page: Any, lon: float, lat: float) -> bool:
    return in_module(
        page,
        "state.js",
        "({App, toMap}, [lon, lat]) => App.map.getBounds().contains(toMap(lon, lat))",
        [lon, lat],
    )


def test_jiefang_and_renmin_roads_found_from_the_centre_lines(browser: Any, demo_server: LiveServer) -> None:
    mp = open_page(browser, demo_server, "/#basemap=streets")
    page = mp.page
    _search(page, "解放路与人民路")
    found = in_module(page, "state.js", "({App}) => App.placeFound.properties")
    assert set(found["roads"]) == {"解放路", "人民路"} and found["kind"] == "intersection"
    expected = httpx.get(
        f"{demo_server.url}/api/places", params={"q": "解放路与人民路"}, headers=demo_server.headers()
    ).json()["features"][0]
    lon, lat = expected["geometry"]["coordinates"]
    assert found["label"] == [lon, lat]
    assert _in_view(page, lon, lat)
    # assets around it are listed (the panel's radius), and the search circle is on screen
    assert in_module(page, "state.js", "({App}) => App.searchShape.center") == [lon, lat]
    if not found["crossing"]:  # the demo's sketches of the two roads never meet
        expect(page.locator("#toast")).to_contain_text("不相交")
    # a real crossing: the marker at the two centre lines' intersection
    _search(page, "解放路与塔北路")
    found = in_module(page, "state.js", "({App}) => App.placeFound.properties")
    assert found["crossing"] is True
    assert found["label"] == pytest.approx(list(demo_server.seeded["crossing"]), abs=1e-7)
    assert _in_view(page, *found["label"])
    expect(page.locator(".place-label")).to_have_text("解放路与塔北路交叉口")
    # a misspelt road: not found, did you mean
    _search(page, "解方路与人民路")
    hint = page.locator("#place-hint")
    expect(hint).to_contain_text("没有找到“解方路”。您是不是要找：")
    expect(hint.locator("button", has_text="解放路")).to_be_visible()
    assert not mp.errors and mp.off_host() == []
    page.context.close()


def test_a_1000_m_radius_search_fits_the_view(browser: Any, demo_server: LiveServer) -> None:
    mp = open_page(browser, demo_server)
    page = mp.page
    lon, lat = demo_server.seeded["crossing"]
    fly(mp, lon, lat, 16)
    page.fill("#radius", "1000")
    before = page.evaluate("() => Number(document.body.dataset.searched || 0)")
    page.mouse.click(*screen_xy(mp, lon, lat + 0.0003), button="right")
    page.locator(f"body[data-searched='{before + 1}']").wait_for()
    assert in_module(page, "state.js", "({App}) => App.shapeLayer.getRadius()") == 1000
    fits = in_module(
        page,
        "state.js",
        "({App}) => { const view = App.map.getBounds();"
        " return [view.contains(App.shapeLayer.getBounds()), view.contains(App.resultLayer.getBounds()),"
        " App.results.length, App.map.getZoom()]; }",
    )
    assert fits[0] and fits[1] and fits[2] > 0, fits
    assert fits[3] < 16  # zoomed out from 16 to hold the 2 km circle
    page.context.close()


def test_results_are_paged_beyond_200_and_exported_in_full(browser: Any, demo_server: LiveServer) -> None:
    mp = open_page(browser, demo_server)
    page = mp.page
    _search(page, "解放路")
    total = in_module(page, "state.js", "({App}) => App.numberMatched")
    assert total > 400
    pages = -(-total // 200)
    expect(page.locator("#results-count")).to_have_text(f"共 {total} 条")
    expect(page.locator("#result-list li")).to_have_count(200)
    expect(page.locator("#page-info")).to_have_text(f"第 1 / {pages} 页（第 1–200 条）")
    first = set(page.locator("#result-list li .code").all_inner_texts())
    before = page.evaluate("() => Number(document.body.dataset.searched || 0)")
    page.click("#page-next")
    page.locator(f"body[data-searched='{before + 1}']").wait_for()
    expect(page.locator("#page-info")).to_have_text(f"第 2 / {pages} 页（第 201–400 条）")
    second = set(page.locator("#result-list li .code").all_inner_texts())
    assert len(second) == 200 and not first & second
    # the last page holds the rest
    for _ in range(pages - 2):
        before = page.evaluate("() => Number(document.body.dataset.searched || 0)")
        page.click("#page-next")
        page.locator(f"body[data-searched='{before + 1}']").wait_for()
    expect(page.locator("#result-list li")).to_have_count(total - 200 * (pages - 1))
    expect(page.locator("#page-next")).to_be_disabled()
    # the export holds every match, not the listed page
    with page.expect_download() as download:
        page.select_option("#export-format", "csv")
    data = download.value.path().read_bytes().decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(data)))) == total
    assert not mp.errors
    page.context.close()


def test_screenshots_of_the_offline_basemap_at_city_and_street_zoom(
    browser: Any, demo_server: LiveServer
) -> None:
    mp = open_page(
        browser, demo_server, "/#basemap=streets&map=12/35.23500/113.24500", width=1400, height=860
    )
    page = mp.page
    expect(page.locator("#basemap-badge")).to_have_text("底图：道路底图（内网）（CGCS2000，本机文件）")
    page.locator(".leaflet-tile-pane img.leaflet-tile-loaded[src*='/basemaps/streets/12/']").first.wait_for()
    page.locator(".leaflet-pane canvas").first.wait_for(state="attached")
    mp.shot("basemap-offline-city")
    _search(page, "解放路与塔北路")
    lon, lat = demo_server.seeded["crossing"]
    fly(mp, lon, lat, 17)
    page.locator(".leaflet-tile-pane img.leaflet-tile-loaded[src*='/basemaps/streets/17/']").first.wait_for()
    mp.shot("basemap-offline-street")
    assert mp.off_host() == [] and not mp.errors
    page.context.close()
