"""/api/v1/calendar: change freezes, calendar entries and feed links (staff only).

Reads need any staff token or session; declaring/lifting freezes and revoking feed links need
a write token or a staff session (CSRF-checked). Contacts use the portal's subscribe page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, require_write, staff_user
from releasedesk.accounts.models import User
from releasedesk.calendars import feeds, services
from releasedesk.calendars.entries import KINDS, collect
from releasedesk.calendars.models import ChangeFreeze
from releasedesk.catalog.models import Customer, Product
from releasedesk.core import clock
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied, ValidationFailed
from releasedesk.core.timeutil import to_local

MAX_ID = 2_147_483_647
MAX_RANGE = dt.timedelta(days=62)

router = Router(tags=["calendar"])

FreezeId = param_functions.Path(..., ge=1, le=MAX_ID, description="The freeze id.")
CustomerId = param_functions.Path(..., ge=1, le=MAX_ID, description="The customer id.")
StartQuery = param_functions.Query(..., description="With an offset or Z.")
EndQuery = param_functions.Query(..., description="Exclusive; at most 62 days after start.")
KindQuery = param_functions.Query(
    [], max_length=len(KINDS), description=f"Kinds to include (default all): {', '.join(KINDS)}"
)
ZoneQuery = param_functions.Query(
    None, max_length=64, description="Zone for the local times (default: yours)."
)
ActiveQuery = param_functions.Query(False, description="Only freezes not lifted and not over.")


class FreezeOut(Schema):
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    all_products: bool
    products: list[str]
    declared_by_id: int | None
    created_at: dt.datetime
    lifted_at: dt.datetime | None
    lifted_by_id: int | None
    lift_reason: str
    in_force: bool = Field(description="Not lifted and not over at the time of the request.")

    @staticmethod
    def resolve_products(obj: ChangeFreeze) -> list[str]:
        return sorted(p.slug for p in obj.products.all())

    @staticmethod
    def resolve_in_force(obj: ChangeFreeze) -> bool:
        return obj.lifted_at is None and obj.ends_at > clock.now()


class FreezeIn(Schema):
    starts_at: dt.datetime = Field(
        description="With an offset or Z, e.g. 2027-12-20T00:00:00+01:00."
    )
    ends_at: dt.datetime = Field(description="Exclusive; after starts_at.")
    reason: str = Field(..., min_length=1, max_length=300)
    products: list[str] = Field(
        [], max_length=100, description="Product slugs; empty freezes every product."
    )


class LiftIn(Schema):
    reason: str = Field(..., min_length=1, max_length=300)


class EntryOut(Schema):
    kind: str
    title: str
    start_utc: dt.datetime
    end_utc: dt.datetime
    start_local: str = Field(description="ISO local time in the requested zone.")
    end_local: str
    zone: str = Field(description="The zone the entry is defined in (policy, customer, UTC).")
    all_day: list[dt.date] | None = Field(
        description="First and last local date of a whole-day entry."
    )
    detail: str
    uid: str


class EntriesOut(Schema):
    zone: str
    start: dt.datetime
    end: dt.datetime
    entries: list[EntryOut]
    problems: list[str]


class FeedLinkOut(Schema):
    url: str
    version: int


def _staff(request: HttpRequest) -> User:
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only the vendor's staff can use the calendar API.")
    return user


def _writer(request: HttpRequest) -> User:
    require_write(request)
    return _staff(request)


def _freeze(request: HttpRequest, pk: int) -> ChangeFreeze:
    found: ChangeFreeze | None = (
        ChangeFreeze.objects.for_user(_staff(request))
        .prefetch_related("products")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(f"Change freeze {pk} not found.")
    return found


@router.get(
    "/freezes", response={200: list[FreezeOut], **ERROR_RESPONSES}, summary="List change freezes"
)
@paginate(BoundedPagination)
def list_freezes(
    request: HttpRequest,
    active: bool = ActiveQuery,
) -> QuerySet[ChangeFreeze]:
    qs = ChangeFreeze.objects.for_user(_staff(request)).prefetch_related("products")
    if active:
        qs = qs.filter(lifted_at__isnull=True, ends_at__gt=clock.now())
    return qs.order_by("starts_at", "id")


@router.post(
    "/freezes", response={201: FreezeOut, **ERROR_RESPONSES}, summary="Declare a change freeze"
)
def declare(request: HttpRequest, payload: FreezeIn) -> Status[Any]:
    user = _writer(request)
    found = {p.slug: p for p in Product.objects.filter(slug__in=payload.products)}
    unknown = [s for s in payload.products if s not in found]
    if unknown:
        raise ValidationFailed(
            f"unknown product {unknown[0]!r}",
            fields={"products": f"unknown product {unknown[0]!r}"},
        )
    freeze = services.declare_freeze(
        actor=actor_for(request),
        declared_by=user,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        reason=payload.reason,
        products=[found[s] for s in payload.products],
    )
    return Status(201, _freeze(request, freeze.pk))


@router.get(
    "/freezes/{freeze_id}", response={200: FreezeOut, **ERROR_RESPONSES}, summary="A change freeze"
)
def get_freeze(request: HttpRequest, freeze_id: int = FreezeId) -> ChangeFreeze:
    return _freeze(request, freeze_id)


@router.post(
    "/freezes/{freeze_id}/lift",
    response={200: FreezeOut, **ERROR_RESPONSES},
    summary="Lift a change freeze",
)
def lift(request: HttpRequest, payload: LiftIn, freeze_id: int = FreezeId) -> ChangeFreeze:
    freeze = _freeze(request, freeze_id)
    user = _writer(request)
    services.lift_freeze(
        actor=actor_for(request), freeze=freeze, lifted_by=user, reason=payload.reason
    )
    return _freeze(request, freeze_id)


@router.get(
    "/entries",
    response={200: EntriesOut, **ERROR_RESPONSES},
    summary="Calendar entries overlapping [start, end) (at most 62 days)",
)
def entries(
    request: HttpRequest,
    start: dt.datetime = StartQuery,
    end: dt.datetime = EndQuery,
    kind: list[str] = KindQuery,
    zone: str | None = ZoneQuery,
) -> dict[str, Any]:
    user = _staff(request)
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationFailed(
                f"{name} needs a time zone offset or Z", fields={name: "needs an offset"}
            )
        if not 2000 <= value.year <= 2100:
            raise ValidationFailed(
                f"{name} must be in the years 2000-2100", fields={name: "a year from 2000 to 2100"}
            )
    if not start < end <= start + MAX_RANGE:
        raise ValidationFailed(
            "end must be after start and at most 62 days later",
            fields={"end": "after start, within 62 days"},
        )
    unknown = [k for k in kind if k not in KINDS]
    if unknown:
        raise ValidationFailed(
            f"unknown kind {unknown[0]!r} (allowed: {', '.join(KINDS)})",
            fields={"kind": "unknown kind"},
        )
    view_zone = feeds.valid_zone(zone or user.timezone)
    if zone and view_zone != zone:
        raise ValidationFailed(
            f"{zone!r} is not an IANA time zone", fields={"zone": "unknown zone"}
        )
    data = collect(start, end, kinds=tuple(kind) or KINDS)
    return {
        "zone": view_zone,
        "start": start,
        "end": end,
        "problems": data.problems,
        "entries": [
            {
                "kind": e.kind,
                "title": e.title,
                "start_utc": e.start_utc,
                "end_utc": e.end_utc,
                "start_local": to_local(e.start_utc, view_zone).isoformat(),
                "end_local": to_local(e.end_utc, view_zone).isoformat(),
                "zone": e.zone,
                "all_day": list(e.days) if e.days else None,
                "detail": e.detail,
                "uid": e.uid,
            }
            for e in data.entries
        ],
    }


def _link(request: HttpRequest, name: str, owner_id: int, kind: feeds.FeedKind) -> dict[str, Any]:
    token = feeds.make_token(kind, owner_id)
    return {
        "url": request.build_absolute_uri(reverse(name, args=[owner_id, token])),
        "version": feeds.key_version(kind, owner_id),
    }


@router.get(
    "/feed", response={200: FeedLinkOut, **ERROR_RESPONSES}, summary="Your internal iCal feed link"
)
def my_feed(request: HttpRequest) -> dict[str, Any]:
    user = _staff(request)
    return _link(request, "calendars:staff_feed", user.pk, "staff")


@router.post(
    "/feed/revoke",
    response={200: FeedLinkOut, **ERROR_RESPONSES},
    summary="Revoke your feed link; get a new one",
)
def revoke_my_feed(request: HttpRequest) -> dict[str, Any]:
    user = _writer(request)
    services.rotate_feed_key(actor=actor_for(request), user=user)
    return _link(request, "calendars:staff_feed", user.pk, "staff")


def _customer(request: HttpRequest, pk: int) -> Customer:
    found: Customer | None = Customer.objects.for_user(_staff(request)).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"Customer {pk} not found.")
    return found


@router.get(
    "/customers/{customer_id}/feed",
    response={200: FeedLinkOut, **ERROR_RESPONSES},
    summary="A customer's maintenance feed link",
)
def customer_feed(request: HttpRequest, customer_id: int = CustomerId) -> dict[str, Any]:
    customer = _customer(request, customer_id)
    return _link(request, "calendars:customer_feed", customer.pk, "customer")


@router.post(
    "/customers/{customer_id}/feed/revoke",
    response={200: FeedLinkOut, **ERROR_RESPONSES},
    summary="Revoke a customer's feed link; get a new one",
)
def revoke_customer_feed(request: HttpRequest, customer_id: int = CustomerId) -> dict[str, Any]:
    customer = _customer(request, customer_id)
    _writer(request)
    services.rotate_feed_key(actor=actor_for(request), customer=customer)
    return _link(request, "calendars:customer_feed", customer.pk, "customer")
