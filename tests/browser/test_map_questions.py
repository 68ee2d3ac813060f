"""The everyday questions on the map's filter panel, generated from the chosen layer's
declaration (its flags; 逾期 and a deadline range when its workflow has deadlines;
inspected since for every layer), on the demo data: each lists exactly what
``/api/search`` answers to the same question."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from registry.permissions import Role
from tests.browser.conftest import LiveServer, open_page

pytestmark = pytest.mark.browser


def _answer(live: LiveServer, **params: str) -> list[str]:
    """The codes /api/search gives for the question (every page: at most 500)."""
    res = httpx.get(
        f"{live.url}/api/search", params={"limit": "500", **params}, headers=live.headers(Role.VIEWER)
    )
    res.raise_for_status()
    data = res.json()
    assert data["numberMatched"] == len(data["features"])
    return sorted(f["properties"]["code"] for f in data["features"])


def _listed(page: Any, n: int) -> list[str]:
    expect(page.locator("#results-count")).to_have_text(f"共 {n} 条")
    expect(page.locator("#result-list li")).to_have_count(n)
    return sorted(page.locator("#result-list li .code").all_inner_texts())


def test_choosing_overdue_on_road_voids_lists_exactly_the_overdue_ones(
    browser: Any, demo_server: LiveServer
) -> None:
    overdue = _answer(demo_server, layers="road_voids", overdue="true")
    everything = _answer(demo_server, layers="road_voids", status="found,assigned,remediating,remediated")
    # the demo is dated relative to today: a handful overdue, most open voids on time
    assert 0 < len(overdue) < len(everything) / 2
    mp = open_page(browser, demo_server)
    page = mp.page
    page.select_option("#filter-layer", "road_voids")
    # generated from the declaration: the workflow's 逾期 and deadline range, no water flag
    expect(page.locator("#filter-overdue")).to_be_visible()
    expect(page.locator("#filter-deadline_from")).to_be_visible()
    expect(page.locator("#filter-inspected_since")).to_be_visible()
    assert page.locator("#filter-water_failing").count() == 0
    page.locator("label", has_text="逾期").locator("#filter-overdue").check()
    assert _listed(page, len(overdue)) == overdue
    assert "f_overdue=true" in page.url
    # a deadline range narrows it: the overdue ones whose deadline was before today
    page.fill("#filter-deadline_to", "2000-01-01")
    expect(page.locator("#results-count")).to_have_text("没有找到资产")
    page.fill("#filter-deadline_to", "")
    assert _listed(page, len(overdue)) == overdue
    # the question cleared, its list goes with it
    page.locator("#filter-overdue").uncheck()
    expect(page.locator("#result-list li")).to_have_count(0)
    assert mp.errors == []
    page.context.close()


def test_water_sites_offer_their_declared_flags(browser: Any, demo_server: LiveServer) -> None:
    failing = _answer(demo_server, layers="water_supply", water_failing="true")
    assert failing
    mp = open_page(browser, demo_server)
    page = mp.page
    page.select_option("#filter-layer", "water_supply")
    expect(page.locator("#filters")).to_contain_text("最近检测不合格")
    expect(page.locator("#filters")).to_contain_text("水质检测逾期")
    assert page.locator("#filter-overdue").count() == 0  # no workflow deadlines on this layer
    page.locator("#filter-water_failing").check()
    assert _listed(page, len(failing)) == failing
    # the link keeps the question: opened afresh, the page asks it again
    again = open_page(browser, demo_server, "/" + page.url.split("/", 3)[3])
    expect(again.page.locator("#filter-water_failing")).to_be_checked()
    assert _listed(again.page, len(failing)) == failing
    assert mp.errors == [] and again.errors == []
    again.page.context.close()
    page.context.close()
