"""Release cadences: cycle dates fixed by the policy (anchor date + rule), DESIGN.md §4b.

    every 2 weeks on wednesday from 2027-01-06   2027-01-06, 2027-01-20, 2027-02-03, ...
    every 4 weeks on wednesday from 2027-01-06   2027-01-06, 2027-02-03, 2027-03-03, 2027-03-31
    weekly on monday                             every Monday (no anchor needed)
    monthly on second tuesday                    2027-02-09, 2027-03-09, ...
    monthly on last friday
    monthly on day 15 / day 29 / day 31          a day past the month's end falls on its
                                                 last day (day 29 -> 2027-02-28, 2028-02-29)

A cycle date is a *local date*; an anchored series starts at its anchor (no cycles
before it). "fifth <weekday>" is refused for cadences: most months have none.
A slot or task relative to a cycle is a `CycleOffset`: a calendar offset from the
cycle date, then a local time in a zone ("cycle_release + 7d at 10:00").
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

from releasedesk.core.timeutil import combine_local

from ._grammar import TimeRuleError, parse_clock, parse_ordinal, parse_weekday
from ._recurrence import (
    DatePattern,
    every_weeks_pattern,
    month_day_pattern,
    nth_weekday_pattern,
    parse_anchor,
    parse_date_pattern,
)
from .durations import CalendarOffset, parse_calendar_offset

__all__ = [
    "Cadence",
    "CycleOffset",
    "NoMoreCycles",
    "cycle_on_or_after",
    "cycle_on_or_before",
    "cycles",
    "next_cycle",
    "parse_cadence",
    "parse_cycle_offset",
]

Zone = zoneinfo.ZoneInfo | str


class NoMoreCycles(TimeRuleError):
    """The cadence has no cycle on or after the given date (a raw RRULE with COUNT/UNTIL)."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """Which local dates are cycle (release) dates. Build with `parse` or the constructors."""

    pattern: DatePattern

    @classmethod
    def parse(cls, text: str) -> Cadence:
        return parse_cadence(text)

    @classmethod
    def every_weeks(cls, n: int, weekday: str | int, anchor: str | dt.date | None) -> Cadence:
        """{every: 2 weeks, on: wednesday, from: 2027-01-06}."""
        day = parse_weekday(weekday) if isinstance(weekday, str) else weekday
        first = parse_anchor(anchor) if isinstance(anchor, str) else anchor
        return cls(every_weeks_pattern(n, (day,), first))

    @classmethod
    def monthly_nth(cls, nth: str | int, weekday: str | int) -> Cadence:
        """{monthly: second tuesday}."""
        number = parse_ordinal(nth, allow_fifth=False) if isinstance(nth, str) else nth
        if number not in (1, 2, 3, 4, -1):
            raise TimeRuleError(f"monthly on {nth!r}: use first, second, third, fourth or last")
        day = parse_weekday(weekday) if isinstance(weekday, str) else weekday
        return cls(nth_weekday_pattern(number, day))

    @classmethod
    def monthly_day(cls, day: int) -> Cadence:
        """{monthly: day 15}; days 29-31 fall on the last day of shorter months."""
        return cls(month_day_pattern(day))

    @property
    def text(self) -> str:
        return self.pattern.text

    @property
    def label(self) -> str:
        return self.pattern.label


def parse_cadence(text: str) -> Cadence:
    """'every 2 weeks on wednesday from 2027-01-06' / 'monthly on second tuesday' /
    'monthly on day 29' / 'weekly on monday' / 'DTSTART:20270106\\nRRULE:...' -> Cadence."""
    lowered = " ".join(str(text).split()).lower()
    if lowered.startswith(("daily", "every day")):
        raise TimeRuleError(f"cadence {text!r}: a cadence is weekly or monthly, not daily")
    pattern = parse_date_pattern(str(text), allow_fifth=False)
    if pattern.rrule.startswith("FREQ=WEEKLY") and pattern.rrule.count(",") > 0:
        raise TimeRuleError(f"cadence {text!r}: give one weekday per cadence")
    return Cadence(pattern)


def cycles(cadence: Cadence, start_date: dt.date, end_date: dt.date) -> Iterator[dt.date]:
    """Cycle dates in [start_date, end_date], both inclusive, ascending."""
    return cadence.pattern.dates_between(start_date, end_date)


def cycle_on_or_after(cadence: Cadence, day: dt.date) -> dt.date:
    """The first cycle date >= day (the anchor itself when day is before it)."""
    for found in cadence.pattern.dates_from(day):
        return found
    raise NoMoreCycles(f"cadence {cadence.text!r} has no cycle on or after {day.isoformat()}")


def next_cycle(cadence: Cadence, day: dt.date) -> dt.date:
    """The first cycle date strictly after `day` (the cycle after a given cycle)."""
    return cycle_on_or_after(cadence, day + dt.timedelta(days=1))


def cycle_on_or_before(cadence: Cadence, day: dt.date) -> dt.date | None:
    """The last cycle date <= day, or None before the first cycle."""
    lookback = 7 * 53  # longer than any weekly interval a policy uses, or a year of months
    found: dt.date | None = None
    for candidate in cadence.pattern.dates_between(day - dt.timedelta(days=lookback), day):
        found = candidate
    return found


_OFFSET_TEXT = re.compile(
    r"^(?:cycle(?:_|\s)release|cycle|release)?\s*(?P<offset>[+-]\s*\d+\s*[dw](?:\s*\d+\s*[dw])*)?"
    r"\s*(?:,|\bat\b)?\s*(?P<time>\d{1,2}:\d{2})?$"
)


@dataclass(frozen=True, slots=True)
class CycleOffset:
    """A slot relative to a cycle date: move the local date by `offset`, then `at` local time.

    "cycle_release + 7d at 10:00" on the 2027-02-03 cycle in Europe/Berlin is
    2027-02-10 10:00 CET = 09:00 UTC, whatever DST does in between.
    """

    offset: CalendarOffset
    at: dt.time

    @classmethod
    def parse(cls, text: str) -> CycleOffset:
        return parse_cycle_offset(text)

    def local_date(self, cycle_date: dt.date) -> dt.date:
        return self.offset.apply(cycle_date)

    def instant(self, cycle_date: dt.date, zone: Zone) -> dt.datetime:
        """UTC instant of the slot for the cycle of `cycle_date`."""
        return combine_local(self.local_date(cycle_date), self.at, zone)

    def describe(self) -> str:
        days = self.offset.days
        when = (
            "on the cycle's release day"
            if days == 0
            else f"{abs(days)} day{'s' if abs(days) != 1 else ''} "
            f"{'after' if days > 0 else 'before'} the cycle's release"
        )
        return f"{when} at {self.at:%H:%M}"


def parse_cycle_offset(text: str, *, default_time: str | None = None) -> CycleOffset:
    """'cycle_release + 7d at 10:00' / 'cycle_release + 7d, 10:00' / '+7d 10:00' /
    'cycle_release at 18:00' / '18:00' -> CycleOffset. `default_time` is used when the
    text has no time (e.g. the cycle's own `at`)."""
    source = " ".join(str(text).split())
    match = _OFFSET_TEXT.match(source.lower())
    if not source or not match:
        raise TimeRuleError(
            f"slot {text!r} is not understood: use 'cycle_release + 7d at 10:00', "
            "'cycle_release at 18:00' or '+7d 10:00'"
        )
    offset = (
        parse_calendar_offset(match.group("offset").replace(" ", ""))
        if match.group("offset")
        else CalendarOffset(0)
    )
    time_text = match.group("time") or default_time
    if not time_text:
        raise TimeRuleError(f"slot {text!r}: give a local time, e.g. 'cycle_release + 7d at 10:00'")
    return CycleOffset(offset, parse_clock(time_text, field=f"slot {text!r}"))
