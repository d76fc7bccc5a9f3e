"""Which other releases' upgrades take an instance over (DESIGN.md §4b carry-over), as the
planner's facts are loaded from the database (`planning.snapshot._other_slots`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from releasedesk.planning.snapshot import _other_slots
from releasedesk.timeline.models import ScheduledStep

pytestmark = pytest.mark.django_db

UTC = dt.UTC
START = dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC)


def _upgrade(release: Any, instance: Any, state: str, **payload: Any) -> ScheduledStep:
    return ScheduledStep.objects.create(
        release=release,
        key=f"r{release.pk}:i{instance.pk}:upgrade",
        kind="upgrade",
        state=state,
        due_at=START,
        instance=instance,
        zone="Europe/Amsterdam",
        payload=payload,
    )


def test_newer_releases_take_over_unless_they_wait_for_acceptance(
    make_release: Callable[..., Any], saas_eu: Any
) -> None:
    own = make_release("5.9.0")
    newer_pending = make_release("5.10.0")  # natural order: newer than 5.9.0
    newer_waiting = make_release("5.11.0")
    newer_done = make_release("6.0.0")
    older = make_release("5.8.2")
    _upgrade(newer_pending, saas_eu, "pending", requires=["notice:2027-04-01"])
    _upgrade(newer_waiting, saas_eu, "pending", requires=["consent:2027-04-01"])
    _upgrade(newer_done, saas_eu, "done")
    _upgrade(older, saas_eu, "pending")

    found = {slot.release_version: slot.supersedes for slot in _other_slots(own, {saas_eu.pk})}
    assert found == {"5.10.0": True, "5.11.0": False, "6.0.0": True, "5.8.2": False}
    # An instance outside the release's catalogue is ignored.
    assert _other_slots(own, {saas_eu.pk + 1000}) == ()


def test_an_older_releases_finished_upgrade_is_no_conflict(
    make_release: Callable[..., Any], saas_eu: Any
) -> None:
    own = make_release("5.9.0")
    _upgrade(make_release("5.8.0"), saas_eu, "done")
    _upgrade(make_release("6.1.0"), saas_eu, "superseded")
    assert _other_slots(own, {saas_eu.pk}) == ()
