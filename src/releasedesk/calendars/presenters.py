"""Turning calendar entries into what a page shows: local days in the viewer's zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from releasedesk.calendars.entries import Entry
from releasedesk.core.timeutil import combine_local, format_local, format_utc, to_local


@dataclass(frozen=True, slots=True)
class DayItem:
    entry: Entry
    when: str  # "16:00-22:00", "all day", "16:00", "…-02:00", "22:00-…"
    title_attr: str  # local with zone and UTC, for the tooltip


@dataclass(slots=True)
class Day:
    date: dt.date
    in_month: bool
    is_today: bool
    start_utc: dt.datetime
    end_utc: dt.datetime
    items: list[DayItem]


def _hhmm(instant: dt.datetime, zone: str) -> str:
    return f"{to_local(instant, zone):%H:%M}"


def day_item(entry: Entry, day_start: dt.datetime, day_end: dt.datetime, zone: str) -> DayItem:
    if entry.end_utc == entry.start_utc:
        when = _hhmm(entry.start_utc, zone)
    elif entry.start_utc <= day_start and entry.end_utc >= day_end:
        when = "all day"
    else:
        left = "…" if entry.start_utc < day_start else _hhmm(entry.start_utc, zone)
        right = "…" if entry.end_utc > day_end else _hhmm(entry.end_utc, zone)
        when = f"{left}-{right}"
    title = f"{format_local(entry.start_utc, zone)} = {format_utc(entry.start_utc)}"
    if entry.end_utc != entry.start_utc:
        title += f" until {format_local(entry.end_utc, zone)} = {format_utc(entry.end_utc)}"
    if entry.zone != zone:
        title += f"; defined in {entry.zone}"
    return DayItem(entry, when, title)


def build_days(
    entries: list[Entry],
    first: dt.date,
    last: dt.date,
    zone: str,
    *,
    month: int | None,
    today: dt.date,
) -> list[Day]:
    """One `Day` per local date first..last (inclusive) with the entries overlapping it.

    Entries are sorted by start; a sweep keeps this linear in entries + days."""
    days: list[Day] = []
    day = first
    while day <= last:
        start = combine_local(day, dt.time(0), zone)
        end = combine_local(day + dt.timedelta(days=1), dt.time(0), zone)
        days.append(Day(day, month is None or day.month == month, day == today, start, end, []))
        day += dt.timedelta(days=1)
    for entry in entries:
        for d in days:
            if d.start_utc >= entry.end_utc and entry.end_utc != entry.start_utc:
                break
            if entry.overlaps(d.start_utc, d.end_utc):
                d.items.append(day_item(entry, d.start_utc, d.end_utc, zone))
    return days
