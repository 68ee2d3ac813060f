"""Basemaps in the browser (issue 11): a Tianditu basemap an admin configured asks for the
right tile URLs (answered here by page.route, no real network) and says so when they
fail; an MBTiles basemap served by the registry draws with no request leaving the host;
the filters follow the chosen layer; on a phone the menu closes after a search and the
asset file opens full-height, Esc closing it."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from registry.permissions import Role
from tests.browser.conftest import LiveServer, MapPage, app_settings, fly, in_module, open_page, sign_in
from tests.browser.street_tiles import pixel, write_mbtiles
from tests.factories import CENTRE

pytestmark = pytest.mark.browser

KEY = "0123456789abcdef0123456789abcdef"
TILE = io.BytesIO()
Image.new("RGB", (256, 256), (230, 220, 200)).save(TILE, format="PNG")


def _configure(live: LiveServer, body: dict[str, Any]) -> None:
    res = httpx.put(f"{live.url}/api/basemaps/{body['name']}", json=body, headers=live.headers())
    assert res.status_code == 200, res.text


def _remove(live: LiveServer, name: str) -> None:
    httpx.delete(f"{live.url}/api/basemaps/{name}", headers=live.headers())


def _page_with_routes(browser: Any, live: LiveServer, path: str, handler: Any) -> MapPage:
    """Like open_page, with every request to tianditu.gov.cn answered by ``handler``."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    sign_in(context, live, Role.ADMIN)
    context.route(re.compile(r"^https://t\d\.tianditu\.gov\.cn/"), handler)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live.url + path)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    return MapPage(page=page, requests=requests, errors=errors, base=live.url)


def test_tianditu_basemap_requests_the_right_tiles(browser: Any, live_server: LiveServer) -> None:
    with app_settings(live_server, tianditu_key=KEY):
        _configure(live_server, {"name": "tdt", "title": "天地图矢量", "kind": "tianditu_vec"})
        asked: list[str] = []

        def answer(route: Any) -> None:
            asked.append(route.request.url)
            route.fulfill(status=200, content_type="image/png", body=TILE.getvalue())

        mp = _page_with_routes(browser, live_server, "/#basemap=tdt&map=13/35.21500/113.24000", answer)
        page = mp.page
        expect(page.locator("#basemap-badge")).to_have_text("底图：天地图矢量（CGCS2000）")
        page.locator(".leaflet-tile-pane img.leaflet-tile-loaded").first.wait_for()
        zoom = in_module(page, "state.js", "({App}) => App.map.getZoom()")
        assert zoom == 13
        layers = {"vec": [], "cva": []}
        for url in asked:
            u = urlparse(url)
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            assert re.fullmatch(r"t[0-7]\.tianditu\.gov\.cn", u.netloc), url
            assert u.path == f"/{q['LAYER']}_w/wmts", url
            assert q["SERVICE"] == "WMTS" and q["REQUEST"] == "GetTile" and q["TILEMATRIXSET"] == "w"
            assert q["tk"] == KEY and q["TILEMATRIX"] == "13"
            layers[q["LAYER"]].append((int(q["TILECOL"]), int(q["TILEROW"])))
        # base and annotation, the same tiles, among them the one under the map's centre
        assert layers["vec"] and sorted(layers["vec"]) == sorted(layers["cva"])
        px, py = pixel(113.24, 35.215, 13)
        assert (int(px // 256), int(py // 256)) in layers["vec"]
        assert not mp.errors
        page.context.close()
        _remove(live_server, "tdt")


def test_a_failing_remote_basemap_is_said_plainly(browser: Any, live_server: LiveServer) -> None:
    with app_settings(live_server, tianditu_key=KEY):
        _configure(live_server, {"name": "tdt-img", "title": "天地图影像", "kind": "tianditu_img"})
        mp = _page_with_routes(browser, live_server, "/#basemap=tdt-img", lambda route: route.abort())
        badge = mp.page.locator("#basemap-badge")
        expect(badge).to_have_class(re.compile("failed"))
        expect(badge).to_contain_text("底图“天地图影像”加载失败")
        expect(mp.page.locator("#toast")).to_contain_text("加载失败")
        mp.page.context.close()
        _remove(live_server, "tdt-img")


def test_an_mbtiles_basemap_draws_with_nothing_leaving_the_host(
    browser: Any, live_server: LiveServer
) -> None:
    folder = live_server.settings.data_dir / "basemaps"
    folder.mkdir(exist_ok=True)
    lon, lat = CENTRE
    roads = [
        ("测试路", [(lon - 0.02, lat), (lon + 0.02, lat)]),
        ("试验街", [(lon, lat - 0.02), (lon, lat + 0.02)]),
    ]
    write_mbtiles(
        folder / "test.mbtiles", roads, [((lon - 0.03, lat - 0.03, lon + 0.03, lat + 0.03), range(12, 16))]
    )
    _configure(
        live_server, {"name": "offline", "title": "内网底图", "kind": "mbtiles", "file": "test.mbtiles"}
    )
    mp = open_page(browser, live_server, "/#basemap=offline")
    page = mp.page
    fly(mp, lon, lat, 15)
    expect(page.locator("#basemap-badge")).to_have_text("底图：内网底图（CGCS2000，本机文件）")
    loaded = page.locator(".leaflet-tile-pane img.leaflet-tile-loaded[src*='/basemaps/offline/15/']")
    loaded.first.wait_for()
    # a tile of the file, drawn: the road at the centre is white on the light ground
    src = loaded.first.get_attribute("src")
    assert re.fullmatch(r"/basemaps/offline/15/\d+/\d+\.png", urlparse(src).path)
    size = page.evaluate("(img) => [img.naturalWidth, img.naturalHeight]", loaded.first.element_handle())
    assert size == [256, 256]
    assert mp.off_host() == [] and not mp.errors
    assert page.locator("#basemap").input_value() == "1"
    # the admin sees it in the panel
    page.locator("#basemap-admin summary").click()
    expect(page.locator("#basemap-admin li[data-name='offline']")).to_contain_text("内网底图")
    page.context.close()
    _remove(live_server, "offline")


def test_an_admin_adds_a_basemap_in_the_page(browser: Any, live_server: LiveServer) -> None:
    mp = open_page(browser, live_server)
    page = mp.page
    page.locator("#basemap-admin summary").click()
    form = page.locator("#basemap-form")
    form.locator("[name=name]").fill("amap")
    form.locator("[name=title]").fill("高德地图")
    form.locator("[name=kind]").select_option("xyz")
    form.locator("[name=url]").fill("https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}")
    form.locator("[name=subdomains]").fill("1234")
    form.locator("[name=crs]").select_option("gcj02")
    # tiles of a real host must not be fetched from the test: answer them here
    page.context.route(
        re.compile(r"^https://webrd0\d\.is\.autonavi\.com/"), lambda r: r.fulfill(body=TILE.getvalue())
    )
    # a remote basemap's hosts join the page's security policy: the page loads again, showing it
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#basemap option")).to_have_count(2)
    assert in_module(page, "state.js", "({App}) => [App.basemapKey, App.crs]") == ["amap", "gcj02"]
    expect(page.locator("#basemap-badge")).to_contain_text("高德地图（GCJ-02，已偏移叠加）")
    page.context.close()
    _remove(live_server, "amap")
    # a viewer has no such panel
    viewer = open_page(browser, live_server, role=Role.VIEWER)
    assert viewer.page.locator("#basemap-admin").count() == 0
    viewer.page.context.close()


def test_the_filters_follow_the_chosen_layer(map_page: MapPage, live_server: LiveServer) -> None:
    page = map_page.page
    assert page.locator("#filter-status").count() == 0  # no merged list of every layer's statuses
    layers = {s["name"]: s for s in httpx.get(f"{live_server.url}/api/layers").json()["layers"]}
    for name in ("water_supply", "road_voids", "manholes"):
        page.select_option("#filter-layer", name)
        statuses = page.locator("#filter-status option").all_inner_texts()[1:]
        assert statuses == [s["zh"] for s in layers[name]["statuses"]]
        assert len(statuses) == len(set(statuses))
        for attr in layers[name]["filters"]:
            assert page.locator(f"#filter-{attr}").count() == 1
    page.select_option("#filter-layer", "road_voids")
    page.select_option("#filter-risk_grade", "I")
    assert "filter=road_voids" in page.url and "f_risk_grade=I" in page.url


def test_on_a_phone_the_menu_closes_after_a_search_and_the_file_is_full_height(
    browser: Any, live_server: LiveServer
) -> None:
    mp = open_page(browser, live_server, width=390, height=844)
    page = mp.page
    page.click("#menu-btn")
    expect(page.locator("#sidebar")).to_have_class(re.compile("open"))
    page.select_option("#district", "410802")
    page.wait_for_selector("#result-list li")
    expect(page.locator("#sidebar")).not_to_have_class(re.compile("open"))
    assert page.locator("#menu-btn").get_attribute("aria-expanded") == "false"
    page.locator("#result-list li").first.click()
    expect(page.locator("#file")).to_be_visible()
    box = page.locator("#drawer").bounding_box()
    assert box is not None and box["height"] >= 840 and box["width"] >= 389
    page.keyboard.press("Escape")
    expect(page.locator("#file")).to_be_hidden()
    page.context.close()
