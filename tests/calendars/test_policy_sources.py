"""Policy time sections read for the calendar: raw RRULE windows, yearly and ICS blackouts,
monthly cycles, and problems reported instead of crashes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from releasedesk.calendars.entries import collect
from releasedesk.calendars.policy_sources import policy_time
from releasedesk.core.timeutil import combine_local

pytestmark = pytest.mark.django_db
UTC = dt.UTC
LONDON = "Europe/London"

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//school holidays//EN
X-WR-CALNAME:School holidays
BEGIN:VEVENT
UID:autumn-2027@test
DTSTART;VALUE=DATE:20271025
DTEND;VALUE=DATE:20271030
SUMMARY:Autumn half term
END:VEVENT
END:VCALENDAR
"""

HOSTED: dict[str, Any] = {
    "policy": "hosted-monthly",
    "zone": LONDON,
    "levels": {"default": {}},
    "windows": {
        "evening": {"rrule": "RRULE:FREQ=WEEKLY;BYDAY=TU", "from": "18:00", "to": "20:00"},
        "broken": {"every": "fortnightly on someday", "from": "18:00"},
    },
    "blackouts": [
        {"yearly": {"from": "12-24", "to": "12-26"}, "reason": "Christmas"},
        {"ics": "school-holidays.ics", "reason": "School holidays"},
        {"ics": "missing.ics"},
    ],
    "targets": [
        {"name": "hosted", "cycle": {"monthly": "second tuesday", "at": "18:00"}},
    ],
}


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def calendars_dir(settings: Any, tmp_path: Path) -> Path:
    (tmp_path / "school-holidays.ics").write_text(ICS)
    settings.RELEASEDESK_CALENDARS_DIR = str(tmp_path)
    return tmp_path


def test_problems_are_reported_not_raised(calendars_dir: Path) -> None:
    pt = policy_time("hosted-monthly", HOSTED)
    assert [w.name for w in pt.windows] == ["evening"]
    assert len(pt.blackouts) == 2
    assert pt.problems[0].startswith("hosted-monthly: window 'broken' cannot be read: ")
    assert (
        pt.problems[1]
        == "hosted-monthly: blackout 3 cannot be read: ICS file 'missing.ics' was not found"
    )
    assert len(pt.problems) == 2


def test_london_october_fold_week(calendars_dir: Path, make_policy: Any) -> None:
    make_policy(HOSTED)
    # London leaves summer time on Sunday 31 October 2027.
    start = combine_local(dt.date(2027, 10, 25), dt.time(0), LONDON)
    end = combine_local(dt.date(2027, 11, 15), dt.time(0), LONDON)
    data = collect(start, end, kinds=("window", "blackout", "cycle"))
    assert [(e.start_utc, e.end_utc) for e in data.of_kind("window")] == [
        (_utc(2027, 10, 26, 17), _utc(2027, 10, 26, 19)),  # BST
        (_utc(2027, 11, 2, 18), _utc(2027, 11, 2, 20)),  # GMT
        (_utc(2027, 11, 9, 18), _utc(2027, 11, 9, 20)),
    ]
    blackouts = data.of_kind("blackout")
    assert [(e.title, e.start_utc, e.end_utc, e.days) for e in blackouts] == [
        (
            "Blackout: Autumn half term (School holidays)",
            _utc(2027, 10, 24, 23),
            _utc(2027, 10, 29, 23),  # DTEND 30 October is exclusive: midnight BST
            (dt.date(2027, 10, 25), dt.date(2027, 10, 29)),
        ),
    ]
    # Monthly on the second Tuesday at 18:00 London: 9 November 2027 (GMT).
    assert [(e.title, e.start_utc) for e in data.of_kind("cycle")] == [
        ("hosted cycle (hosted-monthly)", _utc(2027, 11, 9, 18)),
    ]
    assert data.problems == [p for p in data.problems if p.startswith("hosted-monthly: ")]
    assert len(data.problems) == 2


def test_yearly_blackout_and_latest_version_wins(calendars_dir: Path, make_policy: Any) -> None:
    make_policy(HOSTED, number=1)
    newer = {
        **HOSTED,
        "blackouts": [{"yearly": {"from": "12-31", "to": "01-01"}, "reason": "New year"}],
    }
    make_policy(newer, number=2)
    start, end = _utc(2027, 12, 20), _utc(2028, 1, 5)
    titles = [(e.title, e.days) for e in collect(start, end, kinds=("blackout",)).entries]
    assert titles == [("Blackout: New year", (dt.date(2027, 12, 31), dt.date(2028, 1, 1)))]
