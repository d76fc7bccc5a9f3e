"""Small builders shared by the outbox tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from releasedesk.outbox import services
from releasedesk.outbox.audiences import contact_recipient
from releasedesk.outbox.models import Message
from releasedesk.outbox.rendering import MessageContext

UTC = dt.UTC
# S1: the 5.4.0 notice is due by 2027-03-25 14:00 UTC for the 2027-04-01 14:00 UTC start.
START = dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC)
DUE = dt.datetime(2027, 3, 25, 13, 0, tzinfo=UTC)


def notice_context(**extra: Any) -> MessageContext:
    values: dict[str, Any] = {
        "release_version": "5.4.0",
        "products": ("Presenter",),
        "customer_name": "School A",
        "instance_name": "saas-eu",
        "starts_at": START,
        "changes": ("Presentations load twice as fast",),
        "contact_text": "support@vendor.test",
    }
    values.update(extra)
    return MessageContext(**values)


def enqueue_notice(contact: Any, *, due_at: dt.datetime = DUE, **kwargs: Any) -> Message:
    with transaction.atomic():
        return services.enqueue(
            recipient=contact_recipient(contact, f"admin of {contact.customer.name}"),
            kind="advance_notice",
            due_at=due_at,
            context=notice_context(customer_name=contact.customer.name),
            subject_ref="i1",
            **kwargs,
        )
