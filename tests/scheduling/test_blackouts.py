"""Blackouts: fixed dates, yearly dates, public holidays, ICS school calendars, freezes."""

from __future__ import annotations

import datetime as dt

import pytest

from releasedesk.scheduling._grammar import TimeRuleError
from releasedesk.scheduling.blackouts import (
    Blackouts,
    FixedDates,
    Freeze,
    IcsBlackouts,
    PublicHolidays,
    YearlyDates,
    next_window_outside_blackouts,
)
from releasedesk.scheduling.windows import WindowRule

from .conftest import local, utc

AMS = "Europe/Amsterdam"
THURSDAY = WindowRule.parse("weekly on thursday 16:00-22:00")


def spans(
    blackouts: Blackouts, start: str, end: str, zone: str = AMS
) -> list[tuple[str, str, str]]:
    return [
        (local(b.start_utc, zone), local(b.end_utc, zone), b.reason)
        for b in blackouts.intervals(utc(start), utc(end))
    ]


def test_public_holiday_reason_names_the_holiday_and_country() -> None:
    blackouts = Blackouts([PublicHolidays("NL", AMS)])
    found = blackouts.covers(utc("2027-04-27 14:00"), utc("2027-04-27 20:00"))
    assert found is not None
    assert found.reason == "Koningsdag (NL public holiday)"
    assert (local(found.start_utc, AMS), local(found.end_utc, AMS)) == (
        "2027-04-27 00:00 CEST",
        "2027-04-28 00:00 CEST",
    )
    assert blackouts.covers(utc("2027-04-28 14:00"), utc("2027-04-28 20:00")) is None


def test_swiss_whit_monday_needs_the_canton() -> None:
    whit_monday = (utc("2027-05-17 08:00"), utc("2027-05-17 09:00"))
    assert Blackouts([PublicHolidays("CH", "Europe/Zurich")]).covers(*whit_monday) is None
    found = Blackouts([PublicHolidays("CH", "Europe/Zurich", subdiv="ZH")]).covers(*whit_monday)
    assert found is not None
    assert found.reason == "Pfingstmontag (CH-ZH public holiday)"


def test_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(TimeRuleError, match="'XX' is not a known country"):
        PublicHolidays("XX", AMS)


def test_holiday_skips_the_window_with_a_reason() -> None:
    # Ascension Day, Thursday 2027-05-06, is a Dutch public holiday.
    choice = next_window_outside_blackouts(
        THURSDAY, AMS, Blackouts([PublicHolidays("NL", AMS)]), utc("2027-05-03 00:00")
    )
    assert choice.window is not None
    assert local(choice.window.start_utc, AMS) == "2027-05-13 16:00 CEST"
    assert [(local(s.window.start_utc, AMS), s.blackout.reason) for s in choice.skipped] == [
        ("2027-05-06 16:00 CEST", "Hemelvaartsdag (NL public holiday)")
    ]


def test_fixed_dates_are_inclusive_local_days() -> None:
    blackouts = Blackouts([FixedDates(dt.date(2027, 12, 20), dt.date(2028, 1, 2), AMS, "Year end")])
    assert spans(blackouts, "2027-12-01 00:00", "2028-02-01 00:00") == [
        ("2027-12-20 00:00 CET", "2028-01-03 00:00 CET", "Year end")
    ]
    assert blackouts.covers(utc("2028-01-02 22:59"), utc("2028-01-02 23:00")) is not None
    assert blackouts.covers(utc("2028-01-02 23:00"), utc("2028-01-02 23:30")) is None
    with pytest.raises(TimeRuleError, match="before it starts"):
        FixedDates(dt.date(2028, 1, 2), dt.date(2027, 12, 20), AMS, "backwards")


def test_yearly_dates_wrap_over_the_new_year() -> None:
    blackouts = Blackouts([YearlyDates("12-24", "01-02", AMS, "Christmas break")])
    assert spans(blackouts, "2027-12-30 00:00", "2027-12-31 00:00") == [
        ("2027-12-24 00:00 CET", "2028-01-03 00:00 CET", "Christmas break")
    ]
    assert spans(blackouts, "2028-01-01 00:00", "2028-01-01 01:00") == [
        ("2027-12-24 00:00 CET", "2028-01-03 00:00 CET", "Christmas break")
    ]
    with pytest.raises(TimeRuleError, match="MM-DD"):
        YearlyDates("13-01", "12-31", AMS, "bad")


def test_ics_all_day_multi_day_and_recurring_events(school_ics: bytes) -> None:
    blackouts = Blackouts([IcsBlackouts(school_ics, AMS)])
    assert spans(blackouts, "2027-01-01 00:00", "2027-04-15 00:00") == [
        ("2027-01-07 09:00 CET", "2027-01-07 17:00 CET", "Exam day (School holidays (Noord))"),
        ("2027-02-04 09:00 CET", "2027-02-04 17:00 CET", "Exam day (School holidays (Noord))"),
        # all-day, DTEND exclusive: Saturday 20 February up to and including Sunday 28 February
        (
            "2027-02-20 00:00 CET",
            "2027-03-01 00:00 CET",
            "Voorjaarsvakantie (School holidays (Noord))",
        ),
        ("2027-03-04 09:00 CET", "2027-03-04 17:00 CET", "Exam day (School holidays (Noord))"),
        # all-day without DTEND: one day
        (
            "2027-03-25 00:00 CET",
            "2027-03-26 00:00 CET",
            "Staff training day (School holidays (Noord))",
        ),
        ("2027-04-01 09:00 CEST", "2027-04-01 17:00 CEST", "Exam day (School holidays (Noord))"),
    ]
    # COUNT=6: the series ends after 2027-06-24
    assert spans(blackouts, "2027-07-01 00:00", "2028-01-01 00:00") == []


def test_ics_all_day_events_follow_the_zone_given(school_ics: bytes) -> None:
    blackouts = Blackouts([IcsBlackouts(school_ics, "America/New_York", name="NY copy")])
    (found,) = blackouts.intervals(utc("2027-03-25 12:00"), utc("2027-03-25 13:00"))
    assert local(found.start_utc, "America/New_York") == "2027-03-25 00:00 EDT"
    assert found.reason == "Staff training day (NY copy)"


def test_unreadable_ics() -> None:
    with pytest.raises(TimeRuleError, match="cannot be read"):
        IcsBlackouts("BEGIN:VCALENDAR\nthis is not ical", AMS, name="broken")


def test_freeze_and_combined_sources() -> None:
    freeze = Freeze(utc("2027-12-15 00:00"), utc("2028-01-05 00:00"), "Year-end change freeze")
    blackouts = Blackouts([PublicHolidays("NL", AMS), freeze])
    found = blackouts.covers(utc("2027-12-25 10:00"), utc("2027-12-25 11:00"))
    assert found is not None
    assert found.reason == "Year-end change freeze"  # the earliest-starting blackout wins
    choice = next_window_outside_blackouts(THURSDAY, AMS, blackouts, utc("2027-12-14 00:00"))
    assert choice.window is not None
    assert local(choice.window.start_utc, AMS) == "2028-01-06 16:00 CET"
    assert len(choice.skipped) == 3


def test_instant_inside_a_blackout() -> None:
    blackouts = Blackouts([Freeze(utc("2027-12-15 00:00"), utc("2028-01-05 00:00"))])
    assert blackouts.covers(utc("2027-12-15 00:00"), utc("2027-12-15 00:00")) is not None
    assert blackouts.covers(utc("2028-01-05 00:00"), utc("2028-01-05 00:00")) is None


def test_no_window_outside_an_endless_freeze() -> None:
    blackouts = Blackouts([Freeze(utc("2027-01-01 00:00"), utc("2040-01-01 00:00"), "forever")])
    choice = next_window_outside_blackouts(
        THURSDAY, AMS, blackouts, utc("2027-01-01 00:00"), horizon_days=60
    )
    assert choice.window is None
    assert len(choice.skipped) == 8  # the Thursdays 2027-01-07 .. 2027-02-25
