"""Time helpers: the only place local wall-clock times become instants.

Rules (DESIGN.md §4):
- instants are stored in UTC;
- a local time that does not exist (spring gap) moves forward to the first valid
  instant, i.e. the moment of the transition (02:30 on 2027-03-28 in
  Europe/Amsterdam becomes 03:00 CEST);
- an ambiguous local time (autumn fold) takes its first occurrence;
- lead times are absolute durations: subtract them from UTC instants, never from
  local datetimes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

UTC = dt.UTC


class UnknownTimeZone(ValueError):
    pass


@lru_cache(maxsize=1024)
def get_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `name`; raises UnknownTimeZone with a clear message otherwise."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise UnknownTimeZone(f"{name!r} is not an IANA time zone")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError) as exc:
        raise UnknownTimeZone(f"{name!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from exc


def is_valid_zone(name: str) -> bool:
    try:
        get_zone(name)
    except UnknownTimeZone:
        return False
    return True


@lru_cache(maxsize=1)
def all_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def ensure_aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} where an instant was expected")
    return value.astimezone(UTC)


def local_to_utc(naive: dt.datetime, zone: zoneinfo.ZoneInfo | str) -> dt.datetime:
    """The UTC instant of local wall time `naive` in `zone`, with the gap and fold rules."""
    tz = get_zone(zone) if isinstance(zone, str) else zone
    if naive.tzinfo is not None:
        raise ValueError("local_to_utc expects a naive local datetime")
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first  # exists (fold=0 is the first occurrence of an ambiguous time)
    # In a gap: fold=0 used the offset before the transition, fold=1 the one after,
    # so the transition instant lies between the two UTC readings. Find it.
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(first, second), max(first, second)
    after_offset = hi.astimezone(tz).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def combine_local(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo | str) -> dt.datetime:
    """The UTC instant of `time` on local date `day` in `zone`."""
    return local_to_utc(dt.datetime.combine(day, time.replace(tzinfo=None)), zone)


def to_local(instant: dt.datetime, zone: zoneinfo.ZoneInfo | str) -> dt.datetime:
    tz = get_zone(zone) if isinstance(zone, str) else zone
    return ensure_aware(instant).astimezone(tz)


def format_local(
    instant: dt.datetime, zone: zoneinfo.ZoneInfo | str, *, with_zone_name: bool = True
) -> str:
    """'2027-04-01 16:00 CEST (Europe/Amsterdam)'."""
    local = to_local(instant, zone)
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    if with_zone_name:
        text += f" ({local.tzinfo})"
    return text


def format_utc(instant: dt.datetime) -> str:
    return f"{ensure_aware(instant):%Y-%m-%d %H:%M} UTC"


def add_calendar_days(
    instant: dt.datetime, days: int, zone: zoneinfo.ZoneInfo | str
) -> dt.datetime:
    """A calendar offset: move the local date by `days`, keep the local wall time."""
    local = to_local(instant, zone).replace(tzinfo=None)
    return local_to_utc(local + dt.timedelta(days=days), zone)
