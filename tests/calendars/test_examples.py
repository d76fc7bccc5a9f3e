"""The four example policies on the calendar: every time section is read (no problems), the
school calendar's ICS file is found next to the policy, and the entries fall where the
policies say."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from releasedesk.calendars.entries import collect
from releasedesk.core.timeutil import combine_local, to_local

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def utc(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def examples(db: None) -> list[str]:
    from releasedesk.policies.services import apply_policy

    applied = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        apply_policy(source=path.read_text(), filename=str(path), actor=None)
        applied.append(path.stem)
    return applied


def test_examples_read_without_problems(examples: list[str]) -> None:
    assert examples == ["field-software", "hosted-monthly", "oem-white-label", "school-saas"]
    start = combine_local(dt.date(2027, 3, 1), dt.time(0), "Europe/Amsterdam")
    end = combine_local(dt.date(2027, 5, 1), dt.time(0), "Europe/Amsterdam")
    data = collect(start, end)
    assert data.problems == []
    windows = [e for e in data.of_kind("window") if e.source == "school-saas"]
    # Thursday 16:00 Amsterdam, whether CET or CEST.
    assert {to_local(e.start_utc, "Europe/Amsterdam").strftime("%a %H:%M") for e in windows} == {
        "Thu 16:00"
    }
    assert len(windows) == 9
    ics = [
        (e.title, e.days)
        for e in data.of_kind("blackout")
        if e.source == "school-saas" and "public holiday" not in e.title
    ]
    # The school calendar next to the policy file (examples/policies/calendars/…).
    assert ics == [
        (
            "Blackout: Meivakantie (School holidays (Noord))",
            (dt.date(2027, 4, 24), dt.date(2027, 5, 2)),
        )
    ]
    cycles = [(e.title, e.start_utc, e.days) for e in data.of_kind("cycle")]
    assert cycles == [
        # white label: every 4 weeks from 2027-01-06, the cycle's release date as a whole
        # Berlin day (its slot is 7 days later); sorted by start, so before 10:00 that day
        ("white-label cycle (oem-white-label)", utc(2027, 3, 2, 23), (dt.date(2027, 3, 3),) * 2),
        # vendor production: every 2 weeks on Wednesday from 2027-01-06 at 10:00 Berlin
        ("vendor-production cycle (oem-white-label)", utc(2027, 3, 3, 9), None),
        # hosted: monthly on the second Tuesday at 18:00 London (GMT, then BST)
        ("hosted cycle (hosted-monthly)", utc(2027, 3, 9, 18), None),
        ("vendor-production cycle (oem-white-label)", utc(2027, 3, 17, 9), None),
        ("white-label cycle (oem-white-label)", utc(2027, 3, 30, 22), (dt.date(2027, 3, 31),) * 2),
        ("vendor-production cycle (oem-white-label)", utc(2027, 3, 31, 8), None),
        ("hosted cycle (hosted-monthly)", utc(2027, 4, 13, 17), None),
        ("vendor-production cycle (oem-white-label)", utc(2027, 4, 14, 8), None),
        ("white-label cycle (oem-white-label)", utc(2027, 4, 27, 22), (dt.date(2027, 4, 28),) * 2),
        ("vendor-production cycle (oem-white-label)", utc(2027, 4, 28, 8), None),
    ]
