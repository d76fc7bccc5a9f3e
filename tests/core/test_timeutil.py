from __future__ import annotations

import datetime as dt

import pytest

from releasedesk.core.timeutil import (
    UnknownTimeZone,
    add_calendar_days,
    format_local,
    get_zone,
    local_to_utc,
)

UTC = dt.UTC


def test_spring_gap_moves_forward_to_the_transition() -> None:
    # 02:30 on 2027-03-28 does not exist in Amsterdam: the first valid instant is 03:00 CEST.
    got = local_to_utc(dt.datetime(2027, 3, 28, 2, 30), "Europe/Amsterdam")
    assert got == dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert format_local(got, "Europe/Amsterdam") == "2027-03-28 03:00 CEST (Europe/Amsterdam)"


def test_autumn_fold_takes_the_first_occurrence() -> None:
    got = local_to_utc(dt.datetime(2027, 10, 31, 2, 30), "Europe/Amsterdam")
    assert got == dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # still CEST (+2)


def test_lord_howe_half_hour_gap() -> None:
    # Lord Howe moves from +10:30 to +11 at 02:00 local on 2027-10-03.
    got = local_to_utc(dt.datetime(2027, 10, 3, 2, 15), "Australia/Lord_Howe")
    assert got.astimezone(get_zone("Australia/Lord_Howe")).strftime("%H:%M") == "02:30"


def test_calendar_offset_keeps_local_wall_time_across_dst() -> None:
    start = local_to_utc(dt.datetime(2027, 3, 25, 16, 0), "Europe/Amsterdam")  # CET
    week_later = add_calendar_days(start, 7, "Europe/Amsterdam")  # CEST
    assert week_later == dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC)
    assert week_later - start == dt.timedelta(days=7) - dt.timedelta(hours=1)


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(UnknownTimeZone, match="not an IANA time zone"):
        get_zone("Mars/Olympus")
