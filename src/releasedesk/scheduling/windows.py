"""Recurring maintenance windows in local wall-clock time.

A `WindowRule` is a `DatePattern` (which local dates) plus a local start and end
time. Each occurrence is computed in local wall time and only then converted to
UTC with `core.timeutil.combine_local`, so "weekly on thursday 16:00-22:00" opens
at 16:00 local on every Thursday, CET or CEST.

Forms (see `_recurrence` for the date patterns):

    weekly on thursday 16:00-22:00          weekly on monday,wednesday 09:00-11:00
    daily 02:00-04:00                       monthly on second tuesday 18:00-20:00
    monthly on last friday from 18:00 to 23:00
    WindowRule.parse("RRULE:FREQ=WEEKLY;BYDAY=TH", start="16:00", end="22:00")

- An end at or before the start crosses midnight: 22:00-02:00 ends at 02:00 on the
  next local date. "24:00" is midnight at the end of the day. Without an end the
  window lasts until local midnight.
- Gap rule: a local time that does not exist (spring forward) moves forward to the
  first valid instant, the moment of the transition. A 02:30 start on 2027-03-28 in
  Europe/Amsterdam opens at 03:00 CEST (01:00 UTC). A window whose start and end
  both fall into the same gap vanishes that day and is skipped.
- Fold rule: an ambiguous local time (fall back) takes its first occurrence
  (01:30 on 2027-10-31 in Europe/London is 01:30 BST = 00:30 UTC).
- `occurrences` yields windows whose *start* lies in [start_utc, end_utc).
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

from releasedesk.core.timeutil import combine_local, ensure_aware, get_zone, to_local

from ._grammar import TimeRuleError, parse_clock
from ._recurrence import DatePattern, parse_date_pattern

__all__ = [
    "Window",
    "WindowIndex",
    "WindowRule",
    "next_window",
    "occurrences",
    "parse_window",
]

Zone = zoneinfo.ZoneInfo | str
DEFAULT_HORIZON_DAYS = 3 * 366  # next_window gives up after ~3 years without a window

_TIMES = re.compile(
    r"^(?P<body>.*?)\s+(?:from\s+)?(?P<start>\d{1,2}:\d{2})"
    r"(?:\s*(?:-|\u2013|to|until)\s*(?P<end>\d{1,2}:\d{2}))?$"
)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """One occurrence: UTC start and end, and the local date the rule fired on."""

    start_utc: dt.datetime
    end_utc: dt.datetime
    local_date: dt.date

    @property
    def duration(self) -> dt.timedelta:
        return self.end_utc - self.start_utc

    def contains(self, instant: dt.datetime) -> bool:
        return self.start_utc <= instant < self.end_utc


@dataclass(frozen=True, slots=True)
class WindowRule:
    """Local dates (`pattern`) + local `start` and `end` times. Hashable; build with `parse`."""

    pattern: DatePattern
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str, *, start: str | None = None, end: str | None = None) -> WindowRule:
        return parse_window(text, start=start, end=end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def label(self) -> str:
        """Short name for reasons: 'Thursday' in "first Thursday window"."""
        return self.pattern.label

    @property
    def text(self) -> str:
        """Canonical readable form, e.g. 'weekly on thursday 16:00-22:00'."""
        end = "24:00" if self.end == dt.time(0) else f"{self.end:%H:%M}"
        sep = "\n" if self.pattern.text.startswith(("RRULE", "DTSTART")) else " "
        return f"{self.pattern.text}{sep}{self.start:%H:%M}-{end}"

    def window_on(self, day: dt.date, zone: Zone) -> Window | None:
        """The occurrence opening on local date `day` (whether or not the rule fires that day),
        or None when it vanishes in a DST gap."""
        start = combine_local(day, self.start, zone)
        end_day = day + dt.timedelta(days=1) if self.crosses_midnight else day
        end = combine_local(end_day, self.end, zone)
        if end <= start:
            return None
        return Window(start, end, day)

    def windows_from(self, first_day: dt.date, zone: Zone) -> Iterator[Window]:
        """Every occurrence on local dates >= first_day, in order."""
        for day in self.pattern.dates_from(first_day):
            window = self.window_on(day, zone)
            if window is not None:
                yield window


def parse_window(text: str, *, start: str | None = None, end: str | None = None) -> WindowRule:
    """'weekly on thursday 16:00-22:00' -> WindowRule. Times may instead be given as
    `start`/`end` (the policy's `from`/`to`); giving them in both places is an error."""
    source = str(text).strip()
    body = source
    in_text_start = in_text_end = None
    if source.upper().startswith(("RRULE", "DTSTART")):
        # a raw rule may carry its times on a last line ("16:00-22:00"), as `text` writes it
        head, _, last = source.rpartition("\n")
        if head and (match := _TIMES.match("x " + last.strip())):
            body, in_text_start, in_text_end = head, match.group("start"), match.group("end")
    elif match := _TIMES.match(source):
        body, in_text_start, in_text_end = (
            match.group("body"),
            match.group("start"),
            match.group("end"),
        )
    if in_text_start and (start or end):
        raise TimeRuleError(
            f"window {text!r}: give the times either in the text or as from/to, not both"
        )
    start_text = in_text_start or start
    end_text = in_text_end or end
    if not start_text:
        raise TimeRuleError(
            f"window {text!r}: no start time (e.g. 'weekly on thursday 16:00-22:00', "
            "or from: '16:00' with to: '22:00')"
        )
    pattern = parse_date_pattern(body)
    start_time = parse_clock(start_text, field=f"window {text!r} start")
    end_time = (
        parse_clock(end_text, field=f"window {text!r} end", allow_24=True)
        if end_text
        else dt.time(0)
    )
    if end_time == start_time and end_text and end_text.strip() != "24:00":
        raise TimeRuleError(f"window {text!r}: the end must differ from the start")
    return WindowRule(pattern, start_time, end_time)


def occurrences(
    rule: WindowRule, zone: Zone, start_utc: dt.datetime, end_utc: dt.datetime
) -> Iterator[Window]:
    """Windows of `rule` in `zone` whose start lies in [start_utc, end_utc), in order."""
    start_utc, end_utc = ensure_aware(start_utc), ensure_aware(end_utc)
    tz = get_zone(zone) if isinstance(zone, str) else zone
    # A gap shift only moves a start later, never earlier, so two days of slack suffice.
    first_day = to_local(start_utc, tz).date() - dt.timedelta(days=2)
    last_day = to_local(end_utc, tz).date() + dt.timedelta(days=1)
    for day in rule.pattern.dates_between(first_day, last_day):
        window = rule.window_on(day, tz)
        if window is None or window.start_utc < start_utc:
            continue
        if window.start_utc >= end_utc:
            return
        yield window


def next_window(
    rule: WindowRule,
    zone: Zone,
    after_utc: dt.datetime,
    *,
    min_start: dt.datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> Window | None:
    """The first window whose start is >= max(after_utc, min_start), or None when there is
    none within `horizon_days` of that threshold (the rule ended, or never fires)."""
    threshold = ensure_aware(after_utc)
    if min_start is not None:
        threshold = max(threshold, ensure_aware(min_start))
    tz = get_zone(zone) if isinstance(zone, str) else zone
    first_day = to_local(threshold, tz).date() - dt.timedelta(days=2)
    give_up = first_day + dt.timedelta(days=horizon_days + 2)
    for day in rule.pattern.dates_from(first_day):
        if day > give_up:
            return None
        window = rule.window_on(day, tz)
        if window is not None and window.start_utc >= threshold:
            return window
    return None


class WindowIndex:
    """All windows of one (rule, zone) over a span, computed once; `next` is a bisect.

    The planner builds one per distinct (zone, rule) and asks it for every instance,
    instead of recomputing the recurrence per instance (benchmarks/windows.py).
    Answers equal `next_window` for thresholds inside the span; outside it, `next`
    falls back to `next_window`.
    """

    def __init__(
        self, rule: WindowRule, zone: Zone, start_utc: dt.datetime, end_utc: dt.datetime
    ) -> None:
        self.rule = rule
        self.zone = get_zone(zone) if isinstance(zone, str) else zone
        self.start_utc = ensure_aware(start_utc)
        self.end_utc = ensure_aware(end_utc)
        self.windows = list(occurrences(rule, self.zone, self.start_utc, self.end_utc))
        self._starts = [w.start_utc for w in self.windows]

    def next(
        self, after_utc: dt.datetime, *, min_start: dt.datetime | None = None
    ) -> Window | None:
        threshold = ensure_aware(after_utc)
        if min_start is not None:
            threshold = max(threshold, ensure_aware(min_start))
        if threshold < self.start_utc:
            return next_window(self.rule, self.zone, threshold)
        position = bisect.bisect_left(self._starts, threshold)
        if position < len(self.windows):
            return self.windows[position]
        return next_window(self.rule, self.zone, max(threshold, self.end_utc))
