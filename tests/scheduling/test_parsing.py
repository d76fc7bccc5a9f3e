"""The readable forms, their canonical texts, and the errors for everything else."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from releasedesk.scheduling._grammar import TimeRuleError
from releasedesk.scheduling.cadence import (
    Cadence,
    CycleOffset,
    NoMoreCycles,
    cycle_on_or_after,
    cycle_on_or_before,
)
from releasedesk.scheduling.deadlines import (
    DeadlineNotBeforeStart,
    DeadlineRule,
    deadline_for,
    evaluate_deadline,
)
from releasedesk.scheduling.durations import CalendarOffset, Duration
from releasedesk.scheduling.windows import WindowRule, next_window, occurrences

from .conftest import local, utc


@pytest.mark.parametrize(
    ("text", "expected", "described"),
    [
        ("48h", dt.timedelta(hours=48), "48 hours"),
        ("7d", dt.timedelta(days=7), "7 days"),
        ("2w", dt.timedelta(weeks=2), "2 weeks"),
        ("90m", dt.timedelta(minutes=90), "90 minutes"),
        ("0", dt.timedelta(0), "0 hours"),
        ("1d12h", dt.timedelta(hours=36), "1 day 12 hours"),
        (" 1h 30m ", dt.timedelta(minutes=90), "1 hour 30 minutes"),
    ],
)
def test_durations(text: str, expected: dt.timedelta, described: str) -> None:
    duration = Duration.parse(text)
    assert duration.delta == expected
    assert duration.describe() == described


def test_duration_equality_is_by_length_and_keeps_its_text() -> None:
    assert Duration.parse("48h") == Duration.parse("2d")
    assert Duration.parse("48h").possessive() == "48 hours'"
    assert Duration.parse("1h").possessive() == "1 hour's"
    assert Duration.parse(0) == Duration.parse(dt.timedelta(0))


@pytest.mark.parametrize("text", ["-4w", "+7d", "48", "7x", "", "1.5h", "7 days", "h"])
def test_bad_durations_name_the_allowed_forms(text: str) -> None:
    with pytest.raises(TimeRuleError, match=r"90m, 48h, 7d, 2w"):
        Duration.parse(text)


@pytest.mark.parametrize(
    ("text", "days", "described"),
    [
        ("-4w", -28, "T-4 weeks"),
        ("+7d", 7, "T+7 days"),
        ("0d", 0, "T+0 days"),
        ("7d", 7, "T+7 days"),
        ("+1w2d", 9, "T+9 days"),
        ("-1d", -1, "T-1 day"),
        (0, 0, "T+0 days"),
    ],
)
def test_calendar_offsets(text: str | int, days: int, described: str) -> None:
    offset = CalendarOffset.parse(text)
    assert offset == CalendarOffset(days)
    assert offset.describe() == described


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("48h", "absolute durations"),
        ("+1y", "months and years"),
        ("+1 month", "months and years"),
        ("soon", "-4w, +7d, 0d"),
    ],
)
def test_bad_calendar_offsets(text: str, hint: str) -> None:
    with pytest.raises(TimeRuleError, match=re.escape(hint)):
        CalendarOffset.parse(text)


@pytest.mark.parametrize(
    ("text", "canonical", "label"),
    [
        ("weekly on thursday 16:00-22:00", "weekly on thursday 16:00-22:00", "Thursday"),
        (
            "Weekly on Monday, Wednesday 09:00 - 11:00",
            "weekly on monday,wednesday 09:00-11:00",
            "Monday/Wednesday",
        ),
        ("every thursday from 16:00", "weekly on thursday 16:00-24:00", "Thursday"),
        ("daily 02:00-04:00", "daily 02:00-04:00", "daily"),
        ("daily 22:00-02:00", "daily 22:00-02:00", "daily"),
        (
            "monthly on second tuesday 18:00-20:00",
            "monthly on second tuesday 18:00-20:00",
            "second Tuesday",
        ),
        (
            "monthly on last friday from 18:00 to 23:00",
            "monthly on last friday 18:00-23:00",
            "last Friday",
        ),
        (
            "weekly on weekdays 06:00-07:00",
            "weekly on monday,tuesday,wednesday,thursday,friday 06:00-07:00",
            "Monday/Tuesday/Wednesday/Thursday/Friday",
        ),
    ],
)
def test_window_forms(text: str, canonical: str, label: str) -> None:
    rule = WindowRule.parse(text)
    assert rule.text == canonical
    assert rule.label == label
    assert WindowRule.parse(rule.text) == rule


def test_window_times_given_separately_like_the_policy_yaml() -> None:
    assert WindowRule.parse("weekly on thursday", start="16:00", end="22:00") == WindowRule.parse(
        "weekly on thursday 16:00-22:00"
    )
    raw = WindowRule.parse("RRULE:FREQ=WEEKLY;BYDAY=TH", start="16:00", end="22:00")
    zone = "Europe/Amsterdam"
    got = [
        w.start_utc
        for w in occurrences(raw, zone, utc("2027-03-01 00:00"), utc("2027-05-01 00:00"))
    ]
    want = [
        w.start_utc
        for w in occurrences(
            WindowRule.parse("weekly on thursday 16:00-22:00"),
            zone,
            utc("2027-03-01 00:00"),
            utc("2027-05-01 00:00"),
        )
    ]
    assert got == want
    assert len(got) == 9


def test_raw_rrule_with_anchor() -> None:
    rule = WindowRule.parse(
        "DTSTART:20270106\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", start="10:00", end="12:00"
    )
    assert WindowRule.parse(rule.text) == rule  # the canonical text round-trips
    window = next_window(rule, "Europe/Berlin", utc("2030-01-01 00:00"))
    assert window is not None
    assert local(window.start_utc, "Europe/Berlin") == "2030-01-02 10:00 CET"


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("weekly on thursday", {}, "no start time"),
        ("weekly on thursday 16:00-22:00", {"start": "16:00"}, "not both"),
        ("weekly on thursday 25:00-26:00", {}, "not a valid time"),
        ("weekly on thursday 16:00-16:00", {}, "must differ"),
        ("weekly on funday 16:00-22:00", {}, "not a weekday"),
        ("monthly on sixth monday 16:00-22:00", {}, "not an ordinal"),
        ("fortnightly 16:00-22:00", {}, "is not a recurrence"),
        ("every 2 weeks on wednesday 10:00-12:00", {}, "give the first date"),
        ("every 2 weeks on wednesday from 2027-01-07 10:00-12:00", {}, "is a thursday"),
        ("RRULE:FREQ=HOURLY", {"start": "10:00"}, "FREQ must be"),
        ("RRULE:FREQ=WEEKLY", {"start": "10:00"}, "needs BYDAY"),
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", {"start": "10:00"}, "need a DTSTART"),
        ("RRULE:FREQ=WEEKLY;BYDAY=WE;BYHOUR=10", {"start": "10:00"}, "BYHOUR is not allowed"),
        (
            "DTSTART;TZID=Europe/Berlin:20270106T100000\nRRULE:FREQ=WEEKLY;BYDAY=WE",
            {"start": "10:00"},
            "local date",
        ),
    ],
)
def test_window_errors(text: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(TimeRuleError, match=message):
        WindowRule.parse(text, **kwargs)


def test_cadence_forms_and_errors() -> None:
    assert (
        Cadence.parse("every 2 weeks on wednesday from 2027-01-06").text
        == "every 2 weeks on wednesday from 2027-01-06"
    )
    assert Cadence.monthly_nth("second", "tuesday") == Cadence.parse("monthly on second tuesday")
    assert Cadence.parse("monthly on day 15").text == "monthly on day 15"
    for bad, message in [
        ("daily", "weekly or monthly"),
        ("monthly on fifth monday", "not an ordinal"),
        ("weekly on monday,friday", "one weekday"),
        ("every 0 weeks on monday from 2027-01-04", "at least 1"),
        ("monthly on day 32", "1 to 31"),
        ("every 2 weeks on wednesday from 2027-13-01", "YYYY-MM-DD"),
    ]:
        with pytest.raises(TimeRuleError, match=message):
            Cadence.parse(bad)


def test_anchored_cadence_has_no_cycles_before_its_anchor() -> None:
    cadence = Cadence.parse("every 2 weeks on wednesday from 2027-01-06")
    assert cycle_on_or_after(cadence, dt.date(2026, 6, 1)) == dt.date(2027, 1, 6)
    assert cycle_on_or_before(cadence, dt.date(2027, 1, 5)) is None
    assert cycle_on_or_before(cadence, dt.date(2027, 1, 19)) == dt.date(2027, 1, 6)


def test_cadence_that_ends() -> None:
    cadence = Cadence.parse("DTSTART:20270106\nRRULE:FREQ=WEEKLY;COUNT=2;BYDAY=WE")
    assert cycle_on_or_after(cadence, dt.date(2027, 1, 7)) == dt.date(2027, 1, 13)
    with pytest.raises(NoMoreCycles, match="no cycle on or after 2027-01-14"):
        cycle_on_or_after(cadence, dt.date(2027, 1, 14))


@pytest.mark.parametrize(
    ("text", "days", "at"),
    [
        ("cycle_release + 7d at 10:00", 7, "10:00"),
        ("cycle_release + 7d, 10:00", 7, "10:00"),
        ("+7d 10:00", 7, "10:00"),
        ("cycle_release at 18:00", 0, "18:00"),
        ("18:00", 0, "18:00"),
        ("cycle_release - 1w at 09:30", -7, "09:30"),
    ],
)
def test_cycle_offsets(text: str, days: int, at: str) -> None:
    offset = CycleOffset.parse(text)
    assert offset.offset == CalendarOffset(days)
    assert f"{offset.at:%H:%M}" == at


def test_cycle_offset_errors() -> None:
    with pytest.raises(TimeRuleError, match="give a local time"):
        CycleOffset.parse("cycle_release + 7d")
    with pytest.raises(TimeRuleError, match="not understood"):
        CycleOffset.parse("next tuesday")
    assert (
        CycleOffset.parse("cycle_release + 7d at 10:00").describe()
        == "7 days after the cycle's release at 10:00"
    )


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("13:00 on upgrade day", "13:00 on the upgrade day"),
        ("13:00 on the upgrade day", "13:00 on the upgrade day"),
        ("17:00 previous working day", "17:00 on the previous working day"),
        ("17:00 2 working days before", "17:00 2 working days before"),
        ("17:00 2 days before", "17:00 2 days before"),
        ("48h before", "48 hours before the start"),
    ],
)
def test_deadline_forms(text: str, described: str) -> None:
    assert DeadlineRule.parse(text).describe() == described


def test_deadline_errors() -> None:
    for bad in ["tomorrow", "25:00 on upgrade day", "-48h before", "17:00 0 working days before"]:
        with pytest.raises(TimeRuleError):
            DeadlineRule.parse(bad)


def test_previous_working_day_skips_weekend_and_holidays() -> None:
    rule = DeadlineRule.parse("17:00 previous working day")
    monday = utc("2027-04-05 08:00")  # Easter Monday 10:00 CEST
    zone = "Europe/Amsterdam"
    assert local(deadline_for(rule, monday, zone), zone) == "2027-04-02 17:00 CEST"
    good_friday = frozenset({dt.date(2027, 3, 26), dt.date(2027, 3, 29)})
    tuesday = utc("2027-03-30 08:00")
    assert local(deadline_for(rule, tuesday, zone, good_friday), zone) == "2027-03-25 17:00 CET"


def test_deadline_not_before_start_is_reported() -> None:
    rule = DeadlineRule.parse("13:00 on upgrade day")
    start = utc("2027-02-09 09:00")  # 09:00 GMT: the 13:00 deadline is after it
    result = evaluate_deadline(rule, start, "Europe/London")
    assert not result.meetable
    assert result.reason == (
        "deadline 13:00 on the upgrade day (2027-02-09 13:00 GMT (Europe/London)) is not before "
        "the start (2027-02-09 09:00 GMT (Europe/London)): it cannot be met"
    )
    with pytest.raises(DeadlineNotBeforeStart) as caught:
        deadline_for(rule, start, "Europe/London")
    assert caught.value.deadline_utc == utc("2027-02-09 13:00")
    # equal to the start is not "before" either
    assert not evaluate_deadline(rule, utc("2027-02-09 13:00"), "Europe/London").meetable
