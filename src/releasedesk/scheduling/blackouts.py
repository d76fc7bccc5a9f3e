"""Blackouts: periods in which no window may be used (DESIGN.md §4, issue 4).

Sources, each turned into UTC intervals [start_utc, end_utc):

- `FixedDates(first, last, zone, reason)`: local dates, both inclusive, from local
  midnight of `first` to local midnight after `last`.
- `YearlyDates("12-24", "12-26", zone, reason)`: the same local dates every year; a
  range may wrap over the new year ("12-24".."01-02"). 29 February: in a common year a
  range *ending* on 02-29 ends on 02-28 and one *starting* on 02-29 starts on 03-01,
  so a single-day 02-29 blackout only exists in leap years.
- `PublicHolidays("NL", zone)`: public holidays from the `holidays` package, by
  country and subdivision (CH needs e.g. subdiv="ZH" for Whit Monday); reason
  "Koningsdag (NL public holiday)".
- `IcsBlackouts(ics_text, zone, name)`: events of an iCalendar file (school holidays),
  expanded with recurring-ical-events. All-day events cover their local dates in
  `zone` (DTEND is exclusive, as iCalendar says); timed events keep their instant
  (floating times are read in `zone`).
- `Freeze(start_utc, end_utc, reason)`: a staff-declared global change freeze.

A window is blocked when it *overlaps* a blackout at all (half-open intervals).
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import holidays as holidays_lib
import icalendar
import recurring_ical_events

from releasedesk.core.timeutil import combine_local, ensure_aware, get_zone, local_to_utc, to_local

from ._grammar import TimeRuleError
from .periods import local_days
from .windows import DEFAULT_HORIZON_DAYS, Window, WindowRule, next_window

__all__ = [
    "Blackout",
    "BlackoutSource",
    "Blackouts",
    "FixedDates",
    "Freeze",
    "IcsBlackouts",
    "PublicHolidays",
    "Skipped",
    "WindowChoice",
    "YearlyDates",
    "next_window_outside_blackouts",
]

Zone = zoneinfo.ZoneInfo | str
_MIDNIGHT = dt.time(0)


@dataclass(frozen=True, slots=True, order=True)
class Blackout:
    start_utc: dt.datetime
    end_utc: dt.datetime
    reason: str = field(compare=False)
    kind: str = field(default="dates", compare=False)

    def overlaps(self, start_utc: dt.datetime, end_utc: dt.datetime) -> bool:
        return self.start_utc < end_utc and start_utc < self.end_utc


class BlackoutSource(Protocol):
    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Iterator[Blackout]:
        """Blackouts overlapping [start_utc, end_utc)."""
        ...


def _local_days(first: dt.date, last: dt.date, zone: Zone, reason: str, kind: str) -> Blackout:
    period = local_days(first, last, zone)
    return Blackout(period.start_utc, period.end_utc, reason, kind)


def _years(start_utc: dt.datetime, end_utc: dt.datetime, zone: Zone) -> range:
    first = to_local(start_utc, zone).year - 1
    last = to_local(end_utc, zone).year + 1
    return range(first, last + 1)


@dataclass(frozen=True, slots=True)
class FixedDates:
    first: dt.date
    last: dt.date
    zone: str
    reason: str

    def __post_init__(self) -> None:
        get_zone(self.zone)
        if self.last < self.first:
            raise TimeRuleError(
                f"blackout {self.reason!r}: ends {self.last} before it starts {self.first}"
            )

    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Iterator[Blackout]:
        blackout = _local_days(self.first, self.last, self.zone, self.reason, "dates")
        if blackout.overlaps(start_utc, end_utc):
            yield blackout


def _month_day(text: str) -> tuple[int, int]:
    try:
        month_text, day_text = text.strip().split("-")
        month, day = int(month_text), int(day_text)
        dt.date(2028, month, day)  # a leap year: 02-29 is allowed
    except ValueError as exc:
        raise TimeRuleError(f"yearly blackout date {text!r}: use MM-DD, e.g. 12-24") from exc
    return month, day


def _in_year(year: int, month: int, day: int, *, as_end: bool) -> dt.date:
    if month == 2 and day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28) if as_end else dt.date(year, 3, 1)
    return dt.date(year, month, day)


@dataclass(frozen=True, slots=True)
class YearlyDates:
    first: str  # "MM-DD"
    last: str  # "MM-DD", may be earlier in the year than `first` (wraps over new year)
    zone: str
    reason: str

    def __post_init__(self) -> None:
        _month_day(self.first)
        _month_day(self.last)
        get_zone(self.zone)

    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Iterator[Blackout]:
        fm, fd = _month_day(self.first)
        lm, ld = _month_day(self.last)
        wraps = (lm, ld) < (fm, fd)
        for year in _years(start_utc, end_utc, self.zone):
            first = _in_year(year, fm, fd, as_end=False)
            last = _in_year(year + 1 if wraps else year, lm, ld, as_end=True)
            if last < first:
                continue  # 02-29 alone in a common year
            blackout = _local_days(first, last, self.zone, self.reason, "yearly")
            if blackout.overlaps(start_utc, end_utc):
                yield blackout


@lru_cache(maxsize=256)
def _holidays_of(
    country: str, subdiv: str | None, language: str | None, year: int
) -> tuple[tuple[dt.date, str], ...]:
    table: Any = holidays_lib.country_holidays(
        country, subdiv=subdiv, years=year, language=language
    )
    return tuple(sorted((day, str(name)) for day, name in table.items()))


@dataclass(frozen=True, slots=True)
class PublicHolidays:
    country: str
    zone: str
    subdiv: str | None = None
    language: str | None = None

    def __post_init__(self) -> None:
        get_zone(self.zone)
        try:
            _holidays_of(self.country, self.subdiv, self.language, 2027)
        except NotImplementedError as exc:
            where = f"{self.country}-{self.subdiv}" if self.subdiv else self.country
            raise TimeRuleError(
                f"public holidays: {where!r} is not a known country/subdivision ({exc})"
            ) from exc

    @property
    def where(self) -> str:
        return f"{self.country}-{self.subdiv}" if self.subdiv else self.country

    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Iterator[Blackout]:
        for year in _years(start_utc, end_utc, self.zone):
            for day, name in _holidays_of(self.country, self.subdiv, self.language, year):
                blackout = _local_days(
                    day, day, self.zone, f"{name} ({self.where} public holiday)", "holiday"
                )
                if blackout.overlaps(start_utc, end_utc):
                    yield blackout


class IcsBlackouts:
    """Events of an iCalendar text as blackouts. Parsed once; pure (the caller reads the file)."""

    def __init__(self, ics: str | bytes, zone: str, name: str | None = None) -> None:
        get_zone(zone)
        try:
            self._calendar = icalendar.Calendar.from_ical(ics)
        except ValueError as exc:
            raise TimeRuleError(f"ICS {name!r} cannot be read: {exc}") from exc
        self.zone = zone
        self.name = name or str(self._calendar.get("X-WR-CALNAME", "calendar"))

    def _instant(self, value: dt.date | dt.datetime) -> dt.datetime:
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                return local_to_utc(value, self.zone)
            return ensure_aware(value)
        return combine_local(value, _MIDNIGHT, self.zone)

    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Iterator[Blackout]:
        first = to_local(start_utc, self.zone).date() - dt.timedelta(days=2)
        last = to_local(end_utc, self.zone).date() + dt.timedelta(days=2)
        found = []
        for event in recurring_ical_events.of(self._calendar).between(first, last):
            start = self._instant(event.start)
            end = self._instant(event.end) if event.get("DTEND") or event.get("DURATION") else None
            if end is None:  # no end: one day (all-day) or an instant
                end = (
                    start
                    if isinstance(event.start, dt.datetime)
                    else combine_local(event.start + dt.timedelta(days=1), _MIDNIGHT, self.zone)
                )
            summary = str(event.get("SUMMARY", "event"))
            blackout = Blackout(start, max(end, start), f"{summary} ({self.name})", "ics")
            if blackout.overlaps(start_utc, end_utc):
                found.append(blackout)
        yield from sorted(found)


@dataclass(frozen=True, slots=True)
class Freeze:
    start_utc: dt.datetime
    end_utc: dt.datetime
    reason: str = "change freeze"

    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Iterator[Blackout]:
        blackout = Blackout(
            ensure_aware(self.start_utc), ensure_aware(self.end_utc), self.reason, "freeze"
        )
        if blackout.overlaps(start_utc, end_utc):
            yield blackout


class Blackouts:
    """All blackouts that apply to a target; `covers` answers "may this slot be used?"."""

    def __init__(self, sources: Iterable[BlackoutSource]) -> None:
        self.sources: tuple[BlackoutSource, ...] = tuple(sources)

    def intervals(self, start_utc: dt.datetime, end_utc: dt.datetime) -> list[Blackout]:
        start, end = ensure_aware(start_utc), ensure_aware(end_utc)
        return sorted(b for source in self.sources for b in source.intervals(start, end))

    def covers(self, start_utc: dt.datetime, end_utc: dt.datetime) -> Blackout | None:
        """The earliest blackout overlapping [start_utc, end_utc), or None."""
        start, end = ensure_aware(start_utc), ensure_aware(end_utc)
        if end <= start:  # an instant: does a blackout contain it?
            end = start + dt.timedelta(microseconds=1)
        found = self.intervals(start, end)
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Skipped:
    window: Window
    blackout: Blackout


@dataclass(frozen=True, slots=True)
class WindowChoice:
    window: Window | None
    skipped: tuple[Skipped, ...]


def next_window_outside_blackouts(
    rule: WindowRule,
    zone: Zone,
    blackouts: Blackouts,
    after_utc: dt.datetime,
    *,
    min_start: dt.datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> WindowChoice:
    """The first window (start >= max(after, min_start)) that no blackout overlaps, and
    the windows skipped on the way with the blackout that blocked each."""
    threshold = ensure_aware(after_utc)
    if min_start is not None:
        threshold = max(threshold, ensure_aware(min_start))
    give_up = threshold + dt.timedelta(days=horizon_days)
    skipped: list[Skipped] = []
    while True:
        window = next_window(rule, zone, threshold, horizon_days=horizon_days)
        if window is None or window.start_utc > give_up:
            return WindowChoice(None, tuple(skipped))
        blackout = blackouts.covers(window.start_utc, window.end_utc)
        if blackout is None:
            return WindowChoice(window, tuple(skipped))
        skipped.append(Skipped(window, blackout))
        threshold = window.start_utc + dt.timedelta(microseconds=1)
