"""ChangeFreeze: declare/lift services (validation, audit) and the active_freezes selector."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.calendars import services
from releasedesk.calendars.models import ChangeFreeze
from releasedesk.calendars.selectors import active_freezes
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, NotFound, ValidationFailed
from releasedesk.scheduling.blackouts import Blackouts, Freeze

pytestmark = pytest.mark.django_db
UTC = dt.UTC
AMS = dt.timezone(dt.timedelta(hours=1))


def _actor(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


def _declare(
    user: Any, start: dt.datetime, end: dt.datetime, reason: str = "Year end", **kw: Any
) -> ChangeFreeze:
    return services.declare_freeze(
        actor=_actor(user), declared_by=user, starts_at=start, ends_at=end, reason=reason, **kw
    )


def test_declare_stores_utc_and_audits(frozen_now: dt.datetime, vendor_admin: Any) -> None:
    freeze = _declare(
        vendor_admin,
        dt.datetime(2027, 12, 20, 0, 0, tzinfo=AMS),
        dt.datetime(2028, 1, 3, 0, 0, tzinfo=AMS),
        reason="  Year-end   freeze ",
    )
    freeze.refresh_from_db()
    assert freeze.starts_at == dt.datetime(2027, 12, 19, 23, 0, tzinfo=UTC)
    assert freeze.ends_at == dt.datetime(2028, 1, 2, 23, 0, tzinfo=UTC)
    assert freeze.reason == "Year-end freeze"
    assert freeze.all_products is True
    assert freeze.declared_by == vendor_admin
    event = AuditEvent.objects.get(action="freeze.declared")
    assert event.scope == "calendars.freeze"
    assert event.object_type == "calendars.changefreeze"
    assert event.object_id == str(freeze.pk)
    assert event.actor_kind == "staff"
    assert event.actor_id == vendor_admin.pk
    assert event.after == {
        "starts_at": "2027-12-19T23:00:00+00:00",
        "ends_at": "2028-01-02T23:00:00+00:00",
        "reason": "Year-end freeze",
        "all_products": True,
        "products": [],
        "lifted_at": None,
        "lift_reason": "",
    }


@pytest.mark.parametrize(
    ("start", "end", "reason", "field", "message"),
    [
        (
            dt.datetime(2027, 5, 2, tzinfo=UTC),
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            "x",
            "ends_at",
            "the freeze ends (2027-05-01 00:00 UTC) at or before it starts (2027-05-02 00:00 UTC): the end must be after the start",
        ),
        (
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            "x",
            "ends_at",
            "the freeze ends (2027-05-01 00:00 UTC) at or before it starts (2027-05-01 00:00 UTC): the end must be after the start",
        ),
        (
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            dt.datetime(2027, 5, 2, tzinfo=UTC),
            "   ",
            "reason",
            "a reason is required: say why",
        ),
        (
            dt.datetime(2027, 5, 1),
            dt.datetime(2027, 5, 2, tzinfo=UTC),
            "x",
            "starts_at",
            "starts_at 2027-05-01T00:00:00 has no time zone: give an instant with an offset or Z",
        ),
        (
            dt.datetime(2027, 1, 1, tzinfo=UTC),
            dt.datetime(2027, 2, 1, tzinfo=UTC),
            "x",
            "ends_at",
            "the freeze would end 2027-02-01 00:00 UTC, which is already past",
        ),
        (
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            dt.datetime(2028, 5, 2, tzinfo=UTC),
            "x",
            "ends_at",
            "a freeze may last at most 366 days; this one lasts 367",
        ),
    ],
)
def test_declare_validation_changes_nothing(
    frozen_now: dt.datetime,
    vendor_admin: Any,
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    field: str,
    message: str,
) -> None:
    with pytest.raises(ValidationFailed) as info:
        _declare(vendor_admin, start, end, reason=reason)
    assert info.value.message == message
    assert list(info.value.fields) == [field]
    assert ChangeFreeze.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="freeze.").exists()


def test_reason_too_long(frozen_now: dt.datetime, vendor_admin: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        _declare(
            vendor_admin,
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            dt.datetime(2027, 5, 2, tzinfo=UTC),
            reason="x" * 301,
        )
    assert info.value.fields == {"reason": "at most 300 characters"}


def test_lift_audits_and_stops_blocking(
    frozen_now: dt.datetime, vendor_admin: Any, cto: Any
) -> None:
    freeze = _declare(
        vendor_admin, dt.datetime(2027, 3, 1, tzinfo=UTC), dt.datetime(2027, 3, 8, tzinfo=UTC)
    )
    window = (dt.datetime(2027, 3, 2, tzinfo=UTC), dt.datetime(2027, 3, 3, tzinfo=UTC))
    assert active_freezes(*window) == [
        Freeze(freeze.starts_at, freeze.ends_at, "Change freeze: Year end")
    ]
    lifted = services.lift_freeze(
        actor=_actor(cto), freeze=freeze, lifted_by=cto, reason="Incident closed"
    )
    assert lifted.lifted_at == frozen_now
    assert lifted.lifted_by == cto
    assert lifted.lift_reason == "Incident closed"
    assert active_freezes(*window) == []
    event = AuditEvent.objects.get(action="freeze.lifted")
    assert event.actor_id == cto.pk
    assert event.before is not None
    assert event.before["lifted_at"] is None
    assert event.after is not None
    assert event.after["lifted_at"] == "2027-03-01T09:00:00+00:00"
    assert event.after["lift_reason"] == "Incident closed"

    with pytest.raises(Conflict) as info:
        services.lift_freeze(actor=_actor(cto), freeze=freeze.pk, lifted_by=cto, reason="again")
    assert (
        info.value.message
        == f"Change freeze {freeze.pk} was already lifted at 2027-03-01 09:00 UTC"
    )


def test_lift_needs_reason_and_existing_freeze(frozen_now: dt.datetime, vendor_admin: Any) -> None:
    freeze = _declare(
        vendor_admin, dt.datetime(2027, 3, 1, tzinfo=UTC), dt.datetime(2027, 3, 8, tzinfo=UTC)
    )
    with pytest.raises(ValidationFailed):
        services.lift_freeze(
            actor=_actor(vendor_admin), freeze=freeze, lifted_by=vendor_admin, reason=""
        )
    with pytest.raises(NotFound):
        services.lift_freeze(
            actor=_actor(vendor_admin), freeze=999, lifted_by=vendor_admin, reason="x"
        )
    freeze.refresh_from_db()
    assert freeze.lifted_at is None


def test_active_freezes_product_scope_and_half_open(
    frozen_now: dt.datetime, vendor_admin: Any, presenter: Any, sso: Any
) -> None:
    everything = _declare(
        vendor_admin,
        dt.datetime(2027, 4, 1, tzinfo=UTC),
        dt.datetime(2027, 4, 2, tzinfo=UTC),
        "All",
    )
    only_sso = _declare(
        vendor_admin,
        dt.datetime(2027, 4, 1, 12, tzinfo=UTC),
        dt.datetime(2027, 4, 3, tzinfo=UTC),
        "SSO migration",
        products=[sso],
    )
    span = (dt.datetime(2027, 3, 31, tzinfo=UTC), dt.datetime(2027, 4, 5, tzinfo=UTC))
    assert [f.reason for f in active_freezes(*span)] == [
        "Change freeze: All",
        "Change freeze: SSO migration",
    ]
    assert [f.reason for f in active_freezes(*span, products=[presenter])] == ["Change freeze: All"]
    assert [f.reason for f in active_freezes(*span, products=[sso, presenter])] == [
        "Change freeze: All",
        "Change freeze: SSO migration",
    ]
    assert [f.reason for f in active_freezes(*span, products=[sso.pk])] == [
        "Change freeze: All",
        "Change freeze: SSO migration",
    ]
    # Half-open: a query ending exactly at the start, or starting exactly at the end, misses.
    assert active_freezes(dt.datetime(2027, 3, 31, tzinfo=UTC), everything.starts_at) == []
    assert active_freezes(only_sso.ends_at, dt.datetime(2027, 4, 9, tzinfo=UTC)) == []


def test_freezes_work_as_blackout_sources(frozen_now: dt.datetime, vendor_admin: Any) -> None:
    _declare(
        vendor_admin,
        dt.datetime(2027, 4, 1, 14, tzinfo=UTC),
        dt.datetime(2027, 4, 1, 18, tzinfo=UTC),
        "Board demo",
    )
    blackouts = Blackouts(
        active_freezes(dt.datetime(2027, 3, 1, tzinfo=UTC), dt.datetime(2027, 5, 1, tzinfo=UTC))
    )
    hit = blackouts.covers(
        dt.datetime(2027, 4, 1, 17, tzinfo=UTC), dt.datetime(2027, 4, 1, 19, tzinfo=UTC)
    )
    assert hit is not None
    assert (hit.start_utc, hit.end_utc, hit.reason, hit.kind) == (
        dt.datetime(2027, 4, 1, 14, tzinfo=UTC),
        dt.datetime(2027, 4, 1, 18, tzinfo=UTC),
        "Change freeze: Board demo",
        "freeze",
    )
    assert (
        blackouts.covers(
            dt.datetime(2027, 4, 1, 18, tzinfo=UTC), dt.datetime(2027, 4, 1, 20, tzinfo=UTC)
        )
        is None
    )


@pytest.mark.parametrize("reason", ["nul\x00byte", "lone \ud800 surrogate", "bell\x07"])
def test_reason_must_be_printable(frozen_now: dt.datetime, vendor_admin: Any, reason: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        _declare(
            vendor_admin,
            dt.datetime(2027, 5, 1, tzinfo=UTC),
            dt.datetime(2027, 5, 2, tzinfo=UTC),
            reason=reason,
        )
    assert info.value.message == "the reason contains control characters"
    assert ChangeFreeze.objects.count() == 0


def test_freeze_facts_for_the_planner(frozen_now: dt.datetime, vendor_admin: Any, sso: Any) -> None:
    from releasedesk.calendars.selectors import freeze_facts
    from releasedesk.planning.types import FreezeFact

    _declare(
        vendor_admin,
        dt.datetime(2027, 4, 1, 14, tzinfo=UTC),
        dt.datetime(2027, 4, 1, 18, tzinfo=UTC),
        "SSO only",
        products=[sso],
    )
    span = (dt.datetime(2027, 4, 1, tzinfo=UTC), dt.datetime(2027, 4, 2, tzinfo=UTC))
    assert freeze_facts(*span, products=[sso]) == (
        FreezeFact(
            start=dt.datetime(2027, 4, 1, 14, tzinfo=UTC),
            end=dt.datetime(2027, 4, 1, 18, tzinfo=UTC),
            reason="Change freeze: SSO only",
        ),
    )
    assert freeze_facts(*span, products=[]) == ()
