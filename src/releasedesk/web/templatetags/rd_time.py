"""Time filters for templates: every instant is shown with its zone.

    {{ instant|local:zone }}  ->  "2027-04-01 16:00 CEST (Europe/Amsterdam)"
    {{ instant|utc }}         ->  "2027-04-01 14:00 UTC"
    {{ instant|local_short:zone }} -> "2027-04-01 16:00 CEST" (zone abbreviation only)

`zone` is an IANA name (or a ZoneInfo). An empty or unknown zone falls back to UTC,
so a page never fails to render because of a bad zone value; a missing instant
renders as an empty string.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import template

from releasedesk.core.timeutil import UnknownTimeZone, format_local, format_utc, get_zone

register = template.Library()


def _zone(zone: object) -> zoneinfo.ZoneInfo:
    if isinstance(zone, zoneinfo.ZoneInfo):
        return zone
    if isinstance(zone, str) and zone:
        try:
            return get_zone(zone)
        except UnknownTimeZone:
            pass
    return get_zone("UTC")


@register.filter(name="local")
def local(instant: dt.datetime | None, zone: object = "UTC") -> str:
    """The instant in `zone`, with the abbreviation and the IANA name."""
    if not isinstance(instant, dt.datetime) or instant.tzinfo is None:
        return ""
    return format_local(instant, _zone(zone))


@register.filter(name="local_short")
def local_short(instant: dt.datetime | None, zone: object = "UTC") -> str:
    """The instant in `zone`, with the zone abbreviation only (for dense tables)."""
    if not isinstance(instant, dt.datetime) or instant.tzinfo is None:
        return ""
    return format_local(instant, _zone(zone), with_zone_name=False)


@register.filter(name="utc")
def utc(instant: dt.datetime | None) -> str:
    if not isinstance(instant, dt.datetime) or instant.tzinfo is None:
        return ""
    return format_utc(instant)
