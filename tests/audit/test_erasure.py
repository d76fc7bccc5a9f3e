"""Erasing a contact's personal data keeps the audit verifiable and free of that data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.audit.verify import verify
from releasedesk.core.context import Actor

pytestmark = pytest.mark.django_db

STAFF = Actor(kind="staff", id=1)


def _all_payload_text() -> str:
    rows = AuditEvent.objects.values_list("before", "after", "object_id", "scope", "request_id")
    return json.dumps(list(rows), ensure_ascii=False).lower()


def test_erasing_a_contact_keeps_the_audit_clean(customer_a: Any) -> None:
    from releasedesk.catalog import services

    contact = services.create_contact(
        actor=STAFF,
        customer=customer_a,
        name="Zoë Zuiderveld",
        email="zoe@school-a.test",
        roles=["admin"],
    )
    services.update_contact(
        actor=STAFF, contact=contact, name="Zoë van Zuiderveld", email="zoe.vz@school-a.test"
    )
    services.erase_contact(actor=STAFF, contact=contact)

    actions = list(
        AuditEvent.objects.filter(object_id=str(contact.pk), object_type="catalog.contact")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["catalog.contact.create", "catalog.contact.update", "catalog.contact.erase"]
    text = _all_payload_text()
    for personal in ("zoë", "zuiderveld", "zoe@school-a.test", "zoe.vz@school-a.test"):
        assert personal not in text
    # The update is still visible as a change, without its values.
    update = AuditEvent.objects.get(action="catalog.contact.update")
    assert update.after == {"name": "[redacted, changed]", "email": "[redacted, changed]"}
    assert verify().ok


def test_erasure_by_hand_keeps_verify_clean(a1: Any) -> None:
    """Even a direct update of the contact row cannot break the chain: no personal data in it."""
    from django.db import transaction

    from releasedesk.audit.services import record

    with transaction.atomic():
        record(
            actor=STAFF,
            action="catalog.contact.update",
            obj=a1,
            before={"email": a1.email},
            after={"email": "x@school-a.test"},
        )
    type(a1).objects.filter(pk=a1.pk).update(name="erased", email=f"erased-{a1.pk}@invalid")
    assert "a1@school-a.test" not in _all_payload_text()
    assert verify().ok
