from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import transaction

from releasedesk.audit.chain import GENESIS
from releasedesk.audit.models import AuditChainHead, AuditEvent
from releasedesk.audit.services import (
    DENIED_ACTION,
    REDACTED,
    REDACTED_CHANGED,
    event_hash,
    record,
    record_denied,
)
from releasedesk.core.context import Actor

pytestmark = pytest.mark.django_db

STAFF = Actor(kind="staff", id=7)


@pytest.mark.django_db(transaction=True)
def test_record_needs_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        record(actor=STAFF, action="x.y")


def test_chain_per_scope() -> None:
    with transaction.atomic():
        a1 = record(actor=STAFF, action="t.one", scope="s:a", after={"n": 1})
        b1 = record(actor=STAFF, action="t.one", scope="s:b")
        a2 = record(actor=STAFF, action="t.two", scope="s:a", before={"n": 1}, after={"n": 2})
    assert (a1.seq, a1.prev_hash) == (1, GENESIS)
    assert (b1.seq, b1.prev_hash) == (1, GENESIS)
    assert (a2.seq, a2.prev_hash) == (2, a1.hash)
    head = AuditChainHead.objects.get(scope="s:a")
    assert (head.seq, head.last_hash) == (2, a2.hash)
    stored = AuditEvent.objects.get(pk=a2.pk)
    assert event_hash(stored) == stored.hash == a2.hash


def test_default_scope_is_the_object(a1: Any) -> None:
    with transaction.atomic():
        event = record(actor=STAFF, action="catalog.contact_touched", obj=a1)
    assert event.object_type == "catalog.contact"
    assert event.object_id == str(a1.pk)
    assert event.scope == f"catalog.contact:{a1.pk}"


def test_personal_fields_of_people_are_redacted(a1: Any) -> None:
    with transaction.atomic():
        event = record(
            actor=STAFF,
            action="catalog.contact_updated",
            obj=a1,
            before={"name": "Ann Admin", "email": "a1@school-a.test", "roles": ["admin"]},
            after={"name": "Ann Admin", "email": "new@school-a.test", "roles": []},
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.before == {"name": REDACTED, "email": REDACTED, "roles": ["admin"]}
    assert stored.after == {"name": REDACTED, "email": REDACTED_CHANGED, "roles": []}


def test_a_product_name_is_kept(presenter: Any) -> None:
    with transaction.atomic():
        event = record(
            actor=STAFF,
            action="catalog.product_renamed",
            obj=presenter,
            before={"name": "Old"},
            after={"name": "Presenter"},
        )
    assert event.after == {"name": "Presenter"}


def test_time_is_stored_in_utc_and_hash_survives_a_round_trip() -> None:
    instant = dt.datetime(2027, 3, 28, 1, 30, 0, 123456, tzinfo=dt.UTC)
    with time_machine.travel(instant, tick=False), transaction.atomic():
        event = record(actor=STAFF, action="t.time", scope="s:t", after={"f": 1.0, "g": 0.1})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.at == dt.datetime(2027, 3, 28, 1, 30, 0, 123456, tzinfo=dt.UTC)
    assert event_hash(stored) == stored.hash


def test_record_denied_writes_its_own_event() -> None:
    with time_machine.travel(dt.datetime(2027, 1, 5, 10, 0, tzinfo=dt.UTC), tick=False):
        event = record_denied(
            actor=Actor(kind="contact", id=3),
            action="catalog.customer.view",
            object_type="catalog.customer",
            object_id=42,
        )
    assert event is not None
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == DENIED_ACTION
    assert stored.scope == "security:2027-01-05"
    assert (stored.actor_kind, stored.actor_id) == ("contact", 3)
    assert (stored.object_type, stored.object_id) == ("catalog.customer", "42")
    assert stored.after == {"attempted": "catalog.customer.view"}


def test_record_denied_truncates_attacker_controlled_values() -> None:
    event = record_denied(
        actor=Actor(kind="token", id=1, on_behalf_of=2),
        action="a" * 500,
        object_type="t" * 500,
        object_id="9" * 500,
    )
    assert event is not None
    assert len(event.object_type) == 80
    assert len(event.object_id) == 64
    assert event.after == {"attempted": "a" * 80}


@pytest.mark.parametrize("number", [1.0, 1e20, 1.7976931348623157e308, -0.0, 5e-324, 0.1])
def test_numbers_survive_every_database(number: float) -> None:
    with transaction.atomic():
        event = record(actor=STAFF, action="t.num", scope="s:num", after={"n": number})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert event_hash(stored) == stored.hash


def test_nul_and_non_finite_values_are_made_storable() -> None:
    with transaction.atomic():
        event = record(
            actor=STAFF, action="t.nul", scope="s:nul", after={"a\x00": "b\x00", "n": float("nan")}
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.after == {"a\ufffd": "b\ufffd", "n": "nan"}
    assert event_hash(stored) == stored.hash
    denied = record_denied(actor=STAFF, action="x", object_type="t", object_id="1\x002")
    assert denied is not None
    assert AuditEvent.objects.get(pk=denied.pk).object_id == "1\ufffd2"
