"""An officer records an inspection in the asset's file: the form offers what the layer
declares (a manhole's 井盖状况; raising a road void at its location), and the change and
the raised hazard show in the file, its history and the hazard's own file."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from registry.permissions import Role
from tests.browser.conftest import LiveServer, open_page
from tests.browser.test_map_file import PNG

pytestmark = pytest.mark.browser


def test_an_inspection_sets_the_condition_and_raises_a_void(browser: Any, live_server: LiveServer) -> None:
    manhole = live_server.asset_id("manholes", "JG-TEST-0003")
    mp = open_page(browser, live_server, f"/#asset=manholes/{manhole}", role=Role.OFFICER)
    page = mp.page
    page.wait_for_selector("#file:not([hidden]) table.attrs")
    expect(page.locator("#inspections-none")).to_be_visible()
    page.click("#inspect-open")
    # generated from the declarations: the manhole's condition, a road void to raise
    expect(page.locator("#inspect-set-condition option")).to_have_count(6)  # 不变 + five
    page.select_option("#inspect-result", "problem")
    page.select_option("#inspect-set-condition", "sunken")
    page.check("#inspect-raise-road_voids")
    expect(page.locator("#inspect-result")).to_have_value("hazard")
    page.select_option("#inspect-raise-road_voids-risk_grade", "II")
    page.fill("#inspect-notes", "井盖沉陷，井周路面下沉")
    page.set_input_files(
        "#inspect-photos", files=[{"name": "site.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.click("#inspect-submit")
    # the file opens again with the manhole changed and the inspection listed
    expect(page.locator("td[data-attr='condition']")).to_have_text("沉陷")
    item = page.locator("#inspection-list li").first
    expect(item).to_contain_text("发现隐患")
    expect(item.locator(".inspection-changes")).to_have_text("巡查变更：井盖状况：沉陷")
    listed = httpx.get(
        f"{live_server.url}/api/assets/manholes/{manhole}/inspections",
        headers=live_server.headers(Role.VIEWER),
    ).json()["inspections"]
    (inspection,) = listed
    assert inspection["changes"] == {"condition": "sunken"} and len(inspection["photos"]) == 1
    # the history names the inspection as the reason of the change
    change = page.locator(
        "#file-history li[data-action='update']", has=page.locator("li[data-field='condition']")
    )
    expect(change).to_contain_text(inspection["id"])
    # the raised hazard is a road void of its own, 排查发现, with its own file
    item.locator("a.inspection-raised").click()
    expect(page.locator("#file-title")).to_contain_text("道路脱空隐患 KD-")
    expect(page.locator("td[data-attr='status']")).to_have_text("排查发现")
    expect(page.locator("td[data-attr='risk_grade']")).to_contain_text("Ⅱ级")
    assert inspection["raised"]["id"] in page.url
    assert mp.errors == []
    page.context.close()
