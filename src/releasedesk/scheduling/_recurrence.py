"""Recurring *local dates*, evaluated with python-dateutil's rrule on naive local dates.

A `DatePattern` says on which local dates something recurs; the time of day and the
zone are applied afterwards by the caller (windows, cadences), one occurrence at a
time, so 16:00 stays 16:00 across DST. Readable forms compile to an RRULE line:

    daily                                   FREQ=DAILY
    weekly on thursday / every thursday     FREQ=WEEKLY;BYDAY=TH
    weekly on monday,wednesday              FREQ=WEEKLY;BYDAY=MO,WE
    every 2 weeks on wednesday from 2027-01-06   FREQ=WEEKLY;INTERVAL=2;BYDAY=WE (+ anchor)
    monthly on second tuesday               FREQ=MONTHLY;BYDAY=+2TU
    monthly on last friday                  FREQ=MONTHLY;BYDAY=-1FR
    monthly on day 15                       FREQ=MONTHLY;BYMONTHDAY=15
    monthly on day 29                       FREQ=MONTHLY;BYMONTHDAY=28,29;BYSETPOS=-1

"monthly on day N" for N > 28 falls on the month's last day in shorter months
(day 29 is 28 February in 2027 and 29 February in 2028; day 31 is 30 April).
A raw rule is accepted as `RRULE:FREQ=...` (optionally preceded by a `DTSTART:YYYYMMDD`
line, which anchors it). Without an anchor a raw rule must not depend on one:
INTERVAL 1, no COUNT, and BYDAY/BYMONTHDAY/BYMONTH as its frequency needs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

from ._grammar import (
    ORDINAL_WORDS,
    WEEKDAYS,
    TimeRuleError,
    parse_ordinal,
    parse_weekday,
    parse_weekdays,
    weekday_name,
)

_RR_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_FORMS = (
    "daily; weekly on <weekday>[,<weekday>...]; every N weeks on <weekday> from YYYY-MM-DD; "
    "monthly on <first|second|third|fourth|fifth|last> <weekday>; monthly on day N; "
    "or RRULE:FREQ=...;BYDAY=..."
)
_ANCHOR_EPOCH = dt.date(2000, 1, 3)  # a Monday; only used to validate phase-free rules


@dataclass(frozen=True, slots=True)
class DatePattern:
    """Local dates on which something recurs.

    rrule: the canonical RRULE line without the `RRULE:` prefix.
    anchor: the first date of an anchored series (DTSTART), or None for rules whose
            dates do not depend on a starting point.
    label: a short human name for reasons ("Thursday", "second Tuesday").
    text: the canonical readable form ("weekly on thursday").
    """

    rrule: str
    anchor: dt.date | None
    label: str
    text: str

    def dates_from(self, first: dt.date) -> Iterator[dt.date]:
        """Every recurrence date on or after `first`, ascending (ends only if the rule does)."""
        base = _compiled(self.rrule, self.anchor)
        start = dt.datetime.combine(first, dt.time())
        if self.anchor is None:
            iterator: Iterator[dt.datetime] = iter(base.replace(dtstart=start))
        else:
            iterator = _aligned(base, self.rrule, self.anchor, first).xafter(start, inc=True)
        for occurrence in iterator:
            yield occurrence.date()

    def dates_between(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        """Recurrence dates in [first, last], both inclusive."""
        for day in self.dates_from(first):
            if day > last:
                return
            yield day


@lru_cache(maxsize=1024)
def _compiled(line: str, anchor: dt.date | None) -> rrule:
    start = dt.datetime.combine(anchor or _ANCHOR_EPOCH, dt.time())
    result = rrulestr("RRULE:" + line, dtstart=start, ignoretz=True)
    assert isinstance(result, rrule)
    return result


def _aligned(base: rrule, line: str, anchor: dt.date, first: dt.date) -> rrule:
    """Jump an anchored WEEKLY/DAILY rule close to `first` without changing its phase,
    so the next date is found without iterating from a years-old anchor."""
    params = _params(line)
    if "COUNT" in params or params["FREQ"] not in ("WEEKLY", "DAILY") or first <= anchor:
        return base
    if params["FREQ"] == "WEEKLY" and "BYDAY" not in params:
        return base
    period = int(params.get("INTERVAL", "1")) * (7 if params["FREQ"] == "WEEKLY" else 1)
    jump = ((first - anchor).days // period) * period
    if params["FREQ"] == "WEEKLY":
        # keep the week (Monday-based) alignment of BYDAY expansion
        jump -= period if jump >= period else 0
    return base.replace(dtstart=dt.datetime.combine(anchor + dt.timedelta(days=jump), dt.time()))


def _params(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in line.split(";"):
        if "=" not in part:
            raise TimeRuleError(f"RRULE part {part!r} is not KEY=VALUE")
        key, _, value = part.partition("=")
        out[key.strip().upper()] = value.strip().upper()
    return out


def _parse_raw(text: str) -> DatePattern:
    anchor: dt.date | None = None
    line = ""
    for raw in re.split(r"[\n;]?\s*(?=DTSTART|RRULE:)", text.strip()):
        chunk = raw.strip().rstrip(";")
        if not chunk:
            continue
        upper = chunk.upper()
        if upper.startswith("DTSTART"):
            value = chunk.split(":", 1)[-1].strip()
            if "TZID" in upper or value.endswith("Z"):
                raise TimeRuleError(
                    f"{text!r}: DTSTART must be a local date (YYYYMMDD); the zone comes from the policy"
                )
            try:
                anchor = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
            except (ValueError, IndexError) as exc:
                raise TimeRuleError(f"{text!r}: DTSTART {value!r} is not YYYYMMDD") from exc
        elif upper.startswith("RRULE:"):
            line = chunk[6:].strip().upper()
    if not line:
        raise TimeRuleError(f"{text!r}: expected RRULE:FREQ=...")
    params = _params(line)
    freq = params.get("FREQ")
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise TimeRuleError(f"{text!r}: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    for key in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if key in params:
            raise TimeRuleError(f"{text!r}: {key} is not allowed; give the times as from/to")
    if anchor is None:
        needs = {"WEEKLY": ("BYDAY",), "MONTHLY": ("BYDAY", "BYMONTHDAY"), "YEARLY": ("BYMONTH",)}
        if params.get("INTERVAL", "1") != "1" or "COUNT" in params:
            raise TimeRuleError(f"{text!r}: INTERVAL > 1 and COUNT need a DTSTART:YYYYMMDD anchor")
        if freq in needs and not any(k in params for k in needs[freq]):
            raise TimeRuleError(
                f"{text!r}: without DTSTART, FREQ={freq} needs {' or '.join(needs[freq])}"
            )
        if freq == "YEARLY" and not ({"BYMONTHDAY", "BYDAY"} & params.keys()):
            raise TimeRuleError(f"{text!r}: without DTSTART, FREQ=YEARLY needs BYMONTHDAY or BYDAY")
    try:
        _compiled(line, anchor)
    except (ValueError, TypeError) as exc:
        raise TimeRuleError(f"{text!r} is not a valid RRULE: {exc}") from exc
    return DatePattern(
        line,
        anchor,
        "RRULE",
        ("DTSTART:" + anchor.strftime("%Y%m%d") + "\n" if anchor else "") + "RRULE:" + line,
    )


def _rr_days(days: tuple[int, ...]) -> str:
    return ",".join(_RR_DAYS[d] for d in days)


def _day_label(days: tuple[int, ...]) -> str:
    return "/".join(weekday_name(d) for d in days)


def _day_text(days: tuple[int, ...]) -> str:
    return ",".join(WEEKDAYS[d] for d in days)


def parse_anchor(text: str, *, field: str = "from") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise TimeRuleError(f"{field}: {text!r} is not a date (use YYYY-MM-DD)") from exc


def month_day_pattern(day: int) -> DatePattern:
    if not 1 <= day <= 31:
        raise TimeRuleError(f"monthly on day {day}: the day must be 1 to 31")
    line = (
        f"FREQ=MONTHLY;BYMONTHDAY={day}"
        if day <= 28
        else "FREQ=MONTHLY;BYMONTHDAY="
        + ",".join(str(d) for d in range(28, day + 1))
        + ";BYSETPOS=-1"
    )
    return DatePattern(line, None, f"day-{day}", f"monthly on day {day}")


def nth_weekday_pattern(nth: int, weekday: int) -> DatePattern:
    word = ORDINAL_WORDS[nth]
    return DatePattern(
        f"FREQ=MONTHLY;BYDAY={nth:+d}{_RR_DAYS[weekday]}",
        None,
        f"{word} {weekday_name(weekday)}",
        f"monthly on {word} {WEEKDAYS[weekday]}",
    )


def every_weeks_pattern(n: int, days: tuple[int, ...], anchor: dt.date | None) -> DatePattern:
    if n < 1:
        raise TimeRuleError(f"every {n} weeks: N must be at least 1")
    if n > 1 and anchor is None:
        raise TimeRuleError(
            f"every {n} weeks: give the first date, e.g. 'every {n} weeks on "
            f"{WEEKDAYS[days[0]]} from 2027-01-06'"
        )
    if anchor is not None and anchor.weekday() not in days:
        raise TimeRuleError(
            f"every {n} weeks on {_day_text(days)} from {anchor}: {anchor} is a "
            f"{WEEKDAYS[anchor.weekday()]}, not a {' or '.join(WEEKDAYS[d] for d in days)}"
        )
    line = (
        f"FREQ=WEEKLY;INTERVAL={n};BYDAY={_rr_days(days)}"
        if n > 1
        else f"FREQ=WEEKLY;BYDAY={_rr_days(days)}"
    )
    every = "weekly" if n == 1 else f"every {n} weeks"
    text = f"{every} on {_day_text(days)}" + (f" from {anchor.isoformat()}" if anchor else "")
    label = _day_label(days) if n == 1 else f"every-{n}-weeks {_day_label(days)}"
    return DatePattern(line, anchor, label, text)


_EVERY_N = re.compile(r"^every\s+(\d+)\s+weeks?\s+on\s+(.+?)(?:\s+from\s+(\S+))?$")
_WEEKLY = re.compile(r"^(?:weekly\s+on|every\s+week\s+on|every|on)\s+(.+?)(?:\s+from\s+(\S+))?$")
_MONTHLY_NTH = re.compile(r"^monthly\s+on\s+(?:the\s+)?(\w+)\s+(\w+)$")
_MONTHLY_DAY = re.compile(r"^monthly\s+on\s+(?:the\s+)?day\s+(\d+)$")


def parse_date_pattern(text: str, *, allow_fifth: bool = True) -> DatePattern:
    """A readable recurrence or a raw RRULE -> DatePattern. Raises TimeRuleError."""
    source = " ".join(str(text).split())
    lowered = source.lower()
    if lowered.startswith(("rrule:", "dtstart")):
        return _parse_raw(str(text))
    if lowered == "daily" or lowered == "every day":
        return DatePattern("FREQ=DAILY", None, "daily", "daily")
    if match := _MONTHLY_DAY.match(lowered):
        return month_day_pattern(int(match.group(1)))
    if match := _MONTHLY_NTH.match(lowered):
        nth = parse_ordinal(match.group(1), field=source, allow_fifth=allow_fifth)
        return nth_weekday_pattern(nth, parse_weekday(match.group(2), field=source))
    if match := _EVERY_N.match(lowered):
        anchor = parse_anchor(match.group(3)) if match.group(3) else None
        days = parse_weekdays(match.group(2), field=source)
        return every_weeks_pattern(int(match.group(1)), days, anchor)
    if match := _WEEKLY.match(lowered):
        anchor = parse_anchor(match.group(2)) if match.group(2) else None
        return every_weeks_pattern(1, parse_weekdays(match.group(1), field=source), anchor)
    raise TimeRuleError(f"{text!r} is not a recurrence: use {_FORMS}")
