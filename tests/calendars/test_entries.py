"""calendar.entries.collect: what the staff calendar shows, exactly, and its query count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.calendars import services
from releasedesk.calendars.entries import collect
from releasedesk.core.context import Actor
from releasedesk.core.timeutil import combine_local

pytestmark = pytest.mark.django_db
UTC = dt.UTC
AMS = "Europe/Amsterdam"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


# Two Amsterdam weeks around the 2027-03-28 change to summer time (and Easter).
START = combine_local(dt.date(2027, 3, 22), dt.time(0), AMS)
END = combine_local(dt.date(2027, 4, 5), dt.time(0), AMS)


def _rows(entries: list[Any]) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    return [(e.kind, e.title, e.start_utc, e.end_utc) for e in entries]


def test_policy_windows_blackouts_cycles_across_dst(school_policy: Any) -> None:
    data = collect(START, END)
    assert data.problems == []
    assert _rows(data.of_kind("window")) == [
        # 16:00-22:00 local: CET (UTC+1) before 28 March, CEST (UTC+2) after.
        (
            "window",
            "maintenance window (school-saas)",
            _utc(2027, 3, 25, 15),
            _utc(2027, 3, 25, 21),
        ),
        ("window", "maintenance window (school-saas)", _utc(2027, 4, 1, 14), _utc(2027, 4, 1, 20)),
    ]
    assert _rows(data.of_kind("cycle")) == [
        # every 2 weeks on Wednesday from 2027-01-06, at 10:00 local (CEST).
        ("cycle", "production cycle (school-saas)", _utc(2027, 3, 31, 8), _utc(2027, 3, 31, 8)),
    ]
    blackouts = data.of_kind("blackout")
    assert _rows(blackouts) == [
        (
            "blackout",
            "Blackout: Goede vrijdag (NL public holiday)",
            _utc(2027, 3, 25, 23),
            _utc(2027, 3, 26, 23),
        ),
        # Local midnight to local midnight: the 28th is 23 hours long.
        (
            "blackout",
            "Blackout: Eerste paasdag (NL public holiday)",
            _utc(2027, 3, 27, 23),
            _utc(2027, 3, 28, 22),
        ),
        (
            "blackout",
            "Blackout: Tweede paasdag (NL public holiday)",
            _utc(2027, 3, 28, 22),
            _utc(2027, 3, 29, 22),
        ),
    ]
    assert [e.days for e in blackouts] == [
        (dt.date(2027, 3, 26), dt.date(2027, 3, 26)),
        (dt.date(2027, 3, 28), dt.date(2027, 3, 28)),
        (dt.date(2027, 3, 29), dt.date(2027, 3, 29)),
    ]
    later = collect(END, combine_local(dt.date(2027, 4, 12), dt.time(0), AMS), kinds=("blackout",))
    assert _rows(later.entries) == [
        ("blackout", "Blackout: Exam days", _utc(2027, 4, 5, 22), _utc(2027, 4, 7, 22)),
    ]
    assert later.entries[0].days == (dt.date(2027, 4, 6), dt.date(2027, 4, 7))


def test_freezes_releases_steps(
    frozen_now: dt.datetime,
    vendor_admin: Any,
    school_policy: Any,
    make_release: Any,
    make_step: Any,
    saas_eu: Any,
) -> None:
    services.declare_freeze(
        actor=Actor(kind="staff", id=vendor_admin.pk),
        declared_by=vendor_admin,
        starts_at=_utc(2027, 3, 30, 6),
        ends_at=_utc(2027, 3, 30, 18),
        reason="Data-centre move",
    )
    release = make_release("5.4.0", dt.date(2027, 4, 1), title="Whiteboards")
    make_step(
        release,
        "upgrade",
        _utc(2027, 4, 1, 14),
        ends_at=_utc(2027, 4, 1, 20),
        instance=saas_eu,
        target="production",
    )
    make_step(
        release, "upgrade", _utc(2027, 4, 1, 14), ends_at=_utc(2027, 4, 1, 20), target="production"
    )
    make_step(
        release,
        "upgrade",
        _utc(2027, 4, 1, 14),
        ends_at=_utc(2027, 4, 1, 20),
        target="production",
        state="superseded",
    )
    make_step(
        release,
        "stage_gate",
        _utc(2027, 3, 22, 8),
        ends_at=_utc(2027, 3, 24, 16),
        label="service acceptance",
    )
    make_step(
        release,
        "hypercare",
        combine_local(dt.date(2027, 4, 1), dt.time(0), AMS),
        ends_at=combine_local(dt.date(2027, 4, 16), dt.time(0), AMS),
        label="Hypercare: expect more tickets",
    )
    data = collect(START, END, kinds=("freeze", "release", "upgrade", "stage", "hypercare"))
    assert _rows(data.entries) == [
        ("stage", "5.4.0: service acceptance", _utc(2027, 3, 22, 8), _utc(2027, 3, 24, 16)),
        ("freeze", "Change freeze: Data-centre move", _utc(2027, 3, 30, 6), _utc(2027, 3, 30, 18)),
        # The target date is a local date in the policy zone: Amsterdam midnight to midnight.
        ("release", "Release 5.4.0 Whiteboards", _utc(2027, 3, 31, 22), _utc(2027, 4, 1, 22)),
        (
            "hypercare",
            "5.4.0: Hypercare: expect more tickets",
            _utc(2027, 3, 31, 22),
            _utc(2027, 4, 15, 22),
        ),
        # Two pending upgrade steps in one slot: one entry with the count (superseded not shown).
        (
            "upgrade",
            "Upgrade 5.4.0 (production): 2 instances",
            _utc(2027, 4, 1, 14),
            _utc(2027, 4, 1, 20),
        ),
    ]
    by_kind = {e.kind: e for e in data.entries}
    assert by_kind["freeze"].detail == "Applies to all products"
    assert by_kind["release"].days == (dt.date(2027, 4, 1), dt.date(2027, 4, 1))
    assert by_kind["hypercare"].days == (dt.date(2027, 4, 1), dt.date(2027, 4, 15))
    assert by_kind["release"].url == f"/releases/{release.pk}/"


def test_query_count_does_not_grow(
    django_assert_max_num_queries: Any,
    frozen_now: dt.datetime,
    school_policy: Any,
    make_release: Any,
    make_step: Any,
    presenter: Any,
) -> None:
    from releasedesk.catalog.models import Instance

    def add(n: int) -> None:
        for i in range(n):
            release = make_release(f"6.{n}.{i}", dt.date(2027, 3, 24) + dt.timedelta(days=i % 10))
            for j in range(3):
                inst = Instance.objects.create(
                    slug=f"i-{n}-{i}-{j}",
                    name=f"I {n} {i} {j}",
                    kind="dedicated",
                    product=presenter,
                )
                make_step(release, "upgrade", _utc(2027, 3, 25, 15 + j), instance=inst)
            make_step(release, "stage_gate", _utc(2027, 3, 23, 8), ends_at=_utc(2027, 3, 24, 8))
            make_step(release, "hypercare", _utc(2027, 3, 26, 8), ends_at=_utc(2027, 3, 30, 8))

    add(1)
    with django_assert_max_num_queries(7):
        small = collect(START, END)
    add(25)
    with django_assert_max_num_queries(7):
        big = collect(START, END)
    assert len(big.of_kind("release")) == 26
    assert len(big.of_kind("stage")) == 26
    assert len(small.of_kind("upgrade")) == 3
