"""Browser tests: Debian chromium driven by playwright against Django's live server.

Every test in this folder is marked `browser` automatically. The main pytest runs
(`-m "not browser"`) skip them; `bin/test` runs them in their own stage without xdist.
Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`.

Use `live_server.url` (or relative URLs: the browser context's base URL is the live
server) and the `signed_in_page` factory:

    def test_x(signed_in_page, vendor_admin):
        page = signed_in_page(vendor_admin)
        page.goto("/catalog/customers/")
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

# DJANGO_ALLOW_ASYNC_UNSAFE is set in tests/conftest.py: playwright's sync API runs an
# event loop in the test thread, and Django would otherwise refuse ORM calls there.

CHROMIUM = os.environ.get("RELEASEDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
PERSONA_PASSWORD = "correct-horse-battery"
_HERE = Path(__file__).resolve().parent
_LOGIN_URL = re.compile(r"/login/(\?.*)?$")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) "
            "or set RELEASEDESK_CHROMIUM; never `playwright install`."
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], live_server: Any) -> dict[str, Any]:
    # Relative URLs in page.goto() resolve against the live server.
    return {**browser_context_args, "base_url": live_server.url, "locale": "en-GB"}


@pytest.fixture(autouse=True)
def _browser_db(transactional_db: None, live_server: Any) -> None:
    """The live server thread sees only committed data: browser tests are transactional."""


@pytest.fixture
def signed_in_page(page: Page) -> Callable[..., Page]:
    """Factory: `signed_in_page(user)` signs `user` in through the real login form at
    /login/ and returns the playwright page, left on the page the login redirected to."""

    def _sign_in(user: Any, password: str = PERSONA_PASSWORD) -> Page:
        page.goto("/login/")
        page.locator('input[name="username"]').fill(user.username)
        page.locator('input[name="password"]').fill(password)
        with page.expect_navigation():
            page.locator('input[name="password"]').press("Enter")
        expect(page).not_to_have_url(_LOGIN_URL)
        return page

    return _sign_in
