"""iCalendar feeds (written with the `icalendar` library) and their signed, revocable links.

- Internal feed (staff): windows, freezes, releases, planned upgrade slots, stages and
  hypercare, in the staff member's zone. Link: `/calendar/feeds/staff/<user id>/<token>.ics`.
- Customer feed: the upcoming maintenance of one customer — the upgrade steps of instances it
  owns or is subscribed to — in the customer's zone (TZID + VTIMEZONE). Link:
  `/calendar/feeds/customers/<customer id>/<token>.ics`. It carries only what a customer may
  read: product, instance, version and times; never reasons, labels or internal notes.

A token is `django.core.signing.dumps([owner id, key version], salt=…)`: a token for another
owner, a tampered token or one issued before the owner's `FeedKey.version` was bumped
(revocation) is refused — the views answer 404, the same as for a feed that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import icalendar
from django.core import signing
from django.db.models import Q

from releasedesk.accounts.models import User
from releasedesk.calendars.entries import Entry, collect
from releasedesk.calendars.models import FeedKey
from releasedesk.catalog.models import Customer, Instance
from releasedesk.core.queue_models import WorkState
from releasedesk.core.timeutil import UnknownTimeZone, format_local, format_utc, get_zone, to_local
from releasedesk.timeline.models import ScheduledStep, StepKind

FeedKind = Literal["staff", "customer"]
_SALTS: dict[FeedKind, str] = {
    "staff": "releasedesk.calendars.feed.staff",
    "customer": "releasedesk.calendars.feed.customer",
}
PRODID = "-//ReleaseDesk//Calendar//EN"
# The internal feed covers this much history and future.
INTERNAL_PAST = dt.timedelta(days=31)
INTERNAL_FUTURE = dt.timedelta(days=366)
# The customer feed keeps a week of past maintenance so a subscribed calendar does not lose
# yesterday's upgrade the moment it happened.
CUSTOMER_PAST = dt.timedelta(days=7)
CUSTOMER_FUTURE = dt.timedelta(days=400)
INTERNAL_KINDS = ("window", "freeze", "release", "upgrade", "stage", "hypercare")
CUSTOMER_STATES = (WorkState.PENDING, WorkState.RUNNING, WorkState.DONE)


# --- tokens ----------------------------------------------------------------------------------


def key_version(kind: FeedKind, owner_id: int) -> int:
    field = "user_id" if kind == "staff" else "customer_id"
    found = FeedKey.objects.filter(**{field: owner_id}).values_list("version", flat=True).first()
    return found or 1


def make_token(kind: FeedKind, owner_id: int) -> str:
    return signing.dumps([owner_id, key_version(kind, owner_id)], salt=_SALTS[kind])


def token_valid(kind: FeedKind, owner_id: int, token: str) -> bool:
    """True only for an untampered token of this kind, for this owner, at the current version."""
    if not token or len(token) > 200:
        return False
    try:
        value = signing.loads(token, salt=_SALTS[kind])
    except signing.BadSignature:
        return False
    if not (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)):
        return False
    owner, version = value
    return bool(owner == owner_id and version == key_version(kind, owner_id))


# --- writing ---------------------------------------------------------------------------------


def valid_zone(name: str | None) -> str:
    try:
        get_zone(name or "UTC")
    except UnknownTimeZone:
        return "UTC"
    return name or "UTC"


def _calendar(name: str, zone: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", zone)
    return cal


def _finish(cal: icalendar.Calendar, start: dt.datetime, end: dt.datetime) -> bytes:
    cal.add_missing_timezones(
        first_date=(start - dt.timedelta(days=366)).date(),
        last_date=(end + dt.timedelta(days=366)).date(),
    )
    data: bytes = cal.to_ical()
    return data


def _event(
    *,
    uid: str,
    summary: str,
    start: dt.datetime,
    end: dt.datetime,
    zone: str,
    stamp: dt.datetime,
    description: str = "",
    days: tuple[dt.date, dt.date] | None = None,
    category: str = "",
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    if days is not None:
        event.add("dtstart", days[0])
        event.add("dtend", days[1] + dt.timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    else:
        event.add("dtstart", to_local(start, zone))
        event.add("dtend", to_local(max(end, start), zone))
    if description:
        event.add("description", description)
    if category:
        event.add("categories", [category])
    return event


def _entry_description(entry: Entry) -> str:
    lines = [entry.detail] if entry.detail else []
    if entry.days is None:
        lines.append(
            f"Starts {format_local(entry.start_utc, entry.zone)} = {format_utc(entry.start_utc)}"
        )
        if entry.end_utc != entry.start_utc:
            lines.append(
                f"Ends {format_local(entry.end_utc, entry.zone)} = {format_utc(entry.end_utc)}"
            )
    return "\n".join(lines)


def internal_feed(user: User, *, now: dt.datetime) -> bytes:
    """The staff feed for `user`, in the user's zone."""
    zone = valid_zone(user.timezone)
    start, end = now - INTERNAL_PAST, now + INTERNAL_FUTURE
    data = collect(start, end, kinds=INTERNAL_KINDS)
    cal = _calendar("ReleaseDesk (internal)", zone)
    for entry in data.entries:
        cal.add_component(
            _event(
                uid=entry.uid,
                summary=entry.title,
                start=entry.start_utc,
                end=entry.end_utc,
                zone=zone,
                stamp=now,
                description=_entry_description(entry),
                days=entry.days,
                category=entry.kind,
            )
        )
    return _finish(cal, start, end)


@dataclass(frozen=True, slots=True)
class Maintenance:
    """One upgrade of one of the customer's instances, with only customer-safe fields."""

    step_id: int
    instance: str
    product: str
    version: str
    start_utc: dt.datetime
    end_utc: dt.datetime


def customer_instances_q(customer: Customer | int) -> Q:
    pk = customer if isinstance(customer, int) else customer.pk
    return Q(owner_id=pk) | Q(subscriptions__customer_id=pk)


def customer_maintenance(
    customer: Customer, *, start: dt.datetime, end: dt.datetime
) -> list[Maintenance]:
    """Upgrade steps in [start, end) of the instances `customer` owns or is subscribed to (one
    query; superseded, cancelled, skipped, blocked and failed steps are not maintenance)."""
    instances = Instance.objects.filter(customer_instances_q(customer)).values("pk")
    rows = (
        ScheduledStep.objects.filter(
            kind=StepKind.UPGRADE,
            state__in=CUSTOMER_STATES,
            instance_id__in=instances,
            due_at__gte=start,
            due_at__lt=end,
        )
        .values(
            "pk",
            "due_at",
            "ends_at",
            "release__version",
            "instance__name",
            "instance__product__name",
        )
        .order_by("due_at", "pk")
    )
    return [
        Maintenance(
            step_id=r["pk"],
            instance=r["instance__name"],
            product=r["instance__product__name"],
            version=r["release__version"],
            start_utc=r["due_at"],
            end_utc=r["ends_at"] or r["due_at"],
        )
        for r in rows
    ]


def maintenance_summary(m: Maintenance) -> str:
    return f"Maintenance: {m.product} upgrade to {m.version} ({m.instance})"


def customer_feed(customer: Customer, *, now: dt.datetime) -> bytes:
    zone = valid_zone(customer.timezone)
    start, end = now - CUSTOMER_PAST, now + CUSTOMER_FUTURE
    cal = _calendar(f"{customer.name}: maintenance", zone)
    for m in customer_maintenance(customer, start=start, end=end):
        description = [
            f"{m.product} on {m.instance} is upgraded to version {m.version}.",
            f"Starts {format_local(m.start_utc, zone)} = {format_utc(m.start_utc)}",
        ]
        if m.end_utc != m.start_utc:
            description.append(f"Ends {format_local(m.end_utc, zone)} = {format_utc(m.end_utc)}")
        cal.add_component(
            _event(
                uid=f"maintenance-{m.step_id}@releasedesk",
                summary=maintenance_summary(m),
                start=m.start_utc,
                end=m.end_utc,
                zone=zone,
                stamp=now,
                description="\n".join(description),
                category="maintenance",
            )
        )
    return _finish(cal, start, end)
