"""Staff outbox page and API: filter by state, preview, retry (audited); outsiders get 404."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.models import Contact
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.portal.auth import SESSION_KEY
from tests.outbox.helpers import enqueue_notice

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 26, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def two_messages(customer_a: Any) -> tuple[Message, Message]:
    a1 = customer_a.contacts.get(email="a1@school-a.test")
    a2 = customer_a.contacts.get(email="a2@school-a.test")
    ok, bad = enqueue_notice(a1), enqueue_notice(a2)
    Message.objects.filter(pk=bad.pk).update(
        state=WorkState.FAILED, attempts=8, last_error="421 try later"
    )
    bad.refresh_from_db()
    return ok, bad


def _token(user: Any, scope: str = "write") -> dict[str, str]:
    raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
    ApiToken.objects.create(
        user=user, name="t", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
    )
    return {"Authorization": f"Bearer {raw}"}


def _portal(contact: Any) -> Client:
    client = Client()
    session = client.session
    session[SESSION_KEY] = contact.pk
    session.save()
    return client


# --- pages ----------------------------------------------------------------------------------


def test_list_filters_by_state(staff_client: Client, two_messages: tuple[Message, Message]) -> None:
    ok, bad = two_messages
    page = staff_client.get("/outbox/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'id="message-{ok.pk}"' in body
    assert f'id="message-{bad.pk}"' in body
    assert "2027-03-25 13:00 UTC" in body  # due, UTC, and local in the staff zone (UTC)
    failed = staff_client.get("/outbox/", {"state": "failed"}).content.decode()
    assert f'id="message-{bad.pk}"' in failed
    assert f'id="message-{ok.pk}"' not in failed
    assert "421 try later" in failed
    wrong = staff_client.get("/outbox/", {"state": "exploded"}).content.decode()
    assert "unknown state &#x27;exploded&#x27;" in wrong


def test_preview_shows_content_headers_and_why(
    staff_client: Client, two_messages: tuple[Message, Message]
) -> None:
    ok, _ = two_messages
    body = staff_client.get(f"/outbox/{ok.pk}/").content.decode()
    assert "Planned upgrade: Presenter 5.4.0 on 2027-04-01 16:00 CEST (Europe/Amsterdam)" in body
    assert ok.message_id.replace("<", "&lt;").replace(">", "&gt;") in body
    assert "admin of School A" in body
    assert 'sandbox=""' in body  # the HTML preview runs nothing
    assert "Send again now" not in body  # pending: nothing to retry


def test_retry_by_post_is_audited(
    staff_client: Client, vendor_admin: Any, two_messages: tuple[Message, Message]
) -> None:
    _, bad = two_messages
    assert staff_client.get(f"/outbox/{bad.pk}/retry/").status_code == 405
    with time_machine.travel(NOW, tick=False):
        staff_client.force_login(vendor_admin)  # a session of that day
        response = staff_client.post(f"/outbox/{bad.pk}/retry/")
    assert response.status_code == 302
    assert response["Location"] == f"/outbox/{bad.pk}/"
    bad.refresh_from_db()
    assert (bad.state, bad.due_at, bad.max_attempts) == (WorkState.PENDING, NOW, 16)
    event = AuditEvent.objects.get(action="outbox.message_retried")
    assert event.object_id == str(bad.pk)
    assert event.before is not None
    assert event.before["state"] == "failed"


def test_retry_refused_for_unreachable_contact(
    staff_client: Client, two_messages: tuple[Message, Message]
) -> None:
    _, bad = two_messages
    assert bad.contact_id is not None
    Contact.objects.filter(pk=bad.contact_id).update(reachable=False, unreachable_reason="550")
    response = staff_client.post(f"/outbox/{bad.pk}/retry/", follow=True)
    assert "The recipient is marked unreachable (550)" in response.content.decode()
    bad.refresh_from_db()
    assert bad.state == WorkState.FAILED


def test_outsiders_get_404_and_anonymous_signs_in(
    client: Client, outsider_contact: Any, two_messages: tuple[Message, Message]
) -> None:
    ok, _ = two_messages
    assert client.get("/outbox/").status_code == 302
    portal = _portal(outsider_contact)
    assert portal.get("/outbox/").status_code == 404
    assert portal.get(f"/outbox/{ok.pk}/").status_code == 404
    assert portal.post(f"/outbox/{ok.pk}/retry/").status_code == 404


def test_unknown_message_is_404(staff_client: Client) -> None:
    assert staff_client.get("/outbox/999999/").status_code == 404


# --- API ------------------------------------------------------------------------------------


def test_api_list_detail_and_retry(
    vendor_admin: Any, two_messages: tuple[Message, Message]
) -> None:
    ok, bad = two_messages
    client, headers = Client(), _token(vendor_admin)
    listing = client.get("/api/v1/outbox", {"state": "failed"}, headers=headers)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [m["id"] for m in items] == [bad.pk]
    assert items[0]["why"] == "admin of School A"
    assert "body_text" not in items[0]

    detail = client.get(f"/api/v1/outbox/{ok.pk}", headers=headers).json()
    assert detail["message_id"] == ok.message_id
    assert "When: 2027-04-01 16:00 CEST (Europe/Amsterdam)" in detail["body_text"]

    retried = client.post(f"/api/v1/outbox/{bad.pk}/retry", headers=headers)
    assert retried.status_code == 200
    assert retried.json()["state"] == "pending"
    again = client.post(f"/api/v1/outbox/{bad.pk}/retry", headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"

    bad_filter = client.get("/api/v1/outbox", {"state": "nope"}, headers=headers)
    assert bad_filter.status_code == 422
    assert bad_filter.json()["error"]["fields"] == {"state": "unknown state"}


def test_api_read_token_cannot_retry(
    vendor_admin: Any, two_messages: tuple[Message, Message]
) -> None:
    _, bad = two_messages
    response = Client().post(f"/api/v1/outbox/{bad.pk}/retry", headers=_token(vendor_admin, "read"))
    assert response.status_code == 403


def test_api_outsider_sees_nothing(
    outsider_contact: Any, two_messages: tuple[Message, Message]
) -> None:
    ok, _ = two_messages
    portal = _portal(outsider_contact)
    assert portal.get("/api/v1/outbox").json()["items"] == []
    assert portal.get(f"/api/v1/outbox/{ok.pk}").status_code == 404


def test_api_list_query_count_does_not_grow(
    vendor_admin: Any, customer_a: Any, customer_b: Any
) -> None:
    client, headers = Client(), _token(vendor_admin)
    for contact in Contact.objects.all():
        enqueue_notice(contact)
    client.get("/api/v1/outbox", headers=headers)  # the token's last_used_at is written once
    with CaptureQueriesContext(connection) as few:
        assert len(client.get("/api/v1/outbox", headers=headers).json()["items"]) == 3
    for i in range(5):
        c = Contact.objects.create(
            customer=customer_b, name=f"X{i}", email=f"x{i}@school-b.test", roles=["admin"]
        )
        enqueue_notice(c)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/outbox", headers=headers).json()["items"]) == 8
    assert len(many.captured_queries) == len(few.captured_queries)


def test_api_release_audience_health(vendor_admin: Any, customer_a: Any, customer_b: Any) -> None:
    from releasedesk.policies.models import Policy
    from releasedesk.releases.models import Release

    policy = Policy.objects.create(slug="p", name="P")
    release = Release.objects.create(policy=policy, version="1.0", target_date=dt.date(2027, 4, 1))
    release.products.set([customer_a.subscriptions.get().product])
    Contact.objects.filter(customer=customer_b).update(reachable=False)
    headers = _token(vendor_admin)
    problems = Client().get(f"/api/v1/outbox/health/releases/{release.pk}", headers=headers).json()
    assert problems == [
        {
            "code": "no_reachable_admin",
            "customer_id": customer_b.pk,
            "customer": "School B",
            "message": "School B has no reachable admin: all 1 admin contact(s) are unreachable "
            "or erased. Add or fix an admin contact before the notice is due.",
        }
    ]
    assert Client().get("/api/v1/outbox/health/releases/999", headers=headers).status_code == 404
