from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

NAV = [
    ("web:dashboard", "Dashboard"),
    ("releases:board", "Releases"),
    ("catalog:customer_list", "Customers"),
    ("catalog:instance_list", "Instances"),
    ("catalog:product_list", "Products"),
    ("policies:list", "Policies"),
    ("audit:event_list", "Audit"),
]


def _resolves(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def test_nav_link_skips_unknown_url_names() -> None:
    request = RequestFactory().get("/")
    out = Template(
        '{% load rd_nav %}{% nav_link "nope:missing" "Missing" %}|{% nav_link "web:dashboard" "Dashboard" %}'
    ).render(Context({"request": request}))
    assert out == '|<a href="/" class="nav-link is-current" aria-current="page">Dashboard</a>'


def test_nav_link_marks_the_section_of_the_current_path() -> None:
    request = RequestFactory().get("/admin/auth/")
    tpl = Template(
        '{% load rd_nav %}{% nav_link "admin:index" "Admin" %}{% nav_link "web:dashboard" "Dashboard" %}'
    )
    out = tpl.render(Context({"request": request}))
    assert '<a href="/admin/" class="nav-link is-current" aria-current="page">Admin</a>' in out
    # The dashboard ("/") is only current on exactly "/".
    assert '<a href="/" class="nav-link">Dashboard</a>' in out


@pytest.mark.django_db
def test_page_renders_every_existing_link_and_skips_missing_ones(staff_client: Client) -> None:
    response = staff_client.get(reverse("web:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    for name, label in NAV:
        url = _resolves(name)
        if url is None:
            assert f">{label}</a>" not in html, name
        else:
            assert f'href="{url}"' in html, name
            assert f">{label}</a>" in html, name
    # The superuser sees Admin; sign-out is a POST form with a CSRF token.
    assert f'href="{reverse("admin:index")}"' in html
    assert f'<form method="post" action="{reverse("web:logout")}"' in html
    assert "csrfmiddlewaretoken" in html
    # htmx is served locally (no CDN) and sends the CSRF token.
    assert "/static/web/htmx.min.js" in html
    assert "https://" not in html.split("<body")[0]
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


@pytest.mark.django_db
def test_admin_link_only_for_superusers(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)
    html = client.get(reverse("web:dashboard")).content.decode()
    assert f'href="{reverse("admin:index")}"' not in html
    assert "pm" in html


@pytest.mark.django_db
def test_signed_in_user_and_zone_shown(client: Client, vendor_admin: Any) -> None:
    vendor_admin.timezone = "Asia/Kolkata"
    vendor_admin.save()
    client.force_login(vendor_admin)
    html = client.get(reverse("web:dashboard")).content.decode()
    assert '<span class="user-name">admin</span>' in html
    assert '<span class="user-zone">Asia/Kolkata</span>' in html


def test_static_assets_are_vendored() -> None:
    from django.contrib.staticfiles import finders

    htmx = finders.find("web/htmx.min.js")
    css = finders.find("web/app.css")
    assert htmx
    assert css
    with open(htmx, encoding="utf-8") as fh:
        head = fh.read(300)
    assert "htmx 2.0.11" in head
    assert "Zero-Clause BSD" in head
