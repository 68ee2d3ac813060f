"""The API documentation page draws in the browser from the app's own files, under
its Content-Security-Policy (the browser fixture fails a test on any violation)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer


def test_the_api_docs_page_draws_offline_under_its_policy(browser, live_server: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("焦作")
    expect(page.locator(".opblock").first).to_be_visible()
    assert outside == []
    context.close()
