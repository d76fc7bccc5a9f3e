from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from releasedesk.catalog.models import Contact, Customer, Instance, Subscription

pytestmark = pytest.mark.django_db


def test_pages_require_staff(client: Any, customer_a: Any, outsider_client: Any) -> None:
    r = client.get(reverse("catalog:customer_list"))
    assert r.status_code == 302
    assert "/login/" in r["Location"]
    # A signed-in portal contact (the outsider) is not staff: staff pages are not theirs.
    for url in (
        reverse("catalog:customer_detail", args=[customer_a.pk]),
        reverse("catalog:customer_edit", args=[customer_a.pk]),
    ):
        r = outsider_client.get(url)
        assert r.status_code in (302, 404)
        assert b"School A" not in r.content


def test_non_staff_user_gets_404(client: Any, customer_a: Any) -> None:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(username="plain", password="pw-123456789")
    client.force_login(user)
    assert client.get(reverse("catalog:customer_detail", args=[customer_a.pk])).status_code == 404


def test_customer_list_search_and_htmx_partial(
    staff_client: Any, customer_a: Any, customer_b: Any, customer_c: Any
) -> None:
    r = staff_client.get(reverse("catalog:customer_list"), {"q": "school-b"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "School B" in html
    assert "School A" not in html
    assert "<html" in html
    r = staff_client.get(
        reverse("catalog:customer_list"), {"q": "c1@school-c"}, HTTP_HX_REQUEST="true"
    )
    html = r.content.decode()
    assert "School C" in html
    assert "School A" not in html
    assert "<html" not in html


def test_customer_list_paginates(staff_client: Any) -> None:
    for i in range(30):
        Customer.objects.create(slug=f"c-{i:02}", name=f"Cust {i:02}")
    html = staff_client.get(reverse("catalog:customer_list")).content.decode()
    assert "Page 1 of 2" in html
    html = staff_client.get(reverse("catalog:customer_list"), {"page": "2"}).content.decode()
    assert "Cust 29" in html
    assert staff_client.get(reverse("catalog:customer_list"), {"page": "x" * 50}).status_code == 200


def test_customer_detail_shows_times_with_zone(
    staff_client: Any, customer_a: Any, saas_eu: Any, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        r = staff_client.get(reverse("catalog:customer_detail", args=[customer_a.pk]))
    html = r.content.decode()
    assert "(Europe/Amsterdam)" in html
    assert "a1@school-a.test" in html
    assert "SaaS EU" in html


def test_customer_detail_unknown_is_404(staff_client: Any) -> None:
    assert staff_client.get(reverse("catalog:customer_detail", args=[999999])).status_code == 404


def test_reseller_detail_lists_children(staff_client: Any, reseller: Any) -> None:
    Customer.objects.create(slug="kid", name="Kid School", parent=reseller)
    html = staff_client.get(reverse("catalog:customer_detail", args=[reseller.pk])).content.decode()
    assert "Kid School" in html


def test_customer_create_and_edit(staff_client: Any, reseller: Any) -> None:
    data = {
        "slug": "new-co",
        "name": "New Co",
        "kind": "direct",
        "timezone": "Asia/Kolkata",
        "locale": "en",
        "parent": reseller.pk,
        "tags": "a, b",
        "contract_overrides": '{"notice_lead_hours": 24}',
    }
    r = staff_client.post(reverse("catalog:customer_create"), data)
    assert r.status_code == 302
    c = Customer.objects.get(slug="new-co")
    assert (c.timezone, c.parent, c.tags, c.contract_overrides["notice_lead_hours"]) == (
        "Asia/Kolkata",
        reseller,
        ["a", "b"],
        24,
    )
    r = staff_client.post(
        reverse("catalog:customer_edit", args=[c.pk]), {**data, "name": "Renamed"}
    )
    assert r.status_code == 302
    c.refresh_from_db()
    assert c.name == "Renamed"


def test_customer_edit_errors_per_field(staff_client: Any, customer_a: Any) -> None:
    data = {
        "slug": "school-a",
        "name": "School A2",
        "kind": "direct",
        "timezone": "Europe/Amsterdamm",
        "locale": "en",
        "contract_overrides": '{"bogus": true}',
    }
    r = staff_client.post(reverse("catalog:customer_edit", args=[customer_a.pk]), data)
    assert r.status_code == 422
    form = r.context["form"]
    assert "timezone" in form.errors
    assert "contract_overrides" in form.errors
    customer_a.refresh_from_db()
    assert customer_a.name == "School A"


def test_contact_add_edit_erase(staff_client: Any, customer_a: Any, a1: Any) -> None:
    r = staff_client.post(
        reverse("catalog:contact_add", args=[customer_a.pk]),
        {"name": "Nia", "email": "bad", "roles": ["admin"], "reachable": "on"},
    )
    assert r.status_code == 422
    assert "email" in r.context["form"].errors
    r = staff_client.post(
        reverse("catalog:contact_add", args=[customer_a.pk]),
        {
            "name": "Nia",
            "email": "nia@school-a.test",
            "roles": ["technical"],
            "reachable": "on",
            "timezone": "Europe/Paris",
        },
    )
    assert r.status_code == 302
    nia = Contact.objects.get(email="nia@school-a.test")
    assert nia.timezone == "Europe/Paris"
    r = staff_client.post(
        reverse("catalog:contact_edit", args=[nia.pk]),
        {"name": "Nia B", "email": "nia@school-a.test", "roles": ["admin"], "reachable": "on"},
    )
    assert r.status_code == 302
    nia.refresh_from_db()
    assert (nia.name, nia.roles) == ("Nia B", ["admin"])
    assert staff_client.get(reverse("catalog:contact_erase", args=[a1.pk])).status_code == 405
    r = staff_client.post(reverse("catalog:contact_erase", args=[a1.pk]))
    assert r.status_code == 302
    a1.refresh_from_db()
    assert a1.erased_at is not None
    assert staff_client.get(reverse("catalog:contact_edit", args=[a1.pk])).status_code == 404


def test_instance_pages(staff_client: Any, saas_eu: Any, customer_a: Any) -> None:
    html = staff_client.get(reverse("catalog:instance_list"), {"q": "saas"}).content.decode()
    assert "SaaS EU" in html
    html = staff_client.get(reverse("catalog:instance_detail", args=[saas_eu.pk])).content.decode()
    assert "(Europe/Amsterdam)" in html
    assert "School A" in html
    data = {
        "slug": "saas-eu",
        "name": "SaaS Europe",
        "kind": "shared",
        "product": saas_eu.product_id,
        "timezone": "Europe/Amsterdam",
        "ring": "1",
        "window_override": "",
        "executor": '{"kind": "manual", "instructions": "ssh"}',
    }
    r = staff_client.post(reverse("catalog:instance_edit", args=[saas_eu.pk]), data)
    assert r.status_code == 302, r.context["form"].errors if r.context else r
    saas_eu.refresh_from_db()
    assert saas_eu.name == "SaaS Europe"
    assert saas_eu.executor == {"kind": "manual", "instructions": "ssh"}
    r = staff_client.post(
        reverse("catalog:instance_edit", args=[saas_eu.pk]),
        {**data, "executor": '{"kind": "simulated", "failure_rate": 7}'},
    )
    assert r.status_code == 422
    assert "executor" in r.context["form"].errors


def test_subscription_add_remove(staff_client: Any, customer_c: Any, saas_eu: Any) -> None:
    r = staff_client.post(
        reverse("catalog:subscription_add", args=[customer_c.pk]), {"instance": saas_eu.pk}
    )
    assert r.status_code == 302
    sub = Subscription.objects.get(customer=customer_c)
    r = staff_client.post(reverse("catalog:subscription_delete", args=[sub.pk]))
    assert r.status_code == 302
    assert not Subscription.objects.filter(customer=customer_c).exists()


def test_product_list(staff_client: Any, presenter: Any) -> None:
    html = staff_client.get(reverse("catalog:product_list"), {"q": "pres"}).content.decode()
    assert "Presenter" in html
    assert Instance.objects.count() == 0
