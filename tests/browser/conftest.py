"""Browser fixtures: the app served by uvicorn on a free port against the test database
(seeded with a few assets of every layer), and Debian's Chromium driven by playwright.

Chromium is the system's (/usr/bin/chromium), never one downloaded by
``playwright install``; every request the page makes is recorded so tests can assert
that nothing leaves the host.

Pages run under the app's real Content-Security-Policy and a violation fails the test
(``fail_on_csp_violations``). The policy refuses ``eval``, so ``page.wait_for_function``
(which evals its predicate in the page) cannot be used: wait with locators or
``expect`` instead; ``page.evaluate`` is not affected.

The page's own files are ES modules that put nothing on ``window``: tests reach the
map's state and helpers through ``in_module``, which imports a module in the page (the
same URL, so the page's own instance, with its live state).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
import pytest
import uvicorn
from shapely.geometry import Polygon

from layers.demo import seed_demo
from registry.assets import AssetRow, asset_id_by_code, insert_children, upsert_assets
from registry.catalog import LayerCatalog
from registry.cluster import Cluster
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Settings
from tests.authkit import Account, make_accounts
from tests.conftest import free_port, template_copy
from tests.factories import CENTRE, make_properties, sample_geometry_for
from web.app import create_app

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ZH_PAK = Path("/usr/lib/chromium/locales/zh-CN.pak")  # Debian's chromium-l10n
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"

# Two parking bays side by side (≈ 5 m × 11 m each) east of the centre, for snapping
# and overlap tests; metres → degrees at Jiaozuo's latitude.
M_LON = 1 / (111320 * 0.8171)
M_LAT = 1 / 110540
BAY_ORIGIN = (CENTRE[0] + 200 * M_LON, CENTRE[1])


def bay(ix: int, iy: int = 0, w: float = 11.0, d: float = 5.0) -> Polygon:
    """The ix-th bay of the row at BAY_ORIGIN (metres east/north)."""
    x0 = BAY_ORIGIN[0] + ix * w * M_LON
    y0 = BAY_ORIGIN[1] + iy * d * M_LAT
    return Polygon([(x0, y0), (x0 + w * M_LON, y0), (x0 + w * M_LON, y0 + d * M_LAT), (x0, y0 + d * M_LAT)])


def seed_assets(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    """A handful of assets of every layer around the centre, with known offsets.

    Returns what the tests look for: codes and positions.
    """
    known: dict[str, Any] = {}
    for spec in catalog:
        rows = []
        for n in range(1, 6):
            props = make_properties(spec, n)
            # spread east, 40 m apart; layer k shifted north by 15 m·k so they don't overlap
            k = catalog.names().index(spec.name)
            x = CENTRE[0] + (n - 1) * 40 * M_LON
            y = CENTRE[1] + (k + 1) * 15 * M_LAT
            if spec.name == "parking":
                geom = bay(n - 1)
                props["status"] = "in_use"
                props["name"] = f"测试停车场{n}"
            else:
                geom = sample_geometry_for(spec, props, x=x, y=y)
            if "risk_grade" in props:
                props["risk_grade"] = ["I", "II", "III", "IV", "II"][n - 1]
            rows.append(AssetRow(props=props, geom=geom))
        upsert_assets(conn, spec, rows)
        known[spec.name] = [r.props["code"] for r in rows]
        for child in spec.children:
            site = asset_id_by_code(conn, spec, rows[0].props["code"])
            tests = [
                {"tested_on": dt.date(2025, 3, 1), "turbidity_ntu": 0.4},  # passes GB 5749
                {"tested_on": dt.date(2025, 6, 1), "turbidity_ntu": 2.5},  # too turbid: fails
            ]
            common = {
                "free_chlorine_mg_l": 0.3,
                "total_coliforms_mpn": 0,
                "total_bacteria_cfu_ml": 20,
                "ph": 7.2,
                "lab": "焦作市疾控中心",
                "site_id": site,
            }
            insert_children(conn, child, "site_id", [{**t, **common} for t in tests])
    conn.commit()
    known["centre"] = CENTRE
    return known


@dataclass
class LiveServer:
    """The running app: its base URL, the seeded assets and an account per role."""

    url: str
    settings: Settings
    seeded: dict[str, Any] = field(default_factory=dict)
    app: Any = None
    accounts: dict[Role, Account] = field(default_factory=dict)

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        """API-token headers of the ``role`` account (for the tests' own HTTP calls)."""
        return self.accounts[role].bearer

    def asset_id(self, layer: str, code: str) -> str:
        """The id of a seeded asset, looked up through the API as an admin."""
        res = httpx.get(
            f"{self.url}/ogc/collections/{layer}/items", params={"limit": 100}, headers=self.headers()
        )
        res.raise_for_status()
        return next(f["id"] for f in res.json()["features"] if f["properties"]["code"] == code)


@pytest.fixture(scope="module")
def module_db(
    cluster: Cluster, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A copy of the migrated template for one test module (its server's database),
    with a data folder of its own (photos)."""
    with template_copy(cluster, template_db, "browser") as url:
        yield Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=url, data_dir=tmp_path_factory.mktemp("data")
        )


@contextmanager
def serve(db: Settings, catalog: LayerCatalog, seeded: dict[str, Any]) -> Iterator[LiveServer]:
    """uvicorn on a free port, in a thread, against ``db`` (accounts added for every role)."""
    assert db.database_url
    with psycopg.connect(db.database_url) as conn:
        accounts = make_accounts(conn)
    port = free_port()
    app = create_app(db, catalog)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 20 s")
        time.sleep(0.05)
    try:
        yield LiveServer(
            url=f"http://127.0.0.1:{port}", settings=db, seeded=seeded, app=app, accounts=accounts
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(module_db: Settings, catalog: LayerCatalog) -> Iterator[LiveServer]:
    """The app on the module's database, seeded with a few assets of every layer.

    One server per test module: the tests of a module use different assets, so they
    can share it; a test that changes the app's settings puts them back.
    """
    assert module_db.database_url
    with psycopg.connect(module_db.database_url) as conn:
        seeded = seed_assets(conn, catalog)
    with serve(module_db, catalog, seeded) as live:
        yield live


@pytest.fixture(scope="module")
def demo_server(module_db: Settings, catalog: LayerCatalog) -> Iterator[LiveServer]:
    """The app on a database holding the demo data (``registry seed-demo``) and nothing
    else. Modules that need more of the demo (a busiest spot, a basemap) define their own."""
    assert module_db.database_url
    with psycopg.connect(module_db.database_url) as conn:
        seed_demo(conn)
        conn.commit()
    with serve(module_db, catalog, {}) as live:
        yield live


@contextmanager
def app_settings(live: LiveServer, **changes: Any) -> Iterator[None]:
    """Run with some of the app's settings changed (e.g. public_read), then restore them."""
    before = live.app.state.settings
    live.app.state.settings = before.model_copy(update=changes)
    try:
        yield
    finally:
        live.app.state.settings = before


@dataclass
class CspWatch:
    """Content-Security-Policy violations logged by any page of the contexts opened during
    the current test (Chromium logs every refused script, style, image or connection on
    the console), and those contexts."""

    violations: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def watch(self, context: Any) -> Any:
        """Record the CSP violations of every page of ``context`` (popups included)."""

        def on_console(message: Any) -> None:
            if "Content Security Policy" in message.text:
                where = message.location or {}
                self.violations.append(
                    f"{where.get('url', '?')}:{where.get('lineNumber', '?')}: {message.text}"
                )

        context.on("console", on_console)
        self.contexts.append(context)
        return context


@pytest.fixture(scope="session")
def csp_watch() -> CspWatch:
    """The session's CSP watch (every context the ``browser`` fixture opens reports here)."""
    return CspWatch()


@pytest.fixture(scope="session")
def browser(csp_watch: CspWatch) -> Iterator[Any]:
    """Debian's Chromium, headless, with a Chinese UI as on a phone or PC sold in China;
    fails (never skips) if absent.

    The browser's own widgets (a date field's 年/月/日, not mm/dd/yyyy) follow the UI
    locale, not the page's ``lang``; on Linux Chromium takes it from LANGUAGE and needs
    its zh-CN.pak from Debian's chromium-l10n (scripts/setup.sh --with-browser). LANG
    stays C.UTF-8: a bare Debian has no zh_CN.UTF-8 locale generated, and under a LANG
    naming a missing locale Chromium cannot open a file with a Chinese name (the upload
    tests' 井盖排查.geojson).

    playwright's ``launch`` gives Chromium a fresh temporary user-data-dir of its own
    (it refuses a ``--user-data-dir`` argument), and every test opens a new isolated
    context, so no profile state leaks between runs or tests. Every context is watched
    for Content-Security-Policy violations (see ``fail_on_csp_violations``).
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    if not ZH_PAK.exists():
        pytest.fail(f"{ZH_PAK} not found: install Debian's chromium-l10n (Chromium's Chinese UI)")
    env = {**os.environ, "LANG": "C.UTF-8", "LANGUAGE": "zh_CN:zh"}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--lang=zh-CN"], env=env)
        new_context = b.new_context
        b.new_context = lambda *args, **kwargs: csp_watch.watch(new_context(*args, **kwargs))
        yield b
        b.close()


@pytest.fixture(autouse=True)
def fail_on_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a browser test whose pages broke the app's Content-Security-Policy.

    Torn down after the test's own fixtures: the contexts the test left open are closed
    first, so every message their pages logged has arrived.
    """
    if "browser" not in request.fixturenames:
        yield
        return
    watch: CspWatch = request.getfixturevalue("csp_watch")
    watch.violations.clear()
    watch.contexts.clear()
    yield
    for context in watch.contexts:
        with suppress(Exception):  # already closed by the test
            context.close()
    if watch.violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(watch.violations), pytrace=False)


@dataclass
class MapPage:
    """A page plus every URL it requested and the console errors it logged."""

    page: Any
    requests: list[str]
    errors: list[str]
    base: str

    def off_host(self) -> list[str]:
        """Requested URLs on any host other than the app's own."""
        own = urlparse(self.base).netloc
        return [
            u for u in self.requests if urlparse(u).scheme in ("http", "https") and urlparse(u).netloc != own
        ]

    def shot(self, name: str) -> Path:
        """Save a screenshot under docs/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def sign_in(context: Any, live: LiveServer, role: Role) -> None:
    """Open a session in the browser context through ``POST /auth/login`` (the
    context's request client shares its cookie jar), skipping the form for speed."""
    account = live.accounts[role]
    res = context.request.post(
        live.url + "/auth/login", data={"username": account.username, "password": account.password}
    )
    assert res.ok, res.text()


def open_page(
    browser: Any,
    live: LiveServer | str,
    path: str = "/",
    *,
    width: int = 1280,
    height: int = 800,
    lang: str | None = None,
    role: Role | None = Role.ADMIN,
    wait: bool = True,
) -> MapPage:
    """A fresh context (no shared storage) on ``path``, signed in as ``role`` (None:
    anonymous), waiting until the page is ready."""
    # (duck-typed: pytest may load this conftest under a second module name)
    base = live if isinstance(live, str) else live.url
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    if role is not None:
        assert not isinstance(live, str), "signing in needs the LiveServer"
        sign_in(context, live, role)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(f"{e.message}\n{e.stack}"))
    if lang:
        page.add_init_script(f"localStorage.setItem('registry.lang', '{lang}')")
    page.goto(base + path)
    if wait:
        page.wait_for_selector("body[data-ready='1']", timeout=15000)
    return MapPage(page=page, requests=requests, errors=errors, base=base)


@pytest.fixture
def map_page(browser: Any, live_server: LiveServer) -> Iterator[MapPage]:
    """The map at the default view, in Chinese, signed in as an admin."""
    mp = open_page(browser, live_server)
    yield mp
    mp.page.context.close()


def in_module(page: Any, module: str, fn: str, arg: Any = None) -> Any:
    """The result of the JavaScript function ``fn(namespace, arg)`` run in ``page``, where
    ``namespace`` is the app's ES module ``/static/app/<module>`` as the page loaded it.

    ``in_module(page, "state.js", "({App}) => App.map.getZoom()")``
    """
    return page.evaluate(f"async (arg) => ({fn})(await import('/static/app/{module}'), arg)", arg)


def until(page: Any, module: str, fn: str, arg: Any = None, *, what: str, timeout: int = 20000) -> Any:
    """Wait until the JavaScript predicate ``fn(namespace, arg)`` (as in ``in_module``)
    returns something truthy in ``page``, and return it; polled inside the page (the
    CSP refuses ``wait_for_function``'s eval). After ``timeout`` ms, an AssertionError
    saying what did not happen (``what``).

    ``until(page, "state.js", "({App}) => App.map.getZoom() === 16", what="zoom 16")``
    """
    value = page.evaluate(
        f"async ([arg, timeout]) => {{ const ns = await import('/static/app/{module}');"
        f" const test = {fn}; const end = performance.now() + timeout;"
        " for (;;) { const v = await test(ns, arg); if (v) return v;"
        " if (performance.now() > end) return null;"
        " await new Promise((resolve) => setTimeout(resolve, 20)); } }",
        [arg, timeout],
    )
    if not value:
        raise AssertionError(f"waited {timeout} ms for {what}")
    return value


# No tile layer on the map (vector tiles, basemap) is still fetching or drawing a tile.
TILES_IDLE = (
    "({App}) => { let busy = false;"
    " App.map.eachLayer((l) => { if (l instanceof L.GridLayer && l.isLoading()) busy = true; });"
    " return !busy; }"
)


def settle(mp: MapPage) -> None:
    """Wait until the map's tiles of the current view are all loaded and drawn."""
    until(mp.page, "state.js", TILES_IDLE, what="the map's tiles to finish loading")


def screen_xy(mp: MapPage, lon: float, lat: float) -> tuple[float, float]:
    """Page pixel of a WGS84 position on the map (through the page's own shift)."""
    x, y = in_module(
        mp.page,
        "state.js",
        "({App, toMap}, [lon, lat]) => { const p = App.map.latLngToContainerPoint(toMap(lon, lat));"
        " const r = App.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lon, lat],
    )
    return x, y


def fly(mp: MapPage, lon: float, lat: float, zoom: int) -> None:
    """Set the view without animation and wait until its tiles are loaded and drawn (so
    what a click there hits does not depend on how far the tiles got)."""
    in_module(
        mp.page,
        "state.js",
        "({App, toMap}, [lon, lat, z]) => { App.map.setView(toMap(lon, lat), z, {animate: false}); }",
        [lon, lat, zoom],
    )
    settle(mp)
