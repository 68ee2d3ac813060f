"""Signing in on the map: the form (Chinese first, English on demand, keyboard only),
the user box, controls shown by role, a 403 shown readably, public-read browsing,
and exporting exactly the listed search results."""

from __future__ import annotations

import csv
import io

import psycopg
import pytest

from registry.permissions import Role
from tests.browser.conftest import (
    M_LAT,
    M_LON,
    LiveServer,
    app_settings,
    fly,
    in_module,
    open_page,
    screen_xy,
)
from tests.factories import CENTRE

pytestmark = pytest.mark.browser


def test_sign_in_form_with_the_keyboard_then_user_and_role_are_shown(
    browser, live_server: LiveServer
) -> None:
    mp = open_page(browser, live_server, role=None, wait=False)
    page = mp.page
    page.wait_for_selector("#login-dialog")
    assert page.locator("#login-title").inner_text().startswith("登录")
    assert page.evaluate("document.activeElement.id") == "login-user"  # focus starts in the form
    page.click("#login-lang")
    assert page.locator("#login-submit").inner_text() == "Sign in"
    page.click("#login-lang")
    assert page.locator("#login-submit").inner_text() == "登录"
    account = live_server.accounts[Role.VIEWER]
    page.focus("#login-user")
    page.keyboard.type(account.username)
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    page.wait_for_selector("#login-msg:has-text('不正确')")
    page.keyboard.type(account.password)  # focus went back to the password
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#login-dialog").count() == 0
    assert page.locator("#user-name").inner_text() == "viewer"
    assert page.locator("#user-role").inner_text() == "只读用户"
    assert page.locator(".district-label").count() == 10  # data loads once signed in
    # a viewer sees no drawing or upload controls
    assert not page.locator("#draw-parking").is_visible()
    assert not page.locator("header a[href='/upload']").is_visible()
    mp.shot("login-viewer")
    page.click("#logout-btn")
    page.wait_for_selector("#login-dialog")
    assert page.context.request.get(live_server.url + "/auth/me").status == 401
    assert not mp.errors
    page.context.close()


def test_public_read_browses_anonymously_with_a_sign_in_button(browser, live_server: LiveServer) -> None:
    with app_settings(live_server, public_read=True):
        mp = open_page(browser, live_server, role=None)
        page = mp.page
        assert page.locator("#login-dialog").count() == 0
        assert page.locator("#login-btn").inner_text() == "登录 sign in"
        assert page.locator(".district-label").count() == 10
        assert not page.locator("#draw-parking").is_visible()
        page.click("#login-btn")
        account = live_server.accounts[Role.PLANNER]
        page.fill("#login-user", account.username)
        page.fill("#login-pass", account.password)
        page.press("#login-pass", "Enter")
        page.wait_for_selector("#user-role")
        assert page.locator("#user-role").inner_text() == "规划人员"
        assert page.locator("#draw-parking").is_visible()  # planners draw parking
        page.context.close()


def test_officer_edits_only_the_lifecycle_and_a_refusal_is_shown_readably(
    browser, live_server: LiveServer
) -> None:
    void = live_server.asset_id("road_voids", "KD-TEST-0005")
    mp = open_page(browser, live_server, f"/#asset=road_voids/{void}", role=Role.OFFICER)
    page = mp.page
    page.wait_for_selector("#file-edit")
    assert page.locator("#file-move").count() == 0  # officers do not move hazards
    page.click("#file-edit")
    fields = page.eval_on_selector_all("#edit-form [name]", "els => els.map(e => e.name)")
    # lifecycle fields only; the status itself moves by the workflow's next-step action
    assert "remediation_deadline" in fields and "road_name" not in fields and "status" not in fields
    # meanwhile an admin makes the officer a viewer: the page still shows the form,
    # the server refuses, and the page says so in words
    assert live_server.settings.database_url
    with psycopg.connect(live_server.settings.database_url) as conn:
        conn.execute("UPDATE users SET role = 'viewer' WHERE username = 'officer'")
    try:
        page.fill("#edit-form [name='notes']", "复核")
        page.click("#edit-form button[type='submit']")
        page.wait_for_selector("#edit-form .problems:has-text('没有权限')")
        # the role, layer and field by their Chinese names (not "role viewer may not …")
        assert "只读用户无权修改“道路脱空隐患”的备注" in page.locator("#edit-form .problems").inner_text()
    finally:
        with psycopg.connect(live_server.settings.database_url) as conn:
            conn.execute("UPDATE users SET role = 'officer' WHERE username = 'officer'")
    page.context.close()


# exports carry Chinese headers by default (importers/export.py); the asset id column
ID_HEADER = "系统编号"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_downloads_exactly_the_listed_results(browser, live_server: LiveServer, fmt: str) -> None:
    mp = open_page(browser, live_server, role=Role.VIEWER)
    page = mp.page
    # bare map between the rows of seeded assets (a click on an asset opens its file)
    x, y = CENTRE[0] + 20 * M_LON, CENTRE[1] + 22 * M_LAT
    fly(mp, x, y, 18)
    page.fill("#radius", "50")
    page.mouse.click(*screen_xy(mp, x, y))
    page.wait_for_selector("#result-list li")
    listed = page.eval_on_selector_all("#result-list li", "els => els.map(e => e.dataset.id)")
    layers = set(in_module(page, "state.js", "({App}) => App.results.map(f => f.properties.layer)"))
    assert len(listed) >= 3 and len(layers) >= 2
    with page.expect_download() as info:
        page.select_option("#export-format", fmt)
    path = info.value.path()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        got = [r[ID_HEADER] for r in rows]
    else:
        import openpyxl

        got = []
        for sheet in openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True).worksheets:
            rows = list(sheet.values)
            got += [r[rows[0].index(ID_HEADER)] for r in rows[1:]]
    assert sorted(got) == sorted(listed)
    page.context.close()
