"""Hypothesis properties over all IANA zones and the years 2024-2040.

The number of examples comes from the active hypothesis profile (tests/conftest.py:
`ci` / `deep` via HYPOTHESIS_PROFILE); here only the per-example deadline is relaxed,
because the first use of a zone loads its data. Dates are drawn with a bias towards
each zone's DST transition days and times towards the small hours, where gaps and
folds live.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from functools import cache

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from releasedesk.core.timeutil import all_zones, combine_local, get_zone, to_local
from releasedesk.scheduling._recurrence import every_weeks_pattern, nth_weekday_pattern
from releasedesk.scheduling.cadence import Cadence, cycles
from releasedesk.scheduling.deadlines import (
    DeadlineNotBeforeStart,
    DeadlineRule,
    deadline_for,
    evaluate_deadline,
)
from releasedesk.scheduling.durations import CalendarOffset, Duration
from releasedesk.scheduling.notice import earliest_start_with_notice, notice_times
from releasedesk.scheduling.windows import WindowIndex, WindowRule, next_window, occurrences

UTC = dt.UTC
FIRST, LAST = dt.date(2024, 1, 1), dt.date(2040, 12, 31)
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def transitions(zone: str) -> tuple[dt.datetime, ...]:
    """Local wall times (in the old offset) at which `zone` changes offset in 2024-2040."""
    tz = get_zone(zone)
    instant = dt.datetime(2024, 1, 1, tzinfo=UTC)
    end = dt.datetime(2041, 1, 1, tzinfo=UTC)
    step = dt.timedelta(hours=12)
    found: list[dt.datetime] = []
    while instant < end:
        if (instant + step).astimezone(tz).utcoffset() != instant.astimezone(tz).utcoffset():
            lo, hi = instant, instant + step
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(
                lo.astimezone(tz).replace(tzinfo=None, microsecond=0) + dt.timedelta(seconds=1)
            )
        instant += step
    return tuple(found)


zones = st.sampled_from(all_zones())
# Zones with DST in 2024-2040, used when a drawn zone has none: 1 h, 30 min (Lord Howe),
# southern hemisphere, midnight transitions (Santiago, Havana, Asuncion), +12:45 (Chatham).
DST_ZONES = (
    "Europe/Amsterdam",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "America/Asuncion",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "Africa/Casablanca",
    "Asia/Gaza",
)
minutes = st.sampled_from([0, 15, 30, 45]) | st.integers(0, 59)
clock = st.builds(dt.time, st.integers(0, 3) | st.integers(0, 23), minutes)


@st.composite
def zone_day_time(draw: st.DrawFn) -> tuple[str, dt.date, dt.time]:
    """A zone, a local date and a local time; half the time right around one of the
    zone's DST transitions (inside its gap or fold, or just next to it)."""
    zone = draw(zones)
    if draw(st.booleans()):
        if not transitions(zone):
            zone = draw(st.sampled_from(DST_ZONES))
        wall = draw(st.sampled_from(transitions(zone)))
        wall += dt.timedelta(minutes=draw(st.integers(-70, 70)))
        wall = wall.replace(second=0)
        if FIRST <= wall.date() <= LAST:
            return zone, wall.date(), wall.time()
    return zone, draw(st.dates(FIRST, LAST)), draw(clock)


instants = st.datetimes(
    dt.datetime(2024, 1, 1), dt.datetime(2040, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
leads = st.integers(0, 60 * 24 * 30).map(lambda m: Duration(dt.timedelta(minutes=m)))
margins = st.integers(0, 240).map(lambda m: Duration(dt.timedelta(minutes=m)))


def exists(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    return any(
        naive.replace(tzinfo=tz, fold=f).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        == naive
        for f in (0, 1)
    )


def is_transition(instant: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    before = (instant - dt.timedelta(seconds=1)).astimezone(tz).utcoffset()
    return before != instant.astimezone(tz).utcoffset()


def assert_local_wall_time(instant: dt.datetime, day: dt.date, time: dt.time, zone: str) -> None:
    """`instant` is `time` on local `day` in `zone`, or the documented gap shift: when that
    local time does not exist, the instant is the transition and its wall time is later.
    Ambiguous local times take the first (earliest) occurrence."""
    tz = get_zone(zone)
    naive = dt.datetime.combine(day, time)
    wall = to_local(instant, tz).replace(tzinfo=None)
    if exists(naive, tz):
        if (
            naive.replace(tzinfo=tz, fold=0).utcoffset()
            != naive.replace(tzinfo=tz, fold=1).utcoffset()
        ):
            event("ambiguous local time (fold)")
        assert wall == naive
        earliest = min(naive.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
        assert instant == earliest
    else:
        event("non-existent local time (gap)")
        assert is_transition(instant, tz)
        assert wall > naive
        assert wall - naive < dt.timedelta(days=1)


# --- notice -----------------------------------------------------------------------


@relaxed
@given(start=instants, lead=leads, margin=margins, approved=instants)
def test_notice_lead_is_exact_in_absolute_time(
    start: dt.datetime, lead: Duration, margin: Duration, approved: dt.datetime
) -> None:
    times = notice_times(start, lead, margin=margin, approved_at=approved)
    assert start - times.must_deliver_by == lead.delta
    assert times.send_at >= approved
    assert times.feasible == (approved + margin.delta <= times.must_deliver_by)
    if times.feasible:
        assert times.send_at <= times.must_deliver_by
        assert times.must_deliver_by - times.send_at >= min(
            margin.delta, times.must_deliver_by - approved
        )


ZDT = tuple[str, dt.date, dt.time]


@relaxed
@given(
    zdt=zone_day_time(),
    hours=st.integers(2, 10),
    approved_time=clock,
    days_before=st.integers(0, 10),
    lead=leads,
    margin=margins,
)
def test_earliest_start_with_notice_is_the_first_window_that_leaves_the_lead(
    zdt: ZDT,
    hours: int,
    approved_time: dt.time,
    days_before: int,
    lead: Duration,
    margin: Duration,
) -> None:
    zone, day, start = zdt
    rule = _weekly(day.weekday(), start, hours)
    approved = dt.datetime.combine(day, approved_time, tzinfo=UTC) - lead.delta
    approved -= dt.timedelta(days=days_before)
    plan = earliest_start_with_notice(rule, zone, approved, lead, margin)
    assert plan == earliest_start_with_notice(rule, zone, approved, lead, margin)  # deterministic
    assert plan.window is not None
    assert plan.notice is not None
    assert plan.window.start_utc - lead.delta >= approved + margin.delta
    assert plan.notice.feasible
    assert plan.notice.start_utc - plan.notice.must_deliver_by == lead.delta
    assert plan.notice.send_at <= plan.notice.must_deliver_by
    assert_local_wall_time(plan.window.start_utc, plan.window.local_date, start, zone)
    for early in plan.too_early:  # every window passed over really was too early
        assert approved <= early.start_utc < approved + lead.delta + margin.delta


# --- windows ----------------------------------------------------------------------


def _weekly(weekday: int, start: dt.time, hours: int) -> WindowRule:
    end = dt.time((start.hour + hours) % 24, start.minute)
    return WindowRule(every_weeks_pattern(1, (weekday,), None), start, end)


def _begin(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day - dt.timedelta(days=3), dt.time(), tzinfo=UTC)


@relaxed
@given(zdt=zone_day_time(), hours=st.integers(2, 10))
def test_weekly_windows_keep_their_local_wall_time_and_never_drift(zdt: ZDT, hours: int) -> None:
    zone, day, start = zdt
    rule = _weekly(day.weekday(), start, hours)
    begin = _begin(day)
    windows = list(occurrences(rule, zone, begin, begin + dt.timedelta(days=2 * 365)))
    assert len(windows) in (103, 104, 105)
    for window in windows:
        assert window.local_date.weekday() == day.weekday()
        assert_local_wall_time(window.start_utc, window.local_date, rule.start, zone)
        end_day = window.local_date + dt.timedelta(days=1 if rule.crosses_midnight else 0)
        assert_local_wall_time(window.end_utc, end_day, rule.end, zone)
        assert window.start_utc < window.end_utc
        assert begin <= window.start_utc
    for earlier, later in itertools.pairwise(windows):
        assert (later.local_date - earlier.local_date).days == 7


@relaxed
@given(zdt=zone_day_time())
def test_monthly_windows_fall_on_the_nth_weekday(zdt: ZDT) -> None:
    zone, day, start = zdt
    nth = (day.day - 1) // 7 + 1
    nth = -1 if nth == 5 else nth
    weekday = day.weekday()
    rule = WindowRule(nth_weekday_pattern(nth, weekday), start, dt.time((start.hour + 3) % 24))
    begin = _begin(day)
    windows = list(occurrences(rule, zone, begin, begin + dt.timedelta(days=366)))
    assert 11 <= len(windows) <= 13
    for window in windows:
        d = window.local_date
        assert d.weekday() == weekday
        if nth > 0:
            assert (d.day - 1) // 7 == nth - 1
        else:
            assert (d + dt.timedelta(days=7)).month != d.month
        assert_local_wall_time(window.start_utc, d, start, zone)


@relaxed
@given(
    zdt=zone_day_time(),
    hours=st.integers(2, 10),
    probes=st.lists(st.integers(0, 60 * 24 * 300), min_size=1, max_size=8),
)
def test_next_window_is_deterministic_and_equals_the_index(
    zdt: ZDT, hours: int, probes: list[int]
) -> None:
    zone, day, start = zdt
    rule = _weekly(day.weekday(), start, hours)
    begin = _begin(day)
    index = WindowIndex(rule, zone, begin, begin + dt.timedelta(days=366))
    for minute in probes:
        after = begin + dt.timedelta(minutes=minute)
        first = next_window(rule, zone, after)
        again = next_window(WindowRule.parse(rule.text), zone, after)
        assert first == again == index.next(after)
        assert first is not None
        assert first.start_utc >= after
        # nothing between `after` and the answer
        assert list(occurrences(rule, zone, after, first.start_utc)) == []


# --- deadlines --------------------------------------------------------------------


@relaxed
@given(zdt=zone_day_time(), slot_time=clock)
def test_deadline_on_upgrade_day_has_the_rule_local_time_and_precedes_or_is_unmeetable(
    zdt: ZDT, slot_time: dt.time
) -> None:
    zone, day, at = zdt
    start = combine_local(day, slot_time, zone)
    slot_day = to_local(start, zone).date()
    rule = DeadlineRule("slot_day", at)
    result = evaluate_deadline(rule, start, zone)
    assert_local_wall_time(result.deadline_utc, slot_day, at, zone)
    assert result.meetable == (result.deadline_utc < start)
    if result.meetable:
        assert deadline_for(rule, start, zone) == result.deadline_utc
    else:
        with pytest.raises(DeadlineNotBeforeStart) as caught:
            deadline_for(rule, start, zone)
        assert caught.value.deadline_utc == result.deadline_utc


@relaxed
@given(
    zdt=zone_day_time(),
    slot_time=clock,
    days_after=st.integers(1, 3),
    holidays=st.sets(st.integers(1, 10), max_size=4),
)
def test_previous_working_day_deadline(
    zdt: ZDT, slot_time: dt.time, days_after: int, holidays: set[int]
) -> None:
    zone, day, at = zdt
    start = combine_local(day + dt.timedelta(days=days_after), slot_time, zone)
    slot_day = to_local(start, zone).date()
    off = frozenset(slot_day - dt.timedelta(days=n) for n in holidays)
    result = evaluate_deadline(DeadlineRule("working_days_before", at, 1), start, zone, off)
    deadline_day = slot_day - dt.timedelta(days=1)
    while deadline_day.weekday() >= 5 or deadline_day in off:
        deadline_day -= dt.timedelta(days=1)
    assert_local_wall_time(result.deadline_utc, deadline_day, at, zone)
    assert result.meetable == (result.deadline_utc < start)


@relaxed
@given(start=instants, hours=st.integers(0, 24 * 30), zone=zones)
def test_duration_deadline_is_absolute(start: dt.datetime, hours: int, zone: str) -> None:
    rule = DeadlineRule("before", duration=Duration(dt.timedelta(hours=hours)))
    result = evaluate_deadline(rule, start, zone)
    assert start - result.deadline_utc == dt.timedelta(hours=hours)


# --- calendar offsets and cadences ------------------------------------------------


@relaxed
@given(zdt=zone_day_time(), days=st.integers(-70, 70))
def test_calendar_offset_moves_the_local_date_and_keeps_the_local_time(zdt: ZDT, days: int) -> None:
    zone, target, at = zdt
    source = target - dt.timedelta(days=days)
    instant = CalendarOffset(days).at(source, at, zone)
    assert_local_wall_time(instant, target, at, zone)
    assert instant == CalendarOffset(days).at(source, at, zone)


@relaxed
@given(
    anchor=st.dates(FIRST, dt.date(2038, 12, 31)), n=st.integers(1, 8), first=st.dates(FIRST, LAST)
)
def test_every_n_weeks_cycles_are_fixed_by_the_anchor(
    anchor: dt.date, n: int, first: dt.date
) -> None:
    cadence = Cadence.every_weeks(n, anchor.weekday(), anchor)
    dates = list(cycles(cadence, first, first + dt.timedelta(days=2 * 365)))
    end = first + dt.timedelta(days=2 * 365)
    if end >= max(first, anchor) + dt.timedelta(weeks=n):
        assert dates  # a span longer than the interval, after the anchor, holds a cycle
    for d in dates:
        assert d >= anchor
        assert d >= first
        assert (d - anchor).days % (7 * n) == 0
    for earlier, later in itertools.pairwise(dates):
        assert (later - earlier).days == 7 * n


@relaxed
@given(
    anchor=st.dates(FIRST, dt.date(2030, 12, 31)),
    n=st.integers(1, 6),
    extra=st.sets(st.integers(0, 6), max_size=3),
    first=st.dates(FIRST, LAST),
)
def test_anchored_weekly_pattern_jumps_ahead_without_changing_phase(
    anchor: dt.date, n: int, extra: set[int], first: dt.date
) -> None:
    """The fast path (jumping an anchored rule close to the query date) gives the same
    dates as iterating from the anchor, also with several weekdays per week."""
    days = tuple(sorted({anchor.weekday(), *extra}))
    pattern = every_weeks_pattern(n, days, anchor)
    fast = list(itertools.islice(pattern.dates_from(first), 12))
    slow = list(itertools.islice((d for d in pattern.dates_from(anchor) if d >= first), 12))
    assert fast == slow
