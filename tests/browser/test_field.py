"""The field app (/field, issue 14) on a phone-sized Chromium: an asset and an inspection
with photos recorded with the network cut, the page reloaded still without a network
(the app shell from the service worker, the queue from IndexedDB, the offline area's
tiles drawn from Cache Storage), then sent once each when the network returns; and an
edit that meets a change made meanwhile, shown side by side and resolved.

The phone is a Chinese one in Jiaozuo: Chromium runs with a Chinese UI locale (its own
date fields read 年/月/日, not mm/dd/yyyy; on Linux that locale comes from LANG/LANGUAGE
and needs Debian's chromium-l10n) in the Asia/Shanghai time zone.

"Network cut" is real here: the app's server is stopped (connections refused) as well
as the context set offline, because Chromium's offline emulation does not reach a
service worker's own fetches (microsoft/playwright#2311); the server then starts again
on the same port and database.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from PIL import Image
from psycopg import sql

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts
from tests.browser.conftest import (
    M_LAT,
    M_LON,
    SCREENSHOTS,
    LiveServer,
    seed_assets,
    sign_in,
    until,
)
from tests.browser.street_tiles import write_mbtiles
from tests.conftest import free_port
from web.app import create_app
from web.routes.field_app import SHELL_STATIC, STATIC, shell

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 640}


@dataclass
class Switchable:
    """The app on a fixed port that can be stopped (the network is gone) and started again."""

    app: Any
    port: int
    server: Any = None
    thread: Any = None

    def start(self) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 20 s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        # nothing answers on the port any more
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2)


@pytest.fixture(scope="module")
def field_server(module_db: Settings, catalog: LayerCatalog) -> Iterator[tuple[LiveServer, Switchable]]:
    """The app on the module's seeded database, on a port it can be restarted on."""
    assert module_db.database_url
    with psycopg.connect(module_db.database_url) as conn:
        seeded = seed_assets(conn, catalog)
        accounts = make_accounts(conn)
    app = create_app(module_db, catalog)
    switch = Switchable(app, free_port())
    switch.start()
    live = LiveServer(
        url=f"http://127.0.0.1:{switch.port}", settings=module_db, seeded=seeded, app=app, accounts=accounts
    )
    try:
        yield live, switch
    finally:
        if switch.server is not None and not switch.server.should_exit:
            switch.server.should_exit = True
            switch.thread.join(timeout=15)


def phone(
    browser: Any,
    live: LiveServer,
    lon: float,
    lat: float,
    accuracy: float = 5.0,
    role: Role = Role.ADMIN,
    viewport: dict[str, int] = PHONE,
) -> Any:
    """A phone-sized context (Chinese, in Jiaozuo's time zone) with the position given
    and the service worker allowed, signed in as ``role``, on /field once its worker
    controls it."""
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"longitude": lon, "latitude": lat, "accuracy": accuracy},
        permissions=["geolocation"],
        service_workers="allow",
    )
    sign_in(context, live, role)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{e.message}\n{e.stack}"))
    page.errors = errors
    page.goto(live.url + "/field")
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    page.wait_for_selector("body[data-sw='ready']", timeout=20000)
    return page


def asset_id(live: LiveServer, layer: str, code: str) -> str:
    """The id of a seeded asset (read from the database)."""
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT id FROM {} WHERE code = %s").format(sql.Identifier(layer)), (code,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def photo(tmp_path: Path, name: str, color: str) -> Path:
    """A camera-sized JPEG (4000 × 3000), which the phone downscales before upload."""
    path = tmp_path / name
    Image.new("RGB", (4000, 3000), color).save(path, "JPEG", quality=80)
    return path


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def drawn_tiles(page: Any) -> int:
    """How many of the map's vector-tile canvases have something drawn on them."""
    return int(
        page.evaluate(
            "() => [...document.querySelectorAll('#map .leaflet-tile-container canvas')].filter((c) => {"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }).length"
        )
    )


def wait_drawn(page: Any, what: str) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        n = drawn_tiles(page)
        if n:
            return n
        page.wait_for_timeout(200)  # polled: the tiles are drawn asynchronously
    raise AssertionError(f"no vector tile drawn: {what}")


def queue_count(page: Any, n: int) -> None:
    page.wait_for_selector(f"body[data-queue='{n}']", timeout=30000)


def test_offline_records_survive_a_reload_and_are_saved_once_when_the_network_returns(
    browser: Any, field_server: tuple[LiveServer, Switchable], tmp_path: Path
) -> None:
    live, switch = field_server
    lon, lat = live.seeded["centre"]
    manhole_code = live.seeded["manholes"][0]  # 30 m north of the centre
    # the bureau's own basemap, an MBTiles file the registry serves (z12-z17 around here)
    folder = live.settings.basemap_folder
    folder.mkdir(parents=True, exist_ok=True)
    roads = [
        ("测试路", [(lon - 0.01, lat), (lon + 0.01, lat)]),
        ("试验街", [(lon, lat - 0.01), (lon, lat + 0.01)]),
    ]
    around = (lon - 0.006, lat - 0.006, lon + 0.006, lat + 0.006)
    write_mbtiles(folder / "field.mbtiles", roads, [(around, range(12, 18))])
    res = httpx.put(
        f"{live.url}/api/basemaps/field",
        json={"name": "field", "title": "内网底图", "kind": "mbtiles", "file": "field.mbtiles"},
        headers=live.headers(),
    )
    assert res.status_code == 200, res.text
    page = phone(browser, live, lon, lat)
    context = page.context
    # the manifest is linked and served; the worker controls /field
    manifest = context.request.get(live.url + "/field.webmanifest").json()
    assert manifest["name"] == "焦作城管外业" and manifest["start_url"] == "/field"
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL").endswith("/field-sw.js")

    # download the current view for offline use: the size is shown before downloading
    page.click("#tab-offline")
    page.click("#area-estimate")
    page.wait_for_selector("#area-plan[data-tiles]")
    planned = int(page.get_attribute("#area-plan", "data-tiles"))
    assert planned > 6  # z12..z17, at least one tile each
    assert re.search(r"共 \d+ 个瓦片，约 \d+(\.\d)? (KB|MB)$", page.inner_text("#area-plan"))
    page.click("#area-download")
    page.wait_for_selector("body[data-areas='1']", timeout=60000)
    assert f"已下载 {planned} 个瓦片" in page.inner_text("#area-plan")
    assert page.locator("#area-list li").count() == 1
    assert "离线瓦片" in page.inner_text("#area-usage")

    # the network is cut
    switch.stop()
    context.set_offline(True)
    page.wait_for_selector("#net.off")

    # a new manhole at the phone's position; a poor fix blocks saving until the map is tapped
    page.click("#tab-record")
    page.select_option("#record-layer", "manholes")
    context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 35})
    page.wait_for_selector("#gps.bad")
    assert "35" in page.inner_text("#gps") and "10" in page.inner_text("#gps")
    assert page.locator("#record-save").is_disabled()
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2)
    page.wait_for_selector("#record-where[data-source='map']")
    assert page.locator("#record-save").is_enabled()
    page.click("#use-gps")
    assert page.locator("#record-save").is_disabled()
    context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 4})
    page.wait_for_selector("#gps:not(.bad)")
    page.wait_for_selector("#record-save:enabled")
    page.fill("#f-manholes-code", "JZ-FIELD-0001")
    page.fill("#f-manholes-notes", "外业离线新增")
    page.set_input_files("#record-form input[type=file]", str(photo(tmp_path, "new.jpg", "#a05030")))
    page.wait_for_selector("#record-form .thumbs img")
    # the end of the form (the date, the photo taken), the save bar kept below it
    page.locator("#panels").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    assert page.locator("#record-form .thumbs img").is_visible()
    shot(page, "field-form")
    page.click("#record-save")
    queue_count(page, 1)

    # an inspection of the manhole found within 50 m (from the phone's own store)
    page.click("#tab-nearby")
    item = page.locator(f"#nearby-list li[data-code='{manhole_code}']")
    item.wait_for()
    assert "离线" in page.inner_text("#nearby-status")
    item.locator("button.inspect").click()
    item.locator("[data-result='problem']").click()
    item.locator(".inspection-notes").fill("井盖松动（外业离线巡查）")
    item.locator("input[type=file]").set_input_files(str(photo(tmp_path, "insp.jpg", "#3050a0")))
    item.locator(".thumbs img").wait_for()
    item.locator("button.inspection-save").click()
    queue_count(page, 2)

    # reload with no network: the shell from the worker, the queue from IndexedDB
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    queue_count(page, 2)
    page.click("#tab-queue")
    page.locator("#queue-list li[data-state='pending']").nth(1).wait_for()
    assert page.locator("#queue-list li[data-state='pending']").count() == 2
    assert page.inner_text("#queue-count") == "2"
    shot(page, "field-queue")
    # the offline area keeps drawing: its tiles (assets and basemap) come from Cache Storage
    until(
        page,
        "state.js",
        "({App}) => App.map && App.map.getZoom() >= 17",
        what="the map at the phone's position",
    )
    assert wait_drawn(page, "offline, from the downloaded area") > 0
    page.locator("#map img.leaflet-tile-loaded[src*='/basemaps/field/17/']").first.wait_for()

    # the network returns: the queue is sent by itself (the online event), once each
    switch.start()
    context.set_offline(False)
    queue_count(page, 0)
    page.click("#tab-queue")
    page.click("#sync-btn")  # a second sync sends nothing again
    page.wait_for_selector("#queue-empty")
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    queue_count(page, 0)

    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        rows = conn.execute(
            "SELECT id, notes, ST_X(geom), ST_Y(geom) FROM manholes WHERE code = 'JZ-FIELD-0001'"
        ).fetchall()
        assert len(rows) == 1
        new_id, notes, x, y = rows[0]
        assert notes == "外业离线新增"
        assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6
        assert (
            conn.execute("SELECT count(*) FROM asset_photos WHERE asset_id = %s", (new_id,)).fetchone()[0]
            == 1
        )
        manhole = conn.execute("SELECT id FROM manholes WHERE code = %s", (manhole_code,)).fetchone()[0]
        inspections = conn.execute(
            "SELECT id, result FROM inspections WHERE asset_id = %s AND notes = '井盖松动（外业离线巡查）'",
            (manhole,),
        ).fetchall()
        assert [r[1] for r in inspections] == ["problem"]
        assert (
            conn.execute(
                "SELECT count(*) FROM inspection_photos WHERE inspection_id = %s", (inspections[0][0],)
            ).fetchone()[0]
            == 1
        )
        # the photo was downscaled on the phone: long side 1600 px
        sha = conn.execute("SELECT sha256 FROM asset_photos WHERE asset_id = %s", (new_id,)).fetchone()[0]
    res = context.request.get(f"{live.url}/api/photos/{sha}")
    assert res.ok
    assert max(Image.open(io.BytesIO(res.body())).size) == 1600
    assert not page.errors, page.errors
    context.close()


def test_an_edit_that_meets_a_change_made_meanwhile_shows_both_versions(
    browser: Any, field_server: tuple[LiveServer, Switchable]
) -> None:
    live, _switch = field_server
    code = live.seeded["road_voids"][2]  # 80 m east and 15 m north of the centre
    lon = live.seeded["centre"][0] + 80 * M_LON
    lat = live.seeded["centre"][1] + 15 * M_LAT
    void = asset_id(live, "road_voids", code)
    page = phone(browser, live, lon, lat)
    page.click("#tab-nearby")
    item = page.locator(f"#nearby-list li[data-code='{code}']")
    item.wait_for()
    item.locator("button.edit").click()
    form = item.locator("form.edit-form")
    form.wait_for()

    # meanwhile, someone changes the void through the API
    changed = httpx.patch(
        f"{live.url}/api/assets/road_voids/{void}",
        json={"properties": {"road_name": "办公室改的路名"}},
        headers=live.headers(),
    )
    assert changed.status_code == 200, changed.text

    form.locator("[name='road_name']").fill("外业改的路名")
    form.locator("button.edit-save").click()
    # where the form was, the phone says it met a change and where to settle it
    assert "待同步" in item.locator("p[data-outcome='conflict']").inner_text()
    page.click("#tab-queue")
    conflict = page.locator("#queue-list li[data-state='conflict']")
    conflict.wait_for(timeout=30000)
    row = conflict.locator("tr[data-field='road_name']")
    assert row.locator("td.mine").inner_text() == "外业改的路名"
    assert row.locator("td.theirs").inner_text() == "办公室改的路名"
    assert "服务器上的" in conflict.inner_text()
    shot(page, "field-conflict")

    # keep mine: sent again on top of their version, and saved
    conflict.locator("button[id^='keep-mine']").click()
    queue_count(page, 0)
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        assert (
            conn.execute("SELECT road_name FROM road_voids WHERE id = %s", (void,)).fetchone()[0]
            == "外业改的路名"
        )
    assert not page.errors, page.errors
    page.context.close()


def test_an_officer_takes_the_next_workflow_step_of_a_void_found_nearby(
    browser: Any, field_server: tuple[LiveServer, Switchable]
) -> None:
    live, _switch = field_server
    code = live.seeded["road_voids"][3]  # 120 m east and 15 m north of the centre
    lon = live.seeded["centre"][0] + 120 * M_LON
    lat = live.seeded["centre"][1] + 15 * M_LAT
    void = asset_id(live, "road_voids", code)
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:  # as surveyed: nobody responsible yet
        conn.execute("UPDATE road_voids SET responsible_unit = NULL WHERE id = %s", (void,))
    page = phone(browser, live, lon, lat, role=Role.OFFICER)
    # an officer records no new assets here: the app opens on what is nearby; and it reads
    # in English on demand
    assert page.locator("#record-save").count() == 0
    assert page.get_attribute("#tab-nearby", "aria-selected") == "true"
    page.click("#lang")
    assert page.inner_text("#tab-nearby") == "Nearby"
    page.click("#lang")
    assert page.inner_text("#tab-nearby") == "附近"

    page.click("#tab-nearby")
    item = page.locator(f"#nearby-list li[data-code='{code}']")
    item.wait_for()
    item.locator("button.step").click()
    form = item.locator("form.step-form")
    form.wait_for()
    assert "确权" in form.locator("h3").inner_text()
    form.locator("[name='responsible_unit']").fill("焦作市排水管理处")
    form.locator("[name='comment']").fill("现场确认权属")
    form.locator("button.step-save").click()
    item.locator("p.ok").wait_for()  # queued, and the sync under way
    page.wait_for_selector("body[data-sync='idle'][data-queue='0']", timeout=30000)
    # the note where the form was follows the item: saved, then synced
    assert item.locator("p[data-outcome='sent']").inner_text() == "已同步"
    with psycopg.connect(live.settings.database_url) as conn:
        row = conn.execute(
            "SELECT status, responsible_unit FROM road_voids WHERE id = %s", (void,)
        ).fetchone()
        via = conn.execute(
            "SELECT count(*) FROM asset_history WHERE asset_id = %s AND via LIKE 'field:%%'", (void,)
        ).fetchone()
    assert row == ("assigned", "焦作市排水管理处")
    assert via is not None and via[0] >= 1
    assert not page.errors, page.errors
    page.context.close()


def test_the_app_shell_holds_every_module_the_field_page_imports() -> None:
    """Offline, a module missing from the worker's precache would stop the page: every
    file /field loads (its tags and the modules they import, followed through) is in it."""
    page = (Path(__file__).resolve().parents[2] / "web" / "templates" / "field.html").read_text(
        encoding="utf-8"
    )
    wanted = set(re.findall(r'(?:src|href)="/static/([^"]+)"', page))
    todo = [name for name in wanted if name.endswith(".js") and name.startswith("app/")]
    while todo:
        name = todo.pop()
        text = (STATIC / name).read_text(encoding="utf-8")
        for dep in re.findall(r'(?:from|import\()\s*"\./([\w.-]+\.js)"', text):
            if f"app/{dep}" not in wanted:
                wanted.add(f"app/{dep}")
                todo.append(f"app/{dep}")
    assert wanted <= set(SHELL_STATIC), sorted(wanted - set(SHELL_STATIC))
    files = shell()["files"]
    assert isinstance(files, list) and "/field" in files
    assert all((STATIC / name).is_file() for name in SHELL_STATIC)


def test_a_record_the_server_refuses_stays_queued_with_its_reason_until_discarded(
    browser: Any, field_server: tuple[LiveServer, Switchable]
) -> None:
    live, _switch = field_server
    lon, lat = live.seeded["centre"]
    taken = live.seeded["manholes"][1]  # a code another manhole already has
    page = phone(browser, live, lon, lat)
    page.select_option("#record-layer", "manholes")
    page.wait_for_selector("#record-save:enabled")
    # a file that is no picture is said so in Chinese, not in the browser's English
    page.set_input_files(
        "#record-form input[type=file]",
        files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture"}],
    )
    page.wait_for_selector("#toast.show")
    assert page.inner_text("#toast") == "无法读取照片“现场.jpg”：不是图片，或手机不支持该格式"
    assert page.locator("#record-form .thumbs img").count() == 0
    page.fill("#f-manholes-code", taken)
    page.click("#record-save")
    refused = page.locator("#queue-list li[data-state='rejected']")
    page.click("#tab-queue")
    refused.wait_for(timeout=30000)
    reason = refused.locator(".problems").inner_text()
    assert taken in reason or "编号" in reason, reason
    assert not re.search(r"\b[a-z_]+:", reason), reason  # a field by its label, never its code
    assert page.inner_text("#queue-count") == "1"
    page.click("#sync-btn")  # sending again does not help: it stays as it is
    page.wait_for_selector("body[data-sync='idle']")
    assert refused.count() == 1
    refused.locator("button.danger").click()
    queue_count(page, 0)
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        count = conn.execute("SELECT count(*) FROM manholes WHERE code = %s", (taken,)).fetchone()
    assert count == (1,)
    assert not page.errors, page.errors
    page.context.close()


def test_a_refused_record_is_corrected_in_its_own_form_and_sent_again_under_a_new_key(
    browser: Any, field_server: tuple[LiveServer, Switchable], tmp_path: Path
) -> None:
    """A code longer than the layer declaration's 64 characters passes the form (it sets
    no length) and the server refuses it (422 too_long on ``code``): 修改 reopens the
    record's form with its values and the server's words beside the code; corrected, it
    is sent again and saved once, with its photo and position."""
    live, _switch = field_server
    lon, lat = live.seeded["centre"]
    too_long = "JZ-RESEND-" + "0" * 60
    fixed = "JZ-RESEND-0001"
    page = phone(browser, live, lon, lat)
    page.select_option("#record-layer", "manholes")
    page.wait_for_selector("#record-save:enabled")
    page.fill("#f-manholes-code", too_long)
    page.fill("#f-manholes-road_name", "雨中录入的路名")
    page.set_input_files("#record-form input[type=file]", str(photo(tmp_path, "rain.jpg", "#507050")))
    page.wait_for_selector("#record-form .thumbs img")
    page.click("#record-save")
    page.click("#tab-queue")
    refused = page.locator("#queue-list li[data-state='rejected']")
    refused.wait_for(timeout=30000)
    assert "编号" in refused.locator("p.problems").first.inner_text()
    key = page.evaluate(READ_QUEUE)[0]["key"]

    # 修改: the form the record was made with, filled with its values, the reason by the code
    refused.locator("button.resend-edit").click()
    form = refused.locator("form.resend-form")
    form.wait_for()
    code = form.locator("[name='code']")
    assert code.input_value() == too_long
    assert form.locator("[name='road_name']").input_value() == "雨中录入的路名"
    assert code.get_attribute("aria-invalid") == "true"
    error = form.locator("p.field-error[data-field='code']")
    assert error.inner_text() and error.get_attribute("id") == code.get_attribute("aria-describedby")
    # its own ids: the record form's inputs keep theirs (a label names one input)
    assert page.locator("#f-manholes-code").count() == 1
    assert form.locator(f"label[for='{code.get_attribute('id')}'] [name='code']").count() == 1
    # nothing wider than the screen (the long code wraps), no stray text ("null")
    assert form.evaluate("(el) => el.scrollWidth <= el.clientWidth")
    assert "null" not in form.inner_text()
    # every tap target of the form is thumb-sized
    for target in form.locator("button, select, input:not(.photo-input)").all():
        box = target.bounding_box()
        if box:
            assert box["width"] >= 44 and box["height"] >= 44, target.evaluate("(el) => el.outerHTML")
    shot(page, "field-resend")

    code.fill(fixed)
    form.locator("button.resend-save").click()
    queue_count(page, 0)
    page.wait_for_selector("body[data-sync='idle']")
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        rows = conn.execute(
            "SELECT id, road_name, ST_X(geom), ST_Y(geom) FROM manholes WHERE code = %s", (fixed,)
        ).fetchall()
        assert len(rows) == 1
        new_id, road, x, y = rows[0]
        assert road == "雨中录入的路名"
        assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6
        assert conn.execute("SELECT count(*) FROM manholes WHERE code = %s", (too_long,)).fetchone() == (0,)
        assert (
            conn.execute("SELECT count(*) FROM asset_photos WHERE asset_id = %s", (new_id,)).fetchone()[0]
            == 1
        )
        # the old key still stands for the refusal (a resend under it would be answered so,
        # or refused as a key reused with another body): the record went under a new one
        assert conn.execute(
            "SELECT status FROM field_submissions WHERE key = %s::uuid", (key,)
        ).fetchall() == [(422,)]
    assert not page.errors, page.errors
    page.context.close()


READ_QUEUE = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open('jiaozuo-field');
  req.onsuccess = () => {
    const get = req.result.transaction('queue').objectStore('queue').getAll();
    get.onsuccess = () => resolve(get.result.map((i) => ({ key: i.key, state: i.state })));
    get.onerror = () => reject(get.error);
  };
  req.onerror = () => reject(req.error);
})"""


# Checks run in the page: a panel's first heading and button are where a thumb can see and
# reach them (inside the scroller's box, the topmost element at their centre and corners),
# the tap targets that are shown are at least 44 px each way, and the Chinese UI's words
# (outside asset codes, the account name and units) hold no English.
LAYOUT = """() => {
  const panels = document.querySelector('#panels').getBoundingClientRect();
  const panel = [...document.querySelectorAll('#panels .panel')].find((p) => !p.hidden);
  const covered = [];
  const firsts = [panel.querySelector('h2'), panel.querySelector('button')].filter(Boolean);
  for (const el of firsts) {
    const r = el.getBoundingClientRect();
    if (r.top < panels.top - 0.5 || r.bottom > panels.bottom + 0.5) {
      covered.push(`${el.textContent} outside the panel`);
    }
    const points = [[r.left + r.width / 2, r.top + r.height / 2], [r.left + 8, r.top + 8],
      [r.right - 8, r.bottom - 8]]; // inside the rounded corners
    for (const [x, y] of points) {
      const top = document.elementFromPoint(x, y);
      if (!top || !(top === el || el.contains(top))) {
        covered.push(`${el.textContent} under ${top && (top.id || top.className || top.tagName)}`);
      }
    }
  }
  const small = [];
  const targets = 'button, select, input:not(.photo-input), textarea, label.photo-btn, #map .leaflet-bar a';
  for (const el of document.querySelectorAll(targets)) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest('[hidden]')) continue;
    if (r.width < 44 || r.height < 44) {
      small.push(`${el.id || el.className} ${el.textContent.trim()} ${r.width}x${r.height}`);
    }
  }
  const english = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const host = n.parentElement;
    if (!host || host.closest('#user-box, #map, script, [hidden], #toast')) continue;
    const words = n.textContent.replace(/[A-Z0-9]+(-[A-Z0-9]+)+/g, '')
      .replace(/\\b(GPS|KB|MB|B|z\\d+|EN)\\b/g, '');
    if (/[A-Za-z]{2,}/.test(words)) english.push(n.textContent.trim());
  }
  // the header's words each on one line, all of it within the screen's width
  const header = [];
  for (const el of document.querySelectorAll('.bar > *')) {
    const r = el.getBoundingClientRect();
    let wrapped = false;
    const texts = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let t = texts.nextNode(); t; t = texts.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(t);
      if (new Set([...range.getClientRects()].map((x) => Math.round(x.top))).size > 1) wrapped = true;
    }
    if (r.right > innerWidth + 0.5 || wrapped) header.push(`${el.id || el.tagName} ${el.textContent}`);
  }
  const scrollTop = document.querySelector('#panels').scrollTop;
  return { covered, small, english, header, scrollTop };
}"""


@pytest.mark.parametrize("size", [PHONE, SMALL_PHONE], ids=["390x844", "360x640"])
def test_nothing_is_covered_and_every_tap_target_is_thumb_sized_on_a_small_phone(
    browser: Any, field_server: tuple[LiveServer, Switchable], size: dict[str, int]
) -> None:
    live, _switch = field_server
    lon, lat = live.seeded["centre"]
    page = phone(browser, live, lon, lat, viewport=size)
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    tabs = [
        ("queue", "#sync-btn"),
        ("nearby", "#nearby-list li"),
        ("offline", "#area-estimate"),
        ("record", "#record-save"),
    ]

    def each_tab_opens_at_its_top_uncovered() -> None:
        # the longest form, read to its end, then each tab in turn, each left scrolled down
        page.select_option("#record-layer", "road_voids")
        page.locator("#panels").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
        assert page.locator("#panels").evaluate("(el) => el.scrollTop") > 0
        for tab, ready in tabs:
            page.click(f"#tab-{tab}")
            page.locator(ready).first.wait_for()
            found = page.evaluate(LAYOUT)
            assert found["scrollTop"] == 0, tab
            assert not found["covered"], (tab, found["covered"])
            assert not found["small"], (tab, found["small"])
            assert not found["english"], (tab, found["english"])
            assert not found["header"], (tab, found["header"])
            page.locator("#panels").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")

    each_tab_opens_at_its_top_uncovered()
    # a day's records waiting without a network: a queue longer than the screen
    page.context.set_offline(True)
    page.wait_for_selector("#net.off")
    page.select_option("#record-layer", "manholes")
    for n in range(6):
        page.fill("#f-manholes-code", f"JZ-LAYOUT-{size['width']}-{n}")
        page.click("#record-save")
        queue_count(page, n + 1)
    each_tab_opens_at_its_top_uncovered()  # the queue's list drawn (long) ...
    each_tab_opens_at_its_top_uncovered()  # ... and shown again after the long form
    # (still offline: the queue is never sent) an inspection form opened further down the
    # list is brought into view
    page.click("#tab-nearby")
    last = page.locator("#nearby-list li").last
    last.locator("button.inspect").click()
    heading = last.locator("form.inspection-form h3")
    heading.wait_for()
    box, panels = heading.bounding_box(), page.locator("#panels").bounding_box()
    assert panels["y"] - 1 <= box["y"] and box["y"] + box["height"] <= panels["y"] + panels["height"] + 1
    # English on demand: the page says so, and the distance unit follows
    page.click("#lang")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert not page.evaluate(LAYOUT)["header"]  # Sign out, 中文: longer words, still one line
    page.click("#tab-nearby")
    page.locator("#nearby-list li").first.wait_for()
    assert page.locator("#nearby-list li .head span").nth(1).inner_text().endswith(" m")
    assert not page.errors, page.errors
    page.context.close()
