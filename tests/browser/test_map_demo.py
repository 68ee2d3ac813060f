"""The map with the city's demo data (``registry seed-demo``), signed in, in Chinese: the
layers draw, a radius search in the old town finds assets of several layers, and the
picture is the README's (docs/screenshots/map.png)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from layers.demo import seed_demo
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.browser.conftest import LiveServer, fly, in_module, open_page, screen_xy, serve, settle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_server(module_db: Settings, catalog: LayerCatalog) -> Iterator[LiveServer]:
    """The app on a database holding the demo data only."""
    assert module_db.database_url
    with psycopg.connect(module_db.database_url) as conn:
        counts = seed_demo(conn)
        # the busiest spot: the road void with the most assets of any layer within 300 m
        lon, lat = conn.execute(
            """
            SELECT ST_X(ST_Centroid(v.geom)), ST_Y(ST_Centroid(v.geom)) FROM road_voids v
            ORDER BY (SELECT count(*) FROM assets a
                      WHERE ST_DWithin(a.geom::geography, v.geom::geography, 300)) DESC, v.code
            LIMIT 1
            """
        ).fetchone()
    with serve(module_db, catalog, {"counts": counts, "spot": (lon, lat)}) as live:
        yield live


def test_demo_city_map_signed_in_for_the_readme(browser: Any, demo_server: LiveServer) -> None:
    lon, lat = demo_server.seeded["spot"]
    mp = open_page(browser, demo_server, role=Role.ADMIN, width=1400, height=860)
    page = mp.page
    assert page.locator("#user-role").inner_text() == "管理员"
    fly(mp, lon, lat, 16)
    page.fill("#radius", "300")
    # the spot is a road void: a click there opens its file, a long press (right click)
    # searches around it
    page.mouse.click(*screen_xy(mp, lon, lat), button="right")
    page.wait_for_selector("#result-list li")
    layers = set(in_module(page, "state.js", "({App}) => App.results.map(f => f.properties.layer)"))
    assert len(layers) >= 3, layers
    assert page.locator("#results-count").inner_text().startswith("共")
    # the vector tiles of the visible extent have been drawn
    page.locator(".leaflet-pane canvas").first.wait_for(state="attached")
    settle(mp)
    mp.shot("map")
    assert not mp.errors and mp.off_host() == []
    page.context.close()
