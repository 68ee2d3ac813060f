"""The asset file's "next step" action: an officer takes a road void from 排查发现 to
已销号 with its evidence (responsible unit, remediation record, a photo), a second
officer verifies and closes it, and it is reopened with a reason — in the browser,
under the app's real Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from PIL import Image

from registry.permissions import Role
from tests.authkit import PASSWORDS, _password_hash
from tests.browser.conftest import LiveServer, open_page


def _second_officer(live: LiveServer) -> tuple[str, str]:
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('officer2', %s, 'officer') "
            "ON CONFLICT DO NOTHING",
            (_password_hash(Role.OFFICER),),
        )
    return "officer2", PASSWORDS[Role.OFFICER]


def _status(live: LiveServer, void: str) -> str:
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        row = conn.execute("SELECT status FROM road_voids WHERE id = %s", (void,)).fetchone()
    assert row is not None
    return str(row[0])


def test_an_officer_walks_a_void_to_closed_with_evidence_and_it_is_reopened(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    void = live_server.asset_id("road_voids", "KD-TEST-0002")
    assert live_server.settings.database_url
    with psycopg.connect(live_server.settings.database_url) as conn:  # as surveyed: nothing assigned yet
        conn.execute(
            "UPDATE road_voids SET responsible_unit = NULL, remediation_method = NULL, "
            "remediation_contractor = NULL WHERE id = %s",
            (void,),
        )
    mp = open_page(browser, live_server, f"/#asset=road_voids/{void}", role=Role.OFFICER)
    page = mp.page
    page.wait_for_selector("#next-step[data-step='assigned']")
    assert "确权" in page.locator("#next-step h4").inner_text()
    assert "责任单位" in page.locator("#next-step .requires").inner_text()
    # the edit form no longer offers the status: steps move it
    page.click("#file-edit")
    assert page.locator("#edit-form [name='status']").count() == 0
    page.click("#edit-form button[type='button']")

    page.wait_for_selector("#step-form")
    page.click("#step-submit")
    page.wait_for_selector("#step-problems:has-text('责任单位')")
    page.fill("#step-responsible_unit", "焦作市排水管理处")
    page.fill("#step-comment", "权属已核实")
    page.click("#step-submit")
    page.wait_for_selector("#next-step[data-step='remediating']")
    page.click("#step-submit")
    page.wait_for_selector("#next-step[data-step='remediated']")
    assert "照片" in page.locator("#next-step .requires").inner_text()

    # the remediation record needs a photo: refused in words, then taken with one
    page.click("#step-submit")
    page.wait_for_selector("#step-problems:has-text('照片')")
    photo = tmp_path / "注浆后.png"
    Image.new("RGB", (64, 48), "gray").save(photo)
    page.select_option("#step-remediation_method", "grouting")
    page.fill("#step-remediation_contractor", "焦作市市政工程有限公司")
    page.set_input_files("#step-photos", str(photo))
    page.fill("#step-comment", "注浆加固完成")
    page.click("#step-submit")
    page.wait_for_selector("#next-step[data-step='closed']")
    # the officer who recorded the remediation does not verify it
    assert page.locator("#step-form").count() == 0
    assert "officer" in page.locator("#next-step-why").inner_text()
    page.wait_for_selector("#file-photos img")
    page.context.close()

    # a second officer verifies and closes it
    name, password = _second_officer(live_server)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    login = {"username": name, "password": password}
    assert context.request.post(live_server.url + "/auth/login", data=login).ok
    page = context.new_page()
    page.goto(f"{live_server.url}/#asset=road_voids/{void}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#next-step[data-step='closed']")
    page.fill("#step-comment", "现场复核合格，同意销号")
    page.click("#step-submit")
    page.wait_for_selector("#workflow-done")
    assert _status(live_server, void) == "closed"
    assert page.locator("#workflow-steps li.done").count() == 5
    events = page.locator("#workflow-events > li")
    assert events.count() == 4
    newest = events.first.inner_text()
    assert "officer2" in newest and "已销号" in newest and "同意销号" in newest
    assert "照片 1 张" in page.locator("#workflow-events > li[data-kind='step']").nth(1).inner_text()

    # reopened with a reason, back to 整治中
    page.click("#reopen-open")
    page.select_option("#reopen-to", "remediating")
    page.click("#reopen-submit")  # the reason is required: the browser refuses the empty form
    assert _status(live_server, void) == "closed"
    page.fill("#reopen-reason", "复查发现仍有脱空")
    page.click("#reopen-submit")
    page.wait_for_selector("#next-step[data-step='remediated']")
    assert _status(live_server, void) == "remediating"
    reopened = page.locator("#workflow-events > li").first
    assert reopened.get_attribute("data-kind") == "reopen"
    assert "复查发现仍有脱空" in reopened.inner_text()
    context.close()
