"""Periods of whole local days (hypercare, blackout date ranges), as UTC intervals.

A period "from 0d until +2w" around a release date covers the local dates from the
first to the last day *inclusive* (DESIGN.md §4b: "until +2 weeks" includes that
day), i.e. [local midnight of the first day, local midnight after the last day).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from releasedesk.core.timeutil import combine_local

from ._grammar import TimeRuleError
from .durations import CalendarOffset

__all__ = ["Period", "local_days", "period_around"]

Zone = zoneinfo.ZoneInfo | str


@dataclass(frozen=True, slots=True)
class Period:
    first_day: dt.date
    last_day: dt.date
    start_utc: dt.datetime
    end_utc: dt.datetime

    def contains(self, instant: dt.datetime) -> bool:
        return self.start_utc <= instant < self.end_utc


def local_days(first: dt.date, last: dt.date, zone: Zone) -> Period:
    """The local dates first..last (inclusive) in `zone` as a UTC interval."""
    if last < first:
        raise TimeRuleError(f"period ends {last.isoformat()} before it starts {first.isoformat()}")
    return Period(
        first,
        last,
        combine_local(first, dt.time(0), zone),
        combine_local(last + dt.timedelta(days=1), dt.time(0), zone),
    )


def period_around(day: dt.date, start: CalendarOffset, until: CalendarOffset, zone: Zone) -> Period:
    """{hypercare: {from: 0d, until: +2w}} around release date `day`: both ends inclusive.
    S4: 2027-06-15 from 0d until +2w -> 2027-06-15 .. 2027-06-29."""
    return local_days(start.apply(day), until.apply(day), zone)
