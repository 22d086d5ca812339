"""GraphiQL with the network cut off: every request to a host other than the app is aborted, and GraphiQL
still loads (its assets come from an installed package) and shows the schema in its documentation explorer."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, Route

from tests.browser.conftest import Demo, keep_screenshot


async def test_graphiql_renders_the_schema_explorer_offline(demo: Demo, browser: Browser, screenshots: Path) -> None:
    context = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="ru-RU")
    outside: list[str] = []

    async def only_localhost(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_localhost)
    page = await context.new_page()
    try:
        await page.goto(f"{demo.base}/graphql")
        await page.get_by_role("button", name="Show Documentation Explorer").click()
        explorer = page.locator(".graphiql-doc-explorer")
        await explorer.get_by_text("Root Types").wait_for()
        await explorer.get_by_role("link", name="Query", exact=True).click()
        await explorer.get_by_role("link", name="callsKpi", exact=True).wait_for()
        keep_screenshot(screenshots, "graphiql-offline-1920x1080", await page.screenshot())
    finally:
        await context.close()
    assert outside == []  # nothing even tried to leave the machine
