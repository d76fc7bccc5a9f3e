"""Deadlines relative to a slot (opt-out, acceptance), DESIGN.md §4.

The slot's zone is the deadline's zone, and "the upgrade day" is the slot's local
date in that zone.

    13:00 on upgrade day             13:00 local on the slot's local date
    17:00 previous working day       17:00 local on the last working day before the
                                     slot's local date (skips the weekend and holidays)
    17:00 2 working days before      ... the second working day before
    17:00 2 days before              17:00 local, two calendar days before
    48h before                       the start minus 48 real hours (absolute)

Local times go through `core.timeutil.combine_local` (gap: forward to the transition,
fold: first occurrence). A deadline is met by anything received at or before it. A
deadline that is not strictly before the start is unmeetable: `deadline_for` raises
`DeadlineNotBeforeStart`, `evaluate_deadline` returns it with `meetable=False`.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from releasedesk.core.timeutil import combine_local, ensure_aware, format_local, to_local

from ._grammar import TimeRuleError, parse_clock, plural
from .durations import Duration, parse_duration

__all__ = [
    "DeadlineNotBeforeStart",
    "DeadlineResult",
    "DeadlineRule",
    "deadline_for",
    "evaluate_deadline",
    "parse_deadline",
    "previous_working_day",
]

Zone = zoneinfo.ZoneInfo | str
DeadlineKind = Literal["slot_day", "working_days_before", "days_before", "before"]
WEEKEND: frozenset[int] = frozenset({5, 6})

_FORMS = (
    "'13:00 on upgrade day', '17:00 previous working day', '17:00 2 working days before', "
    "'17:00 2 days before' or '48h before'"
)
_SLOT_DAY = re.compile(
    r"^(\d{1,2}:\d{2})\s+(?:on\s+)?(?:the\s+)?(?:upgrade|slot|same|release)\s+day$"
)
_PREV_WORKING = re.compile(
    r"^(\d{1,2}:\d{2})\s+(?:on\s+)?(?:the\s+)?previous\s+(?:working|business)\s+day$"
)
_N_WORKING = re.compile(r"^(\d{1,2}:\d{2})\s+(\d+)\s+(?:working|business)\s+days?\s+before$")
_N_DAYS = re.compile(r"^(\d{1,2}:\d{2})\s+(\d+)\s+(?:calendar\s+)?days?\s+before$")
_BEFORE = re.compile(r"^(.+?)\s+before(?:\s+(?:the\s+)?start)?$")


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """kind + `at` (local time, for the date-based kinds) + `days` or `duration`."""

    kind: DeadlineKind
    at: dt.time | None = None
    days: int = 0
    duration: Duration | None = None

    @classmethod
    def parse(cls, text: str) -> DeadlineRule:
        return parse_deadline(text)

    def describe(self) -> str:
        at = f"{self.at:%H:%M}" if self.at else ""
        if self.kind == "slot_day":
            return f"{at} on the upgrade day"
        if self.kind == "working_days_before":
            return (
                f"{at} on the previous working day"
                if self.days == 1
                else f"{at} {self.days} working days before"
            )
        if self.kind == "days_before":
            return f"{at} {plural(self.days, 'day')} before"
        assert self.duration is not None
        return f"{self.duration.describe()} before the start"


def parse_deadline(text: str) -> DeadlineRule:
    source = " ".join(str(text).split())
    lowered = source.lower()
    if match := _SLOT_DAY.match(lowered):
        return DeadlineRule("slot_day", parse_clock(match.group(1), field=f"deadline {text!r}"))
    if match := _PREV_WORKING.match(lowered):
        return DeadlineRule(
            "working_days_before", parse_clock(match.group(1), field=f"deadline {text!r}"), 1
        )
    if match := _N_WORKING.match(lowered):
        days = int(match.group(2))
        if days < 1:
            raise TimeRuleError(f"deadline {text!r}: the number of working days must be at least 1")
        return DeadlineRule(
            "working_days_before", parse_clock(match.group(1), field=f"deadline {text!r}"), days
        )
    if match := _N_DAYS.match(lowered):
        return DeadlineRule(
            "days_before",
            parse_clock(match.group(1), field=f"deadline {text!r}"),
            int(match.group(2)),
        )
    if match := _BEFORE.match(lowered):
        return DeadlineRule("before", duration=parse_duration(match.group(1)))
    raise TimeRuleError(f"deadline {text!r} is not understood: use {_FORMS}")


def previous_working_day(
    day: dt.date,
    holidays: Collection[dt.date] = frozenset(),
    *,
    count: int = 1,
    weekend: Collection[int] = WEEKEND,
) -> dt.date:
    """The `count`-th working day strictly before `day` (weekend days and holidays skipped)."""
    current = day
    found = 0
    for _ in range(count * 400):
        current -= dt.timedelta(days=1)
        if current.weekday() not in weekend and current not in holidays:
            found += 1
            if found == count:
                return current
    raise TimeRuleError(f"no working day found before {day.isoformat()} (every day is a holiday?)")


@dataclass(frozen=True, slots=True)
class DeadlineResult:
    """The deadline instant for a slot, whether it is strictly before the start, and why not."""

    deadline_utc: dt.datetime
    slot_start_utc: dt.datetime
    meetable: bool
    reason: str


class DeadlineNotBeforeStart(TimeRuleError):
    """The deadline is at or after the slot's start: the step cannot be met."""

    def __init__(self, result: DeadlineResult) -> None:
        super().__init__(result.reason)
        self.result = result
        self.deadline_utc = result.deadline_utc
        self.slot_start_utc = result.slot_start_utc


def _compute(
    rule: DeadlineRule,
    slot_start_utc: dt.datetime,
    zone: Zone,
    holidays: Collection[dt.date],
    weekend: Collection[int],
) -> dt.datetime:
    if rule.kind == "before":
        assert rule.duration is not None
        return slot_start_utc - rule.duration.delta
    assert rule.at is not None
    slot_day = to_local(slot_start_utc, zone).date()
    if rule.kind == "slot_day":
        day = slot_day
    elif rule.kind == "working_days_before":
        day = previous_working_day(slot_day, holidays, count=rule.days, weekend=weekend)
    else:
        day = slot_day - dt.timedelta(days=rule.days)
    return combine_local(day, rule.at, zone)


def evaluate_deadline(
    rule: DeadlineRule,
    slot_start_utc: dt.datetime,
    zone: Zone,
    holidays: Collection[dt.date] = frozenset(),
    *,
    weekend: Collection[int] = WEEKEND,
) -> DeadlineResult:
    """The deadline for the slot starting at `slot_start_utc` in `zone`, never raising for
    an unmeetable one (the planner reports it)."""
    start = ensure_aware(slot_start_utc)
    deadline = _compute(rule, start, zone, holidays, weekend)
    meetable = deadline < start
    if meetable:
        reason = f"{rule.describe()}: {format_local(deadline, zone)}"
    else:
        reason = (
            f"deadline {rule.describe()} ({format_local(deadline, zone)}) is not before "
            f"the start ({format_local(start, zone)}): it cannot be met"
        )
    return DeadlineResult(deadline, start, meetable, reason)


def deadline_for(
    rule: DeadlineRule,
    slot_start_utc: dt.datetime,
    zone: Zone,
    holidays: Collection[dt.date] = frozenset(),
    *,
    weekend: Collection[int] = WEEKEND,
) -> dt.datetime:
    """The deadline instant (UTC); raises DeadlineNotBeforeStart when it is not strictly
    before the start."""
    result = evaluate_deadline(rule, slot_start_utc, zone, holidays, weekend=weekend)
    if not result.meetable:
        raise DeadlineNotBeforeStart(result)
    return result.deadline_utc
