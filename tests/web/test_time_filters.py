from __future__ import annotations

import datetime as dt
import zoneinfo

from django.template import Context, Template

from releasedesk.web.templatetags.rd_time import local, local_short, utc

SUMMER = dt.datetime(2027, 4, 1, 14, 0, tzinfo=dt.UTC)
WINTER = dt.datetime(2027, 1, 14, 15, 30, tzinfo=dt.UTC)


def test_local_shows_abbreviation_and_zone_name() -> None:
    assert local(SUMMER, "Europe/Amsterdam") == "2027-04-01 16:00 CEST (Europe/Amsterdam)"
    assert local(WINTER, "Europe/Amsterdam") == "2027-01-14 16:30 CET (Europe/Amsterdam)"
    assert local(SUMMER, "Asia/Kolkata") == "2027-04-01 19:30 IST (Asia/Kolkata)"
    assert local(SUMMER, "Australia/Sydney") == "2027-04-02 01:00 AEDT (Australia/Sydney)"
    assert (
        local(SUMMER, zoneinfo.ZoneInfo("America/New_York"))
        == "2027-04-01 10:00 EDT (America/New_York)"
    )


def test_local_short_and_utc() -> None:
    assert local_short(SUMMER, "Europe/London") == "2027-04-01 15:00 BST"
    assert utc(SUMMER) == "2027-04-01 14:00 UTC"
    # An instant in another zone is converted, not relabelled.
    assert utc(SUMMER.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))) == "2027-04-01 14:00 UTC"


def test_bad_zone_falls_back_to_utc_and_missing_instant_is_empty() -> None:
    assert local(SUMMER, "Mars/Olympus") == "2027-04-01 14:00 UTC (UTC)"
    assert local(SUMMER, "") == "2027-04-01 14:00 UTC (UTC)"
    assert local(None, "Europe/Amsterdam") == ""
    assert utc(None) == ""
    # A naive datetime is not an instant: never guess its zone.
    assert local(dt.datetime(2027, 4, 1, 14, 0), "Europe/Amsterdam") == ""


def test_filters_in_a_template() -> None:
    tpl = Template("{% load rd_time %}{{ t|local:zone }} / {{ t|utc }}")
    out = tpl.render(Context({"t": SUMMER, "zone": "Europe/Zurich"}))
    assert out == "2027-04-01 16:00 CEST (Europe/Zurich) / 2027-04-01 14:00 UTC"
