from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.models import Contact, Customer, Subscription

pytestmark = pytest.mark.django_db

BASE = "/api/v1/catalog"


def test_list_requires_auth(client: Any, customer_a: Any) -> None:
    assert client.get(f"{BASE}/customers").status_code == 401


def test_customer_crud_with_write_token(
    client: Any, write_headers: dict[str, str], reseller: Any
) -> None:
    r = client.post(
        f"{BASE}/customers",
        {
            "slug": "acme",
            "name": "Acme",
            "kind": "direct",
            "timezone": "Australia/Sydney",
            "parent_id": reseller.pk,
        },
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["timezone"] == "Australia/Sydney"
    assert body["parent_id"] == reseller.pk
    r = client.patch(
        f"{BASE}/customers/{body['id']}",
        {"locale": "de"},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 200
    assert r.json()["locale"] == "de"
    r = client.get(f"{BASE}/customers/{body['id']}", headers=write_headers)
    assert r.json()["slug"] == "acme"
    r = client.get(f"{BASE}/customers", {"q": "acm"}, headers=write_headers)
    assert [c["slug"] for c in r.json()["items"]] == ["acme"]
    assert AuditEvent.objects.filter(action__startswith="catalog.customer.").count() == 2


def test_bad_body_is_422_envelope_and_changes_nothing(
    client: Any, write_headers: dict[str, str], customer_a: Any
) -> None:
    r = client.patch(
        f"{BASE}/customers/{customer_a.pk}",
        {"timezone": "Europe/Amsterdamm", "locale": "xx", "parent_id": 999999},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    assert "parent_id" in r.json()["error"]["fields"]
    r = client.patch(
        f"{BASE}/customers/{customer_a.pk}",
        {"timezone": "Europe/Amsterdamm", "locale": "xx", "contract_overrides": {"nope": 1}},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"timezone", "locale", "contract_overrides.nope"}
    customer_a.refresh_from_db()
    assert customer_a.timezone == "Europe/Amsterdam"
    r = client.post(
        f"{BASE}/customers", "{not json", content_type="application/json", headers=write_headers
    )
    assert 400 <= r.status_code < 500
    r = client.patch(
        f"{BASE}/customers/{customer_a.pk}",
        {"name": "x" * 5000},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422


def test_read_token_refused_on_write(
    client: Any, read_headers: dict[str, str], customer_a: Any
) -> None:
    r = client.patch(
        f"{BASE}/customers/{customer_a.pk}",
        {"name": "Hacked"},
        content_type="application/json",
        headers=read_headers,
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"
    r = client.post(
        f"{BASE}/products",
        {"slug": "p", "name": "P"},
        content_type="application/json",
        headers=read_headers,
    )
    assert r.status_code == 403
    customer_a.refresh_from_db()
    assert customer_a.name == "School A"


def test_contact_erase_and_subscription_delete(
    client: Any, write_headers: dict[str, str], customer_a: Any, a1: Any
) -> None:
    r = client.post(f"{BASE}/contacts/{a1.pk}/erase", headers=write_headers)
    assert r.status_code == 200
    assert r.json()["email"] == f"erased-{a1.pk}@invalid"
    assert r.json()["erased_at"] is not None
    r = client.post(f"{BASE}/contacts/{a1.pk}/erase", headers=write_headers)
    assert r.status_code == 409
    sub = Subscription.objects.get(customer=customer_a)
    r = client.delete(f"{BASE}/subscriptions/{sub.pk}", headers=write_headers)
    assert r.status_code == 204
    assert not Subscription.objects.filter(pk=sub.pk).exists()


def test_contact_and_instance_and_subscription_create(
    client: Any, write_headers: dict[str, str], customer_c: Any, presenter: Any
) -> None:
    r = client.post(
        f"{BASE}/contacts",
        {"customer_id": customer_c.pk, "name": "New", "email": "bad-address", "roles": ["admin"]},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"email"}
    r = client.post(
        f"{BASE}/contacts",
        {
            "customer_id": customer_c.pk,
            "name": "New",
            "email": "new@school-c.test",
            "roles": ["technical"],
        },
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 201
    r = client.post(
        f"{BASE}/instances",
        {
            "slug": "c-ded",
            "name": "C dedicated",
            "kind": "dedicated",
            "product_id": presenter.pk,
            "owner_id": customer_c.pk,
            "executor": {"kind": "manual", "instructions": "Call ops"},
        },
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 201, r.content
    inst = r.json()
    r = client.post(
        f"{BASE}/subscriptions",
        {"customer_id": customer_c.pk, "product_id": presenter.pk, "instance_id": inst["id"]},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 201
    r = client.get(f"{BASE}/subscriptions", {"customer_id": customer_c.pk}, headers=write_headers)
    assert r.json()["count"] == 1


def test_outsider_contact_gets_404(
    outsider_client: Any, outsider_contact: Any, customer_a: Any, a1: Any, saas_eu: Any
) -> None:
    sub = Subscription.objects.get(customer=customer_a)
    for url in (
        f"{BASE}/customers/{customer_a.pk}",
        f"{BASE}/contacts/{a1.pk}",
        f"{BASE}/instances/{saas_eu.pk}",
        f"{BASE}/products/{saas_eu.product_id}",
        f"{BASE}/subscriptions/{sub.pk}",
    ):
        r = outsider_client.get(url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "not_found"
    assert (
        AuditEvent.objects.filter(
            action="security.access_denied", actor_id=outsider_contact.pk
        ).count()
        == 5
    )
    r = outsider_client.get(f"{BASE}/customers")
    assert [c["id"] for c in r.json()["items"]] == [outsider_contact.customer_id]
    assert outsider_client.get(f"{BASE}/contacts").json()["count"] == 1
    assert outsider_client.get(f"{BASE}/instances").json()["count"] == 0
    # Writes: another organisation's objects stay invisible; their own are read-only.
    csrf = {"HTTP_X_CSRFTOKEN": "x"}
    r = outsider_client.patch(
        f"{BASE}/customers/{customer_a.pk}", {"name": "X"}, content_type="application/json", **csrf
    )
    assert r.status_code in (403, 404)
    r = outsider_client.post(f"{BASE}/contacts/{a1.pk}/erase", **csrf)
    assert r.status_code in (403, 404)
    a1.refresh_from_db()
    assert a1.erased_at is None


def test_outsider_write_to_foreign_object_is_404(
    client: Any, outsider_contact: Any, customer_a: Any, a1: Any
) -> None:
    from releasedesk.portal.auth import SESSION_KEY

    csrf_client = type(client)(enforce_csrf_checks=False)
    session = csrf_client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    r = csrf_client.patch(
        f"{BASE}/customers/{customer_a.pk}", {"name": "X"}, content_type="application/json"
    )
    assert r.status_code == 404
    r = csrf_client.patch(
        f"{BASE}/customers/{outsider_contact.customer_id}",
        {"name": "X"},
        content_type="application/json",
    )
    assert r.status_code == 403
    assert Customer.objects.get(pk=customer_a.pk).name == "School A"


@pytest.mark.parametrize(
    "path", ["customers", "contacts", "instances", "subscriptions", "products"]
)
def test_list_query_count_does_not_grow(
    client: Any, write_headers: dict[str, str], path: str, presenter: Any, saas_eu: Any
) -> None:
    def make(n: int, start: int) -> None:
        for i in range(start, start + n):
            c = Customer.objects.create(slug=f"cust-{i}", name=f"Cust {i}", kind="reseller")
            Contact.objects.create(customer=c, name=f"P {i}", email=f"p{i}@x.test", roles=["admin"])
            Subscription.objects.create(customer=c, product=presenter, instance=saas_eu)
            saas_eu.__class__.objects.create(
                slug=f"inst-{i}", name=f"I {i}", kind="dedicated", product=presenter, owner=c
            )
            presenter.__class__.objects.create(slug=f"prod-{i}", name=f"Prod {i}")

    make(2, 0)
    client.get(f"{BASE}/{path}", headers=write_headers)  # the token's first use writes last_used_at
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{BASE}/{path}", headers=write_headers).status_code == 200
    make(20, 2)
    with CaptureQueriesContext(connection) as many:
        r = client.get(f"{BASE}/{path}", headers=write_headers)
    assert r.status_code == 200
    assert r.json()["count"] >= 20
    assert len(many) == len(few)


def test_list_query_ceiling(
    client: Any,
    write_headers: dict[str, str],
    customer_a: Any,
    customer_b: Any,
    django_assert_max_num_queries: Any,
) -> None:
    client.get(f"{BASE}/customers", headers=write_headers)  # warm up the token's last_used_at
    with django_assert_max_num_queries(4):
        assert client.get(f"{BASE}/customers", headers=write_headers).status_code == 200


def test_nul_characters_and_nan_are_422(
    client: Any, write_headers: dict[str, str], customer_a: Any, saas_eu: Any
) -> None:
    r = client.patch(
        f"{BASE}/customers/{customer_a.pk}",
        {"name": "A\x00B"},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"name": "must not contain NUL characters"}
    r = client.patch(
        f"{BASE}/customers/{customer_a.pk}",
        {"contract_overrides": {"notes": "x\x00"}},
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422
    r = client.patch(
        f"{BASE}/instances/{saas_eu.pk}",
        '{"executor": {"kind": "simulated", "failure_rate": NaN}}',
        content_type="application/json",
        headers=write_headers,
    )
    assert r.status_code == 422
    assert (
        client.get(
            f"{BASE}/customers", {"q": "a\x00", "kind": "\x00"}, headers=write_headers
        ).status_code
        == 200
    )
