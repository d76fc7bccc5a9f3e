"""Helpers for the time tests: instants written as text, asserted to the minute."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from releasedesk.core.timeutil import to_local

DATA = Path(__file__).parent / "data"


def utc(text: str) -> dt.datetime:
    """'2027-04-01 14:00' -> aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def local(instant: dt.datetime, zone: str) -> str:
    """'2027-04-01 16:00 CEST' (local wall time with its abbreviation)."""
    value = to_local(instant, zone)
    return f"{value:%Y-%m-%d %H:%M} {value.tzname()}"


def in_utc(instant: dt.datetime) -> str:
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M}"


@pytest.fixture
def school_ics() -> bytes:
    return (DATA / "school-holidays.ics").read_bytes()
