"""Smoke test of the browser harness: the login page loads and a staff user signs in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from playwright.sync_api import Page, expect


def test_login_page_loads(page: Page, live_server: Any) -> None:
    response = page.goto("/login/")
    assert response is not None
    assert response.status == 200
    expect(page.locator('input[name="username"]')).to_be_visible()
    expect(page.locator('input[name="password"]')).to_be_visible()


def test_vendor_admin_signs_in_and_reaches_dashboard(
    signed_in_page: Callable[..., Page], vendor_admin: Any, live_server: Any
) -> None:
    page = signed_in_page(vendor_admin)
    expect(page).to_have_url(live_server.url + reverse("web:dashboard"))
    assert any(c["name"] == "sessionid" for c in page.context.cookies())
