"""Explicit tables per zone (DESIGN.md §4) and 29 February 2028, to the minute."""

from __future__ import annotations

import datetime as dt

import pytest

from releasedesk.scheduling.blackouts import Blackouts, YearlyDates
from releasedesk.scheduling.cadence import Cadence, cycles
from releasedesk.scheduling.deadlines import DeadlineRule, deadline_for
from releasedesk.scheduling.durations import CalendarOffset, Duration
from releasedesk.scheduling.notice import notice_times
from releasedesk.scheduling.windows import WindowRule, next_window, occurrences

from .conftest import in_utc, local, utc


def window_on(rule_text: str, zone: str, day: str) -> tuple[str, str, str, str]:
    """The window of `rule_text` opening on local date `day`: local and UTC start/end."""
    rule = WindowRule.parse(rule_text)
    window = rule.window_on(dt.date.fromisoformat(day), zone)
    assert window is not None
    return (
        local(window.start_utc, zone),
        local(window.end_utc, zone),
        in_utc(window.start_utc),
        in_utc(window.end_utc),
    )


# (zone, rule, local date) -> (local start, local end, UTC start, UTC end)
WINDOW_TABLE = [
    # Europe/Amsterdam: spring forward 2027-03-28 02:00 -> 03:00; fall back 2027-10-31 03:00 -> 02:00
    (
        "Europe/Amsterdam",
        "daily 02:30-04:00",
        "2027-03-27",
        ("2027-03-27 02:30 CET", "2027-03-27 04:00 CET", "2027-03-27 01:30", "2027-03-27 03:00"),
    ),
    (
        "Europe/Amsterdam",
        "daily 02:30-04:00",
        "2027-03-28",  # gap: 02:30 -> 03:00
        ("2027-03-28 03:00 CEST", "2027-03-28 04:00 CEST", "2027-03-28 01:00", "2027-03-28 02:00"),
    ),
    (
        "Europe/Amsterdam",
        "daily 02:30-04:00",
        "2027-10-31",  # fold: first 02:30 (CEST)
        ("2027-10-31 02:30 CEST", "2027-10-31 04:00 CET", "2027-10-31 00:30", "2027-10-31 03:00"),
    ),
    (
        "Europe/Amsterdam",
        "weekly on thursday 16:00-22:00",
        "2027-03-25",
        ("2027-03-25 16:00 CET", "2027-03-25 22:00 CET", "2027-03-25 15:00", "2027-03-25 21:00"),
    ),
    (
        "Europe/Amsterdam",
        "weekly on thursday 16:00-22:00",
        "2027-04-01",
        ("2027-04-01 16:00 CEST", "2027-04-01 22:00 CEST", "2027-04-01 14:00", "2027-04-01 20:00"),
    ),
    (
        "Europe/Amsterdam",
        "daily 22:00-02:00",
        "2027-03-27",  # crosses midnight and the gap
        ("2027-03-27 22:00 CET", "2027-03-28 03:00 CEST", "2027-03-27 21:00", "2027-03-28 01:00"),
    ),
    # Europe/London: 2027-03-28 01:00 -> 02:00; 2027-10-31 02:00 -> 01:00
    (
        "Europe/London",
        "daily 01:30-03:00",
        "2027-03-28",
        ("2027-03-28 02:00 BST", "2027-03-28 03:00 BST", "2027-03-28 01:00", "2027-03-28 02:00"),
    ),
    (
        "Europe/London",
        "daily 01:30-03:00",
        "2027-10-31",
        ("2027-10-31 01:30 BST", "2027-10-31 03:00 GMT", "2027-10-31 00:30", "2027-10-31 03:00"),
    ),
    (
        "Europe/London",
        "monthly on second tuesday 18:00-20:00",
        "2027-02-09",
        ("2027-02-09 18:00 GMT", "2027-02-09 20:00 GMT", "2027-02-09 18:00", "2027-02-09 20:00"),
    ),
    (
        "Europe/London",
        "monthly on second tuesday 18:00-20:00",
        "2027-04-13",
        ("2027-04-13 18:00 BST", "2027-04-13 20:00 BST", "2027-04-13 17:00", "2027-04-13 19:00"),
    ),
    # America/New_York: 2027-03-14 02:00 -> 03:00; 2027-11-07 02:00 -> 01:00
    (
        "America/New_York",
        "daily 02:30-04:00",
        "2027-03-14",
        ("2027-03-14 03:00 EDT", "2027-03-14 04:00 EDT", "2027-03-14 07:00", "2027-03-14 08:00"),
    ),
    (
        "America/New_York",
        "daily 01:30-03:00",
        "2027-11-07",
        ("2027-11-07 01:30 EDT", "2027-11-07 03:00 EST", "2027-11-07 05:30", "2027-11-07 08:00"),
    ),
    (
        "America/New_York",
        "weekly on monday,wednesday 09:00-11:00",
        "2027-03-15",
        ("2027-03-15 09:00 EDT", "2027-03-15 11:00 EDT", "2027-03-15 13:00", "2027-03-15 15:00"),
    ),
    # Australia/Sydney: 2027-04-04 03:00 -> 02:00; 2027-10-03 02:00 -> 03:00
    (
        "Australia/Sydney",
        "daily 02:30-04:00",
        "2027-10-03",
        ("2027-10-03 03:00 AEDT", "2027-10-03 04:00 AEDT", "2027-10-02 16:00", "2027-10-02 17:00"),
    ),
    (
        "Australia/Sydney",
        "daily 02:30-04:00",
        "2027-04-04",
        ("2027-04-04 02:30 AEDT", "2027-04-04 04:00 AEST", "2027-04-03 15:30", "2027-04-03 18:00"),
    ),
    (
        "Australia/Sydney",
        "monthly on last friday 18:00-20:00",
        "2027-07-30",
        ("2027-07-30 18:00 AEST", "2027-07-30 20:00 AEST", "2027-07-30 08:00", "2027-07-30 10:00"),
    ),
    # Australia/Lord_Howe: a 30-minute shift, +10:30 <-> +11 at 02:00
    (
        "Australia/Lord_Howe",
        "daily 02:15-03:00",
        "2027-10-03",  # gap 02:00-02:30
        ("2027-10-03 02:30 +11", "2027-10-03 03:00 +11", "2027-10-02 15:30", "2027-10-02 16:00"),
    ),
    (
        "Australia/Lord_Howe",
        "daily 01:45-03:00",
        "2027-04-04",  # fold 01:30-02:00
        ("2027-04-04 01:45 +11", "2027-04-04 03:00 +1030", "2027-04-03 14:45", "2027-04-03 16:30"),
    ),
    # Asia/Kolkata: no DST, +05:30 all year
    (
        "Asia/Kolkata",
        "weekly on thursday 16:00-22:00",
        "2027-03-25",
        ("2027-03-25 16:00 IST", "2027-03-25 22:00 IST", "2027-03-25 10:30", "2027-03-25 16:30"),
    ),
    (
        "Asia/Kolkata",
        "weekly on thursday 16:00-22:00",
        "2027-11-04",
        ("2027-11-04 16:00 IST", "2027-11-04 22:00 IST", "2027-11-04 10:30", "2027-11-04 16:30"),
    ),
]


@pytest.mark.parametrize(("zone", "rule", "day", "expected"), WINDOW_TABLE)
def test_window_table(zone: str, rule: str, day: str, expected: tuple[str, ...]) -> None:
    assert window_on(rule, zone, day) == expected


def test_window_vanishing_in_a_gap_is_skipped() -> None:
    rule = WindowRule.parse("daily 02:00-02:30")
    zone = "Europe/Amsterdam"
    assert rule.window_on(dt.date(2027, 3, 28), zone) is None
    days = [
        w.local_date.isoformat()
        for w in occurrences(rule, zone, utc("2027-03-27 00:00"), utc("2027-03-30 00:00"))
    ]
    assert days == ["2027-03-27", "2027-03-29"]


# 48 hours' notice is 48 real hours; the local wall clock shows 47 or 49.
NOTICE_TABLE = [
    ("Europe/Amsterdam", "2027-03-29 08:00", "48h", "2027-03-27 09:00 CET"),  # start 10:00 CEST
    ("Europe/Amsterdam", "2027-11-01 09:00", "48h", "2027-10-30 11:00 CEST"),  # start 10:00 CET
    ("Europe/London", "2027-03-29 09:00", "48h", "2027-03-27 09:00 GMT"),  # start 10:00 BST
    ("America/New_York", "2027-03-15 14:00", "7d", "2027-03-08 09:00 EST"),  # start 10:00 EDT
    ("Australia/Sydney", "2027-10-03 23:00", "48h", "2027-10-02 09:00 AEST"),  # start 10:00 AEDT
    ("Australia/Lord_Howe", "2027-10-02 23:00", "24h", "2027-10-02 09:30 +1030"),  # start 10:00 +11
    ("Asia/Kolkata", "2027-03-29 04:30", "48h", "2027-03-27 10:00 IST"),  # start 10:00 IST
]


@pytest.mark.parametrize(("zone", "start", "lead", "deliver_by_local"), NOTICE_TABLE)
def test_notice_table(zone: str, start: str, lead: str, deliver_by_local: str) -> None:
    times = notice_times(utc(start), Duration.parse(lead))
    assert local(times.must_deliver_by, zone) == deliver_by_local
    assert times.start_utc - times.must_deliver_by == Duration.parse(lead).delta


def test_calendar_day_on_lord_howe_lasts_23_and_a_half_hours() -> None:
    zone = "Australia/Lord_Howe"
    before = CalendarOffset(0).at(dt.date(2027, 10, 2), dt.time(12, 0), zone)
    after = CalendarOffset(1).at(dt.date(2027, 10, 2), dt.time(12, 0), zone)
    assert after - before == dt.timedelta(hours=23, minutes=30)
    assert local(after, zone) == "2027-10-03 12:00 +11"


DEADLINE_TABLE = [
    # (zone, slot start UTC, rule, deadline local)
    ("Europe/London", "2027-03-30 17:00", "13:00 on upgrade day", "2027-03-30 13:00 BST"),
    ("Europe/Amsterdam", "2027-03-29 08:00", "17:00 previous working day", "2027-03-26 17:00 CET"),
    ("America/New_York", "2027-03-15 13:00", "17:00 2 days before", "2027-03-13 17:00 EST"),
    ("Australia/Sydney", "2027-10-03 01:00", "02:30 on upgrade day", "2027-10-03 03:00 AEDT"),
    ("Asia/Kolkata", "2027-03-25 10:30", "48h before", "2027-03-23 16:00 IST"),
]


@pytest.mark.parametrize(("zone", "start", "rule", "expected"), DEADLINE_TABLE)
def test_deadline_table(zone: str, start: str, rule: str, expected: str) -> None:
    assert local(deadline_for(DeadlineRule.parse(rule), utc(start), zone), zone) == expected


class TestLeapDay2028:
    zone = "Europe/Amsterdam"

    def test_monthly_day_29_falls_on_the_last_day_of_february(self) -> None:
        dates = list(cycles(Cadence.monthly_day(29), dt.date(2027, 1, 1), dt.date(2028, 3, 31)))
        assert dt.date(2027, 2, 28) in dates
        assert dt.date(2028, 2, 29) in dates
        assert dt.date(2028, 2, 28) not in dates
        assert len(dates) == 15  # one per month

    def test_monthly_window_on_day_31(self) -> None:
        rule = WindowRule.parse("monthly on day 31 10:00-12:00")
        window = next_window(rule, self.zone, utc("2028-02-01 00:00"))
        assert window is not None
        assert local(window.start_utc, self.zone) == "2028-02-29 10:00 CET"

    def test_yearly_blackout_on_29_february_exists_only_in_leap_years(self) -> None:
        leap_day = Blackouts([YearlyDates("02-29", "02-29", self.zone, "Leap day")])
        assert leap_day.covers(utc("2028-02-29 10:00"), utc("2028-02-29 11:00")) is not None
        assert leap_day.intervals(utc("2027-01-01 00:00"), utc("2028-01-01 00:00")) == []

    def test_yearly_range_ending_on_29_february(self) -> None:
        february = Blackouts([YearlyDates("02-01", "02-29", self.zone, "February")])
        (common,) = february.intervals(utc("2027-02-10 00:00"), utc("2027-02-11 00:00"))
        assert local(common.end_utc, self.zone) == "2027-03-01 00:00 CET"
        (leap,) = february.intervals(utc("2028-02-10 00:00"), utc("2028-02-11 00:00"))
        assert local(leap.end_utc, self.zone) == "2028-03-01 00:00 CET"
        assert local(leap.start_utc, self.zone) == "2028-02-01 00:00 CET"

    def test_calendar_offsets_across_29_february(self) -> None:
        # no "+1 year": +52w from the leap day lands on a Tuesday again
        assert CalendarOffset.parse("+52w").apply(dt.date(2028, 2, 29)) == dt.date(2029, 2, 27)
        assert CalendarOffset.parse("+1d").apply(dt.date(2028, 2, 28)) == dt.date(2028, 2, 29)
        moved = CalendarOffset.parse("-4w").at(dt.date(2028, 3, 28), dt.time(17), self.zone)
        assert local(moved, self.zone) == "2028-02-29 17:00 CET"

    def test_previous_working_day_is_the_leap_day(self) -> None:
        start = utc("2028-03-01 09:00")  # Wednesday 10:00 CET
        deadline = deadline_for(DeadlineRule.parse("17:00 previous working day"), start, self.zone)
        assert local(deadline, self.zone) == "2028-02-29 17:00 CET"
