from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.urls import reverse

from releasedesk.audit.services import record
from releasedesk.catalog.models import Contact, Instance
from releasedesk.core.context import Actor

pytestmark = pytest.mark.django_db

URL = "/"


def _count(html: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}">(\d+)<', html)
    assert match, testid
    return int(match.group(1))


def _kind_count(html: str, kind: str, section: str) -> int:
    block = html.split(f'id="{section}-h"', 1)[1].split("</section>", 1)[0]
    match = re.search(
        rf'data-kind="{kind}"><span>(?:<a [^>]+>)?[^<]+(?:</a>)?</span><span class="stat-value">(\d+)</span>',
        block,
    )
    assert match, kind
    return int(match.group(1))


def test_url_name() -> None:
    assert reverse("web:dashboard") == URL


def test_anonymous_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('web:login')}?next=/"


def test_non_staff_user_is_refused(client: Client, roles: Any) -> None:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(
        username="plain", password="correct-horse-battery", is_staff=False
    )
    client.force_login(user)
    assert client.get(URL).status_code == 403


def test_outsider_contact_portal_session_does_not_reach_staff_pages(
    outsider_portal_client: Client, customer_a: Any
) -> None:
    # A customer contact is not a staff user: the staff dashboard never opens for them.
    response = outsider_portal_client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))
    assert b"School A" not in response.content


def test_numbers(
    staff_client: Client, customer_a: Any, customer_b: Any, customer_c: Any, vendor_admin: Any
) -> None:
    Instance.objects.create(
        slug="stg", name="Staging", kind="staging", product=customer_a.subscriptions.get().product
    )
    bea = Contact.objects.get(email="b1@school-b.test")
    bea.reachable = False
    bea.unreachable_reason = "550 mailbox unavailable"
    bea.save()
    with transaction.atomic():
        record(
            actor=Actor(kind="staff", id=vendor_admin.pk),
            action="catalog.customer.update",
            obj=customer_a,
            after={"name": "School A"},
        )

    response = staff_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert _count(html, "customers-total") == 3
    assert _kind_count(html, "direct", "customers") == 3
    assert _kind_count(html, "oem_partner", "customers") == 0
    assert _kind_count(html, "reseller", "customers") == 0
    assert _kind_count(html, "hosted", "customers") == 0
    assert _count(html, "instances-total") == 2
    assert _kind_count(html, "shared", "instances") == 1
    assert _kind_count(html, "staging", "instances") == 1
    assert _kind_count(html, "dedicated", "instances") == 0
    assert _count(html, "unreachable-count") == 1
    # Each kind links to the list filtered by it.
    assert f'<a href="{reverse("catalog:customer_list")}?kind=hosted">Hosted customer</a>' in html
    assert f'<a href="{reverse("catalog:instance_list")}?kind=staging">Staging</a>' in html
    assert "Bea Admin" in html
    assert "School B" in html
    assert "catalog.customer.update" in html
    assert f"catalog.customer:{customer_a.pk}" in html


def test_erased_contacts_are_not_counted_as_unreachable(
    staff_client: Client, customer_a: Any
) -> None:
    Contact.objects.filter(customer=customer_a).update(
        reachable=False, erased_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    )
    assert _count(staff_client.get(URL).content.decode(), "unreachable-count") == 0


def test_now_in_utc_and_the_users_zone(client: Client, vendor_admin: Any) -> None:
    vendor_admin.timezone = "Europe/Amsterdam"
    vendor_admin.save()
    with time_machine.travel(dt.datetime(2027, 4, 1, 14, 0, tzinfo=dt.UTC), tick=False):
        client.force_login(vendor_admin)
        html = client.get(URL).content.decode()
    assert 'data-testid="now-local">2027-04-01 16:00 CEST (Europe/Amsterdam)<' in html
    assert 'data-testid="now-utc">2027-04-01 14:00 UTC<' in html


def test_query_count_does_not_grow_with_the_catalogue(
    staff_client: Client, customer_a: Any, django_assert_max_num_queries: Any
) -> None:
    from releasedesk.catalog.models import Customer

    for n in range(30):
        c = Customer.objects.create(slug=f"extra-{n}", name=f"Extra {n}", timezone="Europe/London")
        Contact.objects.create(customer=c, name=f"X {n}", email=f"x{n}@extra.test", reachable=False)
    with django_assert_max_num_queries(12):
        assert staff_client.get(URL).status_code == 200
