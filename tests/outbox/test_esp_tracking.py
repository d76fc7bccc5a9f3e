"""ESP tracking webhooks through django-anymail (here Postmark's): a hard bounce marks the
contact unreachable like the signed /outbox/tracking/ webhook does; the webhooks are off
(404) without a webhook secret, and anymail checks the basic-auth credentials."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from releasedesk.catalog.models import Contact
from releasedesk.outbox.models import TrackingReceipt

pytestmark = pytest.mark.django_db

URL = "/outbox/anymail/postmark/tracking/"


def _bounce(
    email: str, kind: str = "HardBounce", details: str = "smtp;550 5.1.1 no such user"
) -> str:
    return json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": kind,
            "TypeCode": 1,
            "Name": "Hard bounce",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Description": "The server was unable to deliver your message",
            "Details": details,
            "Email": email,
            "BouncedAt": "2027-03-26T08:59:00Z",
            "Inactive": True,
        }
    )


def _auth(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def secret(settings: Any) -> str:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    return "hook:s3cret"


def test_off_without_a_webhook_secret(customer_a: Any, settings: Any) -> None:
    settings.ANYMAIL = {}
    response = Client().post(
        URL, _bounce("a1@school-a.test"), content_type="application/json", headers=_auth("x:y")
    )
    assert response.status_code == 404
    assert Contact.objects.get(email="a1@school-a.test").reachable


def test_a_hard_bounce_marks_the_contact_once(customer_a: Any, secret: str) -> None:
    client = Client()
    body = _bounce("a1@school-a.test")
    wrong = client.post(URL, body, content_type="application/json", headers=_auth("hook:nope"))
    assert wrong.status_code == 400
    assert Contact.objects.get(email="a1@school-a.test").reachable

    ok = client.post(URL, body, content_type="application/json", headers=_auth(secret))
    assert ok.status_code == 200
    contact = Contact.objects.get(email="a1@school-a.test")
    assert not contact.reachable
    assert contact.unreachable_reason == (
        "bounced: The server was unable to deliver your message smtp;550 5.1.1 no such user"
    )
    receipt = TrackingReceipt.objects.get()
    assert (receipt.event, receipt.contact_id) == ("bounced", contact.pk)
    assert receipt.event_id == "postmark:4323372036854775807"

    again = client.post(URL, body, content_type="application/json", headers=_auth(secret))
    assert again.status_code == 200
    assert TrackingReceipt.objects.count() == 1


def test_temporary_failures_and_opens_mark_nobody(customer_a: Any, secret: str) -> None:
    client = Client()
    soft = _bounce("a2@school-a.test", kind="SoftBounce", details="smtp;452 4.2.2 mailbox full")
    assert (
        client.post(URL, soft, content_type="application/json", headers=_auth(secret)).status_code
        == 200
    )
    opened = json.dumps(
        {
            "RecordType": "Open",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79484",
            "Recipient": "a2@school-a.test",
            "ReceivedAt": "2027-03-26T09:00:00Z",
        }
    )
    assert (
        client.post(URL, opened, content_type="application/json", headers=_auth(secret)).status_code
        == 200
    )
    assert Contact.objects.get(email="a2@school-a.test").reachable
    assert TrackingReceipt.objects.count() == 0
