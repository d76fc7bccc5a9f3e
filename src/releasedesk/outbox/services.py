"""Outbox state changes: enqueue (transactional outbox), staff retry, cancel, unreachable
contacts and tracking events (bounces, complaints).

`enqueue()` must run inside the transaction of the state change that causes the message:
the row commits with it or not at all. Delivery is `releasedesk.outbox.delivery`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from releasedesk.audit.services import record
from releasedesk.catalog.models import Contact, Customer
from releasedesk.core import clock
from releasedesk.core.alerts import raise_alert
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import Conflict, ValidationFailed
from releasedesk.core.queue import idempotency_key
from releasedesk.core.queue_models import AlertSeverity, StaffAlert, WorkState
from releasedesk.outbox.audiences import Audience, Recipient, Skipped, audience_health
from releasedesk.outbox.choices import Channel, TrackingEvent
from releasedesk.outbox.models import Message, TrackingReceipt
from releasedesk.outbox.rendering import MessageContext, Rendered, normalise_locale, render_message
from releasedesk.releases.models import Release

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
BULK_BATCH = 500

# States staff may send again.
RETRYABLE_STATES: tuple[str, ...] = (
    WorkState.FAILED,
    WorkState.MISSED,
    WorkState.BLOCKED,
    WorkState.CANCELLED,
)


@lru_cache(maxsize=1)
def message_id_domain() -> str:
    """`releasedesk.<domain of the From address>` (e.g. releasedesk.vendor.example)."""
    domain = parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1].rpartition("@")[2] or "localhost"
    return f"releasedesk.{domain.lower()}"


def message_id_for(key: str) -> str:
    """The stable `Message-ID` of the message with this key: same key, same id, always."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@{message_id_domain()}>"


def message_key(
    *, release: Release | None, subject_ref: str, kind: str, recipient_ref: str, generation: int = 1
) -> str:
    """`r<release>:<subject>:<kind>:g<generation>:<recipient>` (DESIGN.md §1)."""
    return idempotency_key(
        f"r{release.pk}" if release is not None else "r-",
        subject_ref or "-",
        kind,
        f"g{generation}",
        recipient_ref,
    )


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "outbox.enqueue() must run inside the transaction of the change that causes the "
            "message (transactional outbox)"
        )


def _row(
    *,
    key: str,
    recipient: Recipient,
    kind: str,
    rendered: Rendered,
    release: Release | None,
    subject_ref: str,
    due_at: dt.datetime,
    late_after: dt.datetime | None,
    locale: str,
    max_attempts: int,
    now: dt.datetime,
) -> Message:
    return Message(
        key=key,
        state=WorkState.PENDING,
        due_at=due_at,
        late_after=late_after,
        max_attempts=max_attempts,
        created_at=now,
        updated_at=now,
        channel=Channel.EMAIL,
        contact=recipient.contact,
        user=recipient.user,
        to_address=recipient.email,
        release=release,
        subject_ref=subject_ref,
        kind=kind,
        locale=locale,
        zone=recipient.zone,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        why=recipient.why[:500],
        message_id=message_id_for(key),
    )


def enqueue(
    *,
    recipient: Recipient,
    kind: str,
    due_at: dt.datetime,
    context: MessageContext | None = None,
    rendered: Rendered | None = None,
    release: Release | None = None,
    subject_ref: str = "",
    generation: int = 1,
    late_after: dt.datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Message:
    """Write one message row in the caller's transaction; idempotent by key.

    Give `context` (rendered here from the recipient's locale template, in their zone) or a
    ready `rendered` content. Enqueueing the same key again returns the existing row.
    `late_after`: a message not *started* by then is marked missed, never sent late (e.g.
    a notice that can no longer give its lead time).
    """
    _require_transaction()
    if (context is None) == (rendered is None):
        raise ValueError("give exactly one of context or rendered")
    key = message_key(
        release=release,
        subject_ref=subject_ref,
        kind=kind,
        recipient_ref=recipient.ref,
        generation=generation,
    )
    existing: Message | None = Message.objects.filter(key=key).first()
    if existing is not None:
        return existing
    locale = normalise_locale(recipient.locale)
    if rendered is None:
        assert context is not None
        rendered = render_message(
            kind, context, locale=locale, zone=recipient.zone, recipient_name=recipient.name
        )
    row = _row(
        key=key,
        recipient=recipient,
        kind=kind,
        rendered=rendered,
        release=release,
        subject_ref=subject_ref,
        due_at=due_at,
        late_after=late_after,
        locale=locale,
        max_attempts=max_attempts,
        now=clock.now(),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        # Another writer enqueued the same key first: theirs stands.
        theirs: Message = Message.objects.get(key=key)
        return theirs
    return row


def _insert(rows: Sequence[Message]) -> None:
    """One `executemany` of single-row INSERTs: `bulk_create` spends most of its time
    assembling one huge multi-row statement (10,000 notices: ~4x slower)."""
    if not rows:
        return
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {Message._meta.db_table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from model meta
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


@dataclass(slots=True)
class Enqueued:
    created: int = 0
    existing: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def enqueue_audience(
    *,
    audience: Audience,
    kind: str,
    due_at: dt.datetime,
    context: MessageContext,
    release: Release | None = None,
    subject_ref: str = "",
    generation: int = 1,
    late_after: dt.datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Enqueued:
    """One message per recipient of `audience`, in the caller's transaction, written in
    batches (`bulk_create`); keys already present are left alone. The audience's skipped
    contacts are handed back so the caller can report them."""
    _require_transaction()
    result = Enqueued(skipped=list(audience.skipped))
    now = clock.now()
    rows: list[Message] = []
    renders: dict[tuple[str, str], Rendered] = {}
    for recipient in audience.recipients:
        key = message_key(
            release=release,
            subject_ref=subject_ref,
            kind=kind,
            recipient_ref=recipient.ref,
            generation=generation,
        )
        locale = normalise_locale(recipient.locale)
        rendered = _personalise(renders, kind, context, locale, recipient)
        rows.append(
            _row(
                key=key,
                recipient=recipient,
                kind=kind,
                rendered=rendered,
                release=release,
                subject_ref=subject_ref,
                due_at=due_at,
                late_after=late_after,
                locale=locale,
                max_attempts=max_attempts,
                now=now,
            )
        )
        result.keys.append(key)
    for start in range(0, len(rows), BULK_BATCH):
        chunk = rows[start : start + BULK_BATCH]
        present = set(
            Message.objects.filter(key__in=[r.key for r in chunk]).values_list("key", flat=True)
        )
        new = [r for r in chunk if r.key not in present]
        _insert(new)
        result.created += len(new)
        result.existing += len(present)
    return result


# Rendered once per (locale, zone) with this stand-in for the name, then personalised: the
# templates are the same for everyone who shares a language and a zone.
_NAME = "\ue000recipient\ue000"


def _personalise(
    renders: dict[tuple[str, str], Rendered],
    kind: str,
    context: MessageContext,
    locale: str,
    recipient: Recipient,
) -> Rendered:
    cache_key = (locale, recipient.zone)
    base = renders.get(cache_key)
    if base is None:
        base = render_message(
            kind, context, locale=locale, zone=recipient.zone, recipient_name=_NAME
        )
        renders[cache_key] = base
    name = recipient.name
    return Rendered(
        subject=base.subject.replace(_NAME, name),
        text=base.text.replace(_NAME, name),
        html=base.html.replace(_NAME, html.escape(name)),
    )


@transaction.atomic
def retry_message(*, actor: Actor, message: Message) -> Message:
    """Staff: send a failed, missed, blocked or cancelled message again, now."""
    fresh: Message = Message.objects.select_related("contact").get(pk=message.pk)
    if fresh.state not in RETRYABLE_STATES:
        raise Conflict(
            f"Message {fresh.pk} is {fresh.state}; only failed, missed, blocked or cancelled "
            "messages can be retried.",
            fields={"state": fresh.state},
        )
    contact = fresh.contact
    if contact is not None and contact.erased_at is not None:
        raise Conflict("The recipient's personal data was erased; the message cannot be sent.")
    if contact is not None and not contact.reachable:
        raise Conflict(
            f"The recipient is marked unreachable ({contact.unreachable_reason or 'no reason'}). "
            "Correct the contact's address and mark it reachable first.",
            fields={"contact": "unreachable"},
        )
    now = clock.now()
    before = fresh.as_audit()
    address = contact.email if contact is not None else fresh.to_address
    updated = Message.objects.filter(pk=fresh.pk, state=fresh.state).update(
        state=WorkState.PENDING,
        due_at=now,
        late_after=None,
        max_attempts=fresh.attempts + DEFAULT_MAX_ATTEMPTS,
        finished_at=None,
        to_address=address,
        updated_at=now,
    )
    if updated != 1:  # pragma: no cover - the select above runs in the same write transaction
        raise Conflict("The message changed meanwhile; reload and try again.")
    fresh.refresh_from_db()
    record(
        actor=actor,
        action="outbox.message_retried",
        obj=fresh,
        before=before,
        after=fresh.as_audit(),
    )
    return fresh


@transaction.atomic
def cancel_pending(
    *,
    actor: Actor,
    release: Release | None,
    subject_ref: str | None = None,
    kinds: Sequence[str] | None = None,
    reason: str,
) -> int:
    """Cancel not-yet-sent messages (e.g. a re-plan superseded them). Returns how many."""
    qs = Message.objects.filter(state=WorkState.PENDING, release=release)
    if subject_ref is not None:
        qs = qs.filter(subject_ref=subject_ref)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    ids = list(qs.values_list("pk", flat=True))
    if not ids:
        return 0
    now = clock.now()
    count = Message.objects.filter(pk__in=ids, state=WorkState.PENDING).update(
        state=WorkState.CANCELLED, finished_at=now, updated_at=now, last_error=reason[:4000]
    )
    record(
        actor=actor,
        action="outbox.messages_cancelled",
        obj=release,
        after={
            "count": count,
            "subject_ref": subject_ref,
            "kinds": list(kinds or []),
            "reason": reason,
        },
    )
    return count


def _customer_health_alert(customer: Customer, *, now: dt.datetime) -> None:
    for problem in audience_health(customers=[customer]):
        raise_alert(
            kind="outbox.no_reachable_admin",
            severity=AlertSeverity.CRITICAL,
            title=f"{customer.name} has no reachable admin",
            detail=problem.message,
            obj=customer,
            now=now,
        )


@transaction.atomic
def mark_unreachable(
    *, actor: Actor, contact: Contact, reason: str, message: Message | None = None
) -> bool:
    """Mark a contact's address unreachable (a permanent failure, a bounce, a complaint).

    Alerts staff when it leaves the customer with no reachable admin. Returns False if the
    contact already was unreachable (nothing changes, no second alert).
    """
    now = clock.now()
    updated = Contact.objects.filter(pk=contact.pk, reachable=True).update(
        reachable=False, unreachable_reason=reason[:300], updated_at=now
    )
    if updated != 1:
        return False
    record(
        actor=actor,
        action="catalog.contact_unreachable",
        obj=contact,
        before={"reachable": True},
        after={
            "reachable": False,
            "reason": reason[:300],
            "message_id": message.pk if message is not None else None,
        },
    )
    customer = Customer.objects.get(pk=contact.customer_id)
    _customer_health_alert(customer, now=now)
    return True


def alert_channel_failure(*, error: str) -> None:
    """A transport or authentication failure concerns the channel, not one address. One
    open (unacknowledged) alert at a time: retries do not pile up alerts."""
    if StaffAlert.objects.filter(
        kind="outbox.channel_failure", acknowledged_at__isnull=True
    ).exists():
        log.warning("outbox: channel still failing: %s", error[:500])
        return
    raise_alert(
        kind="outbox.channel_failure",
        severity=AlertSeverity.CRITICAL,
        title="E-mail cannot be sent: the mail server refused our credentials or sender",
        detail=error[:2000],
    )


# --- tracking events (bounces, complaints) -----------------------------------------------

MARKING_EVENTS = frozenset(
    {TrackingEvent.BOUNCED, TrackingEvent.COMPLAINED, TrackingEvent.REJECTED}
)


@dataclass(frozen=True, slots=True)
class TrackingInput:
    event_id: str
    event_type: str
    recipient: str = ""
    message_id: str = ""
    description: str = ""
    timestamp: dt.datetime | None = None


def _contacts_for(event: TrackingInput, message: Message | None) -> list[Contact]:
    if message is not None and message.contact_id is not None:
        return list(Contact.objects.filter(pk=message.contact_id))
    if event.recipient:
        return list(Contact.objects.filter(email__iexact=event.recipient, erased_at__isnull=True))
    return []


@transaction.atomic
def record_tracking_event(*, event: TrackingInput) -> TrackingReceipt | None:
    """Process one tracking event; idempotent by `event_id` (None when already processed).

    Bounces, complaints and rejections mark the contact unreachable (with the usual staff
    alert when that leaves a customer with no reachable admin); deliveries are recorded.
    """
    if event.event_type not in TrackingEvent.values:
        raise ValidationFailed(
            f"unknown event_type {event.event_type!r} (allowed: {', '.join(TrackingEvent.values)})",
            fields={"event_type": "unknown"},
        )
    if TrackingReceipt.objects.filter(event_id=event.event_id).exists():
        return None
    message = (
        Message.objects.filter(message_id=event.message_id).first() if event.message_id else None
    )
    contacts = _contacts_for(event, message)
    now = clock.now()
    receipt = TrackingReceipt.objects.create(
        event_id=event.event_id,
        event=event.event_type,
        message=message,
        contact=contacts[0] if contacts else None,
        description=event.description[:500],
        received_at=now,
    )
    record(
        actor=SYSTEM,
        action=f"outbox.tracking_{event.event_type}",
        obj=message,
        after={
            "event_id": event.event_id,
            "contact_ids": [c.pk for c in contacts],
            "at": (event.timestamp or now).isoformat(),
        },
        scope="outbox.tracking",
    )
    if event.event_type in MARKING_EVENTS:
        reason = f"{event.event_type}: {event.description}".strip().rstrip(":")
        for contact in contacts:
            mark_unreachable(actor=SYSTEM, contact=contact, reason=reason, message=message)
    return receipt


def process_tracking_events(events: Iterable[TrackingInput]) -> int:
    """Each event in its own transaction; returns how many were new."""
    return sum(1 for e in events if record_tracking_event(event=e) is not None)
