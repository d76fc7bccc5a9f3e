"""The signed tracking webhook: bounces and complaints arriving later mark the contact."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.test import Client

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.models import Contact
from releasedesk.core.queue_models import StaffAlert
from releasedesk.outbox.models import TrackingReceipt
from releasedesk.outbox.tracking import sign
from tests.outbox.helpers import enqueue_notice

pytestmark = pytest.mark.django_db

SECRET = "tracking-test-secret"
NOW = dt.datetime(2027, 3, 26, 9, 0, tzinfo=dt.UTC)
URL = "/outbox/tracking/"


@pytest.fixture(autouse=True)
def _secret(settings: Any) -> None:
    settings.OUTBOX_TRACKING_SECRET = SECRET


def _post(
    body: Any, *, webhook_id: str = "msg_1", at: dt.datetime = NOW, secret: str = SECRET
) -> Any:
    raw = json.dumps(body).encode()
    stamp = int(at.timestamp())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, webhook_id=webhook_id, timestamp=stamp, body=raw),
    }
    with time_machine.travel(NOW, tick=False):
        return Client().post(URL, raw, content_type="application/json", headers=headers)


def _bounce(message_id: str = "", recipient: str = "", event_id: str = "ev1") -> dict[str, Any]:
    return {
        "events": [
            {
                "event_id": event_id,
                "event_type": "bounced",
                "recipient": recipient,
                "message_id": message_id,
                "timestamp": "2027-03-26T08:59:00Z",
                "description": "550 5.1.1 mailbox gone",
            }
        ]
    }


def test_bounce_by_message_id_marks_the_contact(customer_a: Any) -> None:
    a1 = customer_a.contacts.get(email="a1@school-a.test")
    message = enqueue_notice(a1)
    response = _post(_bounce(message_id=message.message_id))
    assert response.status_code == 200
    assert response.json() == {"processed": 1, "duplicates": 0}
    a1.refresh_from_db()
    assert (a1.reachable, a1.unreachable_reason) == (False, "bounced: 550 5.1.1 mailbox gone")
    receipt = TrackingReceipt.objects.get()
    assert (receipt.event_id, receipt.message_id, receipt.contact_id) == ("ev1", message.pk, a1.pk)
    assert AuditEvent.objects.filter(action="outbox.tracking_bounced").count() == 1
    assert not StaffAlert.objects.exists()  # a2 is still reachable

    # The same event delivered again changes nothing.
    again = _post(_bounce(message_id=message.message_id), webhook_id="msg_2")
    assert again.json() == {"processed": 0, "duplicates": 1}
    assert TrackingReceipt.objects.count() == 1


def test_complaint_by_address_alerts_when_no_admin_is_left(customer_b: Any) -> None:
    body = _bounce(recipient="B1@school-b.test", event_id="ev9")
    body["events"][0]["event_type"] = "complained"
    assert _post(body).status_code == 200
    b1 = Contact.objects.get(email="b1@school-b.test")
    assert b1.reachable is False
    [alert] = StaffAlert.objects.all()
    assert alert.title == "School B has no reachable admin"


def test_delivered_event_is_recorded_without_marking(customer_b: Any) -> None:
    body = _bounce(recipient="b1@school-b.test", event_id="ev3")
    body["events"][0]["event_type"] = "delivered"
    assert _post(body).json() == {"processed": 1, "duplicates": 0}
    assert Contact.objects.get(email="b1@school-b.test").reachable is True


def test_bad_signature_old_timestamp_and_missing_headers_are_401(customer_b: Any) -> None:
    body = _bounce(recipient="b1@school-b.test")
    assert _post(body, secret="wrong").status_code == 401
    old = _post(body, at=NOW - dt.timedelta(minutes=6))
    assert old.status_code == 401
    assert old.json()["error"]["message"] == "The webhook timestamp is too old or in the future."
    assert Client().post(URL, "{}", content_type="application/json").status_code == 401
    assert Contact.objects.get(email="b1@school-b.test").reachable is True
    assert not TrackingReceipt.objects.exists()


def test_invalid_bodies_are_4xx_and_get_is_405(customer_b: Any) -> None:
    assert _post({"events": []}).status_code == 422
    unknown = _bounce(recipient="b1@school-b.test")
    unknown["events"][0]["event_type"] = "exploded"
    response = _post(unknown)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"event_type": "unknown"}
    assert Client().get(URL).status_code == 405
    assert Contact.objects.get(email="b1@school-b.test").reachable is True


def test_disabled_without_secret(settings: Any) -> None:
    settings.OUTBOX_TRACKING_SECRET = ""
    assert _post(_bounce(recipient="x@y.test")).status_code == 404
