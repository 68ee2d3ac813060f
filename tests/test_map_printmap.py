"""The printable folium map of a search result works offline: no CDN URL in it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from layers import default_catalog
from registry.settings import Settings
from tests.authkit import reader_headers
from web.app import create_app
from web.routes.printmap import render_result_map

FC = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "a",
            "geometry": {"type": "Point", "coordinates": [113.2418, 35.2155]},
            "properties": {
                "layer": "road_voids",
                "code": "KD-1",
                "status": "found",
                "risk_grade": "I",
                "distance_m": 12.3,
            },
        },
        {
            "type": "Feature",
            "id": "b",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[113.25, 35.21], [113.2501, 35.21], [113.2501, 35.2101], [113.25, 35.21]]],
            },
            "properties": {"layer": "parking", "code": "TC-1", "status": "in_use"},
        },
    ],
}


def _external_urls(page: str) -> list[str]:
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    urls += re.findall(r"https?://[^\s\"'<>)]+", page)
    return [u for u in urls if u.startswith(("http://", "https://", "//")) and "127.0.0.1:9" not in u]


def test_result_map_uses_the_apps_own_leaflet_and_no_cdn() -> None:
    page = render_result_map(FC, default_catalog(), static_base="http://127.0.0.1:9")
    assert "http://127.0.0.1:9/static/vendor/leaflet/leaflet.js" in page
    assert "http://127.0.0.1:9/static/vendor/leaflet/leaflet.css" in page
    assert _external_urls(page) == []
    for cdn in ("cdn.jsdelivr", "cdnjs", "bootstrapcdn", "code.jquery"):
        assert cdn not in page


def test_result_map_lists_results_with_chinese_labels() -> None:
    page = render_result_map(FC, default_catalog(), static_base="", title="搜索结果地图")
    assert "KD-1" in page and "道路脱空隐患" in page and "排查发现" in page and "12 m" in page
    assert "#b10026" in page  # grade I colour from the catalogue
    english = render_result_map(FC, default_catalog(), static_base="", lang="en")
    assert "Road voids" in english and "In use" in english


def _water_site(code: str, passed: bool, due: str) -> dict:
    return {
        "type": "Feature",
        "id": code,
        "geometry": {"type": "Point", "coordinates": [113.24, 35.21]},
        "properties": {
            "layer": "water_supply",
            "code": code,
            "status": "in_service",
            "last_test_passed": passed,
            "next_test_due": due,
        },
    }


def test_result_map_colours_water_sites_by_last_test_and_rings_overdue_ones() -> None:
    fc = {"type": "FeatureCollection", "features": [_water_site("GS-OK", True, "2999-01-01")]}
    page = render_result_map(fc, default_catalog(), static_base="")
    assert '"fillColor": "#1a9850"' in page and "#7b3294" not in page
    fc = {"type": "FeatureCollection", "features": [_water_site("GS-LATE", False, "2001-01-01")]}
    page = render_result_map(fc, default_catalog(), static_base="")
    assert '"fillColor": "#d73027"' in page and '"color": "#7b3294"' in page


def test_search_map_route_renders_a_search(db: Settings) -> None:
    with TestClient(create_app(db), headers=reader_headers(db)) as client:
        res = client.get("/api/search/map.html", params={"lon": 113.2418, "lat": 35.2155, "radius": 500})
        assert res.status_code == 200, res.text
        assert "/static/vendor/leaflet/leaflet.js" in res.text
        assert _external_urls(res.text.replace("http://testserver", "http://127.0.0.1:9")) == []


def test_result_map_has_title_legend_date_and_a_metric_scale() -> None:
    """Issue 11: a page to hand over names what it shows."""
    import datetime as dt

    page = render_result_map(
        FC, default_catalog(), static_base="", title="搜索结果地图", subtitle="半径 200 米"
    )
    assert "<h1>搜索结果地图</h1>" in page
    assert f"半径 200 米 · 共 2 条 · 制图日期 {dt.date.today().isoformat()}" in page
    legend = re.search(r"<div class='print-legend'>(.*?)</div>", page).group(1)
    assert "图例" in legend and "道路脱空隐患 · Ⅰ级（最严重）" in legend and "停车泊位 · 在用" in legend
    assert re.search(r"\.sw\d\{background:#[0-9a-fA-F]{3,8}\}", page)
    assert "L.control.scale({metric: true, imperial: false})" in page
    english = render_result_map(FC, default_catalog(), static_base="", lang="en", title="Search result map")
    assert "Legend" in english and "drawn on" in english
