"""Shared vocabulary for the readable time rules: errors, weekdays, ordinals, times."""

from __future__ import annotations

import datetime as dt
import re


class TimeRuleError(ValueError):
    """A time rule that cannot be parsed or is inconsistent.

    A `ValueError`, so pydantic validators can raise it as-is; the message names
    what was given and the forms that are allowed.
    """


WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

_WEEKDAY_ALIASES: dict[str, int] = {}
for _index, _name in enumerate(WEEKDAYS):
    for _alias in (_name, _name + "s", _name[:3], _name[:2]):
        _WEEKDAY_ALIASES.setdefault(_alias, _index)

ORDINALS: dict[str, int] = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
}

ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_weekday(text: str, *, field: str = "weekday") -> int:
    """'thursday', 'thu', 'th', 'thursdays' -> 3 (Monday is 0)."""
    key = text.strip().lower()
    if key not in _WEEKDAY_ALIASES:
        raise TimeRuleError(
            f"{field}: {text!r} is not a weekday (use monday, tuesday, ... sunday, or mon ... sun)"
        )
    return _WEEKDAY_ALIASES[key]


def parse_weekdays(text: str, *, field: str = "weekdays") -> tuple[int, ...]:
    """'monday,wednesday' / 'monday and wednesday' / 'weekdays' -> sorted unique weekdays."""
    key = text.strip().lower()
    if key in ("weekdays", "working days"):
        return (0, 1, 2, 3, 4)
    if key in ("weekends", "weekend"):
        return (5, 6)
    parts = [p for p in re.split(r"\s*(?:,|\band\b)\s*", key) if p]
    if not parts:
        raise TimeRuleError(f"{field}: no weekday given (e.g. 'thursday' or 'monday,wednesday')")
    return tuple(sorted({parse_weekday(p, field=field) for p in parts}))


def parse_ordinal(text: str, *, field: str = "ordinal", allow_fifth: bool = True) -> int:
    key = text.strip().lower()
    value = ORDINALS.get(key)
    if value is None or (value == 5 and not allow_fifth):
        allowed = "first, second, third, fourth, " + ("fifth, " if allow_fifth else "") + "last"
        raise TimeRuleError(f"{field}: {text!r} is not an ordinal (use {allowed})")
    return value


def parse_clock(text: str, *, field: str = "time", allow_24: bool = False) -> dt.time:
    """'16:00' -> time(16, 0). With allow_24, '24:00' means midnight at the end of the day
    and is returned as time(0, 0) (callers treat an end <= start as the next day)."""
    match = _TIME_RE.match(text.strip())
    if not match:
        raise TimeRuleError(f"{field}: {text!r} is not a local time (use HH:MM, e.g. 16:00)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if allow_24 and hour == 24 and minute == 0:
        return dt.time(0, 0)
    if hour > 23 or minute > 59:
        raise TimeRuleError(f"{field}: {text!r} is not a valid time of day (00:00 to 23:59)")
    return dt.time(hour, minute)


def weekday_name(index: int) -> str:
    return WEEKDAYS[index].capitalize()


def plural(value: int, unit: str) -> str:
    return f"{value} {unit}" if value == 1 else f"{value} {unit}s"
