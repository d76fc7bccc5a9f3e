"""State changes of the calendar app: declaring and lifting change freezes.

Each service runs in one transaction and writes one audit event (scope `calendars.freeze`,
so all freeze decisions form one readable chain). Views, the API and the CLI call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.calendars.models import ChangeFreeze, FeedKey
from releasedesk.catalog.models import Customer, Product
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, NotFound, ValidationFailed

FREEZE_SCOPE = "calendars.freeze"
MAX_REASON = 300
MIN_YEAR, MAX_YEAR = 2000, 2100
# A freeze longer than this is almost certainly a typo in the year.
MAX_FREEZE = dt.timedelta(days=366)


def freeze_snapshot(freeze: ChangeFreeze) -> dict[str, Any]:
    return {
        "starts_at": freeze.starts_at.isoformat(),
        "ends_at": freeze.ends_at.isoformat(),
        "reason": freeze.reason,
        "all_products": freeze.all_products,
        "products": sorted(p.slug for p in freeze.products.all()),
        "lifted_at": freeze.lifted_at.isoformat() if freeze.lifted_at else None,
        "lift_reason": freeze.lift_reason,
    }


def _instant(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            f"{field} {value.isoformat()} has no time zone: give an instant with an offset or Z",
            fields={field: "needs a time zone offset (e.g. 2027-12-20T00:00:00+01:00 or …Z)"},
        )
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationFailed(
            f"{field} {value.isoformat()} is outside the years {MIN_YEAR}-{MAX_YEAR}",
            fields={field: f"a year from {MIN_YEAR} to {MAX_YEAR}"},
        )
    return value.astimezone(dt.UTC)


def _printable(text: str) -> bool:
    """No control characters (NUL cannot be stored on PostgreSQL) and no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


def _reason(text: str | None, field: str = "reason") -> str:
    reason = " ".join((text or "").split())
    if not _printable(reason):
        raise ValidationFailed(
            f"the {field.replace('_', ' ')} contains control characters",
            fields={field: "printable text only"},
        )
    if not reason:
        raise ValidationFailed(
            f"a {field.replace('_', ' ')} is required: say why",
            fields={field: "required"},
        )
    if len(reason) > MAX_REASON:
        raise ValidationFailed(
            f"the {field.replace('_', ' ')} is longer than {MAX_REASON} characters",
            fields={field: f"at most {MAX_REASON} characters"},
        )
    return reason


@transaction.atomic
def declare_freeze(
    *,
    actor: Actor,
    declared_by: User | None,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    products: Sequence[Product] | None = None,
) -> ChangeFreeze:
    """Declare a change freeze [starts_at, ends_at) for all products (products=None or empty)
    or only for the given products."""
    start = _instant(starts_at, "starts_at")
    end = _instant(ends_at, "ends_at")
    text = _reason(reason)
    if end <= start:
        raise ValidationFailed(
            f"the freeze ends ({end:%Y-%m-%d %H:%M} UTC) at or before it starts "
            f"({start:%Y-%m-%d %H:%M} UTC): the end must be after the start",
            fields={"ends_at": "must be after starts_at"},
        )
    if end - start > MAX_FREEZE:
        raise ValidationFailed(
            f"a freeze may last at most {MAX_FREEZE.days} days; this one lasts {(end - start).days}",
            fields={"ends_at": f"at most {MAX_FREEZE.days} days after starts_at"},
        )
    now = clock.now()
    if end <= now:
        raise ValidationFailed(
            f"the freeze would end {end:%Y-%m-%d %H:%M} UTC, which is already past",
            fields={"ends_at": "must be in the future"},
        )
    chosen = list({p.pk: p for p in products or ()}.values())
    freeze = ChangeFreeze.objects.create(
        starts_at=start,
        ends_at=end,
        reason=text,
        all_products=not chosen,
        declared_by=declared_by,
    )
    if chosen:
        freeze.products.set(chosen)
    record(
        actor=actor,
        action="freeze.declared",
        obj=freeze,
        after=freeze_snapshot(freeze),
        scope=FREEZE_SCOPE,
    )
    _replan_live(actor)
    return freeze


@transaction.atomic
def lift_freeze(
    *, actor: Actor, freeze: ChangeFreeze | int, lifted_by: User | None, reason: str
) -> ChangeFreeze:
    """Lift a freeze: from now on it blocks nothing (kept as a record)."""
    pk = freeze if isinstance(freeze, int) else freeze.pk
    found: ChangeFreeze | None = ChangeFreeze.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound(f"Change freeze {pk} does not exist")
    text = _reason(reason)
    if found.lifted_at is not None:
        raise Conflict(
            f"Change freeze {pk} was already lifted at {found.lifted_at:%Y-%m-%d %H:%M} UTC",
            fields={"freeze": "already lifted"},
        )
    now = clock.now()
    if found.ends_at <= now:
        raise Conflict(
            f"Change freeze {pk} ended at {found.ends_at:%Y-%m-%d %H:%M} UTC; there is nothing to lift",
            fields={"freeze": "already over"},
        )
    before = freeze_snapshot(found)
    updated = ChangeFreeze.objects.filter(pk=pk, lifted_at__isnull=True).update(
        lifted_at=now, lifted_by=lifted_by, lift_reason=text, updated_at=now
    )
    if updated != 1:
        raise Conflict(f"Change freeze {pk} was lifted meanwhile; reload")
    found.refresh_from_db()
    record(
        actor=actor,
        action="freeze.lifted",
        obj=found,
        before=before,
        after=freeze_snapshot(found),
        scope=FREEZE_SCOPE,
    )
    _replan_live(actor)
    return found


@transaction.atomic
def rotate_feed_key(
    *, actor: Actor, user: User | None = None, customer: Customer | None = None
) -> FeedKey:
    """Revoke every feed link of a staff user or a customer by bumping the key's version."""
    if (user is None) == (customer is None):
        raise ValidationFailed("give exactly one of user or customer")
    key, _ = FeedKey.objects.select_for_update().get_or_create(user=user, customer=customer)
    before = {"version": key.version}
    key.version += 1
    key.rotated_at = clock.now()
    key.save(update_fields=["version", "rotated_at"])
    owner: Any = user if user is not None else customer
    record(
        actor=actor,
        action="calendar.feed_revoked",
        obj=owner,
        before=before,
        after={"version": key.version},
        scope=FREEZE_SCOPE if user is not None else None,
    )
    return key


def _replan_live(actor: Actor) -> None:
    """A freeze moves (or frees) upgrade slots: live releases are replanned."""
    from releasedesk.timeline.replan import something_changed

    something_changed(actor=actor)
