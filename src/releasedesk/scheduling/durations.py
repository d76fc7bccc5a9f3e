"""Two kinds of "how long", kept apart on purpose (DESIGN.md §4).

- `Duration` is an *absolute* amount of elapsed time ("48h", "7d", "1d12h"): lead
  times, "48h before". It is subtracted from UTC instants only, so a 48 h notice
  is 48 real hours even across a DST change. A "d" here is 24 hours.
- `CalendarOffset` moves a *local date* ("-4w", "+7d", "0d") and keeps the local
  time of day: T-4 weeks, "7 days after the cycle's release". A "d" here is one
  calendar day, which may last 23, 24 or 25 hours (or 23.5 on Lord Howe Island).

Months and years are deliberately not offered: "+1 month" from 31 January or
"+1 year" from 29 February has no single answer. Write "+4w" or "+52w" instead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from releasedesk.core.timeutil import combine_local

from ._grammar import TimeRuleError, plural

__all__ = [
    "CalendarOffset",
    "Duration",
    "TimeRuleError",
    "parse_calendar_offset",
    "parse_duration",
]

_DURATION_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}
_DURATION_RE = re.compile(r"^(?:\s*\d+\s*[wdhm])+\s*$")
_DURATION_PART = re.compile(r"(\d+)\s*([wdhm])")
_DURATION_FORMS = "a number with a unit: 90m, 48h, 7d, 2w, or a combination like 1d12h; or 0"

_OFFSET_RE = re.compile(r"^([+-]?)\s*((?:\d+\s*[wd]\s*)+)$")
_OFFSET_PART = re.compile(r"(\d+)\s*([wd])")
_OFFSET_FORMS = "a signed number of days or weeks: -4w, +7d, 0d, or a combination like +1w2d"


@dataclass(frozen=True, slots=True)
class Duration:
    """An absolute, non-negative amount of elapsed time (a lead time, a margin).

    Equality is by length only: Duration.parse("48h") == Duration.parse("2d").
    `text` keeps how it was written, for messages ("48 hours", not "2 days").
    """

    delta: dt.timedelta
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.delta < dt.timedelta(0):
            raise TimeRuleError(f"a duration cannot be negative ({self.delta})")

    @classmethod
    def parse(cls, value: str | int | dt.timedelta | Duration) -> Duration:
        return parse_duration(value)

    @classmethod
    def of(cls, **kwargs: float) -> Duration:
        """Duration.of(hours=48) — for code and tests."""
        return cls(dt.timedelta(**kwargs))

    def describe(self) -> str:
        """'48 hours', '7 days', '1 day 12 hours', '0 hours' (from the written form)."""
        source = self.text or _canonical(self.delta)
        parts = _DURATION_PART.findall(source)
        names = {"w": "week", "d": "day", "h": "hour", "m": "minute"}
        words = [plural(int(n), names[u]) for n, u in parts]
        return " ".join(words) if words else "0 hours"

    def possessive(self) -> str:
        """'7 days'' / '1 hour's' — for "leaves 7 days' notice"."""
        text = self.describe()
        return text + "'" if text.endswith("s") else text + "'s"

    def __str__(self) -> str:
        return self.text or _canonical(self.delta)


def _canonical(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0"
    out = []
    for unit in ("d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out) or "0"


def parse_duration(value: str | int | dt.timedelta | Duration) -> Duration:
    """'48h' -> Duration(48 hours). Accepts a Duration or timedelta unchanged, and 0."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, dt.timedelta):
        return Duration(value)
    if isinstance(value, bool) or (isinstance(value, int) and value != 0):
        raise TimeRuleError(f"duration {value!r}: give a unit ({_DURATION_FORMS})")
    if isinstance(value, int):
        return Duration(dt.timedelta(0), "0")
    text = str(value).strip().lower()
    if text == "0":
        return Duration(dt.timedelta(0), "0")
    if text.startswith(("+", "-")):
        raise TimeRuleError(
            f"duration {value!r}: an absolute duration has no sign ({_DURATION_FORMS}); "
            "for a date offset use a calendar offset such as -4w"
        )
    if not _DURATION_RE.match(text):
        raise TimeRuleError(f"duration {value!r} is not understood: use {_DURATION_FORMS}")
    seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))
    return Duration(dt.timedelta(seconds=seconds), text.replace(" ", ""))


@dataclass(frozen=True, slots=True, order=True)
class CalendarOffset:
    """A move of the local date by whole calendar days (weeks are 7 days).

    Applied to a local date; the local time of day is then chosen separately and
    converted with the gap/fold rules (`at`), so "T-4w at 17:00" is 17:00 local.
    """

    days: int

    @classmethod
    def parse(cls, value: str | int | CalendarOffset) -> CalendarOffset:
        return parse_calendar_offset(value)

    def apply(self, day: dt.date) -> dt.date:
        return day + dt.timedelta(days=self.days)

    def at(self, day: dt.date, time: dt.time, zone: str) -> dt.datetime:
        """The UTC instant of local `time` on `day` moved by this offset, in `zone`."""
        return combine_local(self.apply(day), time, zone)

    def describe(self) -> str:
        """'T-4 weeks', 'T+7 days', 'T+0 days'."""
        sign = "-" if self.days < 0 else "+"
        n = abs(self.days)
        # whole weeks read as weeks from two weeks on ("T-4 weeks"), else days ("T+7 days")
        if n >= 14 and n % 7 == 0:
            return f"T{sign}{plural(n // 7, 'week')}"
        return f"T{sign}{plural(n, 'day')}"

    def __str__(self) -> str:
        sign = "-" if self.days < 0 else "+"
        n = abs(self.days)
        return f"{sign}{n // 7}w" if n and n % 7 == 0 else f"{sign}{n}d"


def parse_calendar_offset(value: str | int | CalendarOffset) -> CalendarOffset:
    """'-4w' -> CalendarOffset(-28); '+7d' -> CalendarOffset(7); '0d' / 0 -> CalendarOffset(0)."""
    if isinstance(value, CalendarOffset):
        return value
    if isinstance(value, bool) or (isinstance(value, int) and value != 0):
        raise TimeRuleError(f"calendar offset {value!r}: give a unit ({_OFFSET_FORMS})")
    if isinstance(value, int):
        return CalendarOffset(0)
    text = str(value).strip().lower()
    if text in ("0", "+0", "-0"):
        return CalendarOffset(0)
    match = _OFFSET_RE.match(text)
    if not match:
        hint = ""
        if re.search(r"\d\s*[hm]\b", text):
            hint = " (hours and minutes are absolute durations, not calendar offsets)"
        elif re.search(r"\d\s*(?:mo|month|y|year)", text):
            hint = " (months and years are not offered: write weeks, e.g. +52w)"
        raise TimeRuleError(
            f"calendar offset {value!r} is not understood: use {_OFFSET_FORMS}{hint}"
        )
    days = sum(int(n) * (7 if u == "w" else 1) for n, u in _OFFSET_PART.findall(match.group(2)))
    return CalendarOffset(-days if match.group(1) == "-" else days)
