"""A staff member signs in and edits a customer through the UI (issue 2, item 9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from playwright.sync_api import Page, expect

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.models import Customer


def _customer_form(page: Page) -> Any:
    # The page also has the sign-out form in the navigation: pick the customer form.
    return page.locator("main form").filter(has=page.locator('input[name="name"]'))


def test_edit_customer_name_and_zone(
    signed_in_page: Callable[..., Page], vendor_admin: Any, customer_a: Customer, live_server: Any
) -> None:
    page = signed_in_page(vendor_admin)
    page.goto(reverse("catalog:customer_edit", args=[customer_a.pk]))
    form = _customer_form(page)
    expect(form.locator('input[name="name"]')).to_have_value("School A")
    expect(form.locator('input[name="timezone"]')).to_have_value("Europe/Amsterdam")

    form.locator('input[name="name"]').fill("School A Kolkata campus")
    form.locator('input[name="timezone"]').fill("Asia/Kolkata")
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()

    expect(page).to_have_url(
        live_server.url + reverse("catalog:customer_detail", args=[customer_a.pk])
    )
    main = page.locator("main")
    expect(main).to_contain_text("School A Kolkata campus")
    expect(main).to_contain_text("Asia/Kolkata")
    # Times on the page are shown in the customer's new zone (IST) with its name.
    expect(main).to_contain_text("IST (Asia/Kolkata)")

    customer_a.refresh_from_db()
    assert customer_a.name == "School A Kolkata campus"
    assert customer_a.timezone == "Asia/Kolkata"
    event = AuditEvent.objects.filter(
        action="catalog.customer.update", object_id=str(customer_a.pk)
    ).get()
    assert event.actor_kind == "staff"
    assert event.actor_id == vendor_admin.pk


def test_unknown_zone_is_refused_and_changes_nothing(
    signed_in_page: Callable[..., Page], vendor_admin: Any, customer_a: Customer
) -> None:
    page = signed_in_page(vendor_admin)
    page.goto(reverse("catalog:customer_edit", args=[customer_a.pk]))
    form = _customer_form(page)
    form.locator('input[name="name"]').fill("Renamed")
    form.locator('input[name="timezone"]').fill("Mars/Olympus_Mons")
    form.locator('button[type="submit"]').click()

    expect(page.locator("main")).to_contain_text("is not an IANA time zone")
    customer_a.refresh_from_db()
    assert customer_a.name == "School A"
    assert customer_a.timezone == "Europe/Amsterdam"
    assert not AuditEvent.objects.filter(action="catalog.customer.update").exists()


def test_phone_menu_reaches_the_customers(
    signed_in_page: Callable[..., Page], vendor_admin: Any, customer_a: Customer, live_server: Any
) -> None:
    page = signed_in_page(vendor_admin)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("web:dashboard"))
    customers_link = page.locator("#site-nav").get_by_role("link", name="Customers")
    expect(customers_link).to_be_hidden()  # collapsed behind the Menu button
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    customers_link.click()
    expect(page).to_have_url(live_server.url + reverse("catalog:customer_list"))
    expect(page.locator("main")).to_contain_text("School A")
    # Nothing on the page is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
