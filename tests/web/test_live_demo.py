"""The demo's live release moves through its whole timeline in minutes (issue: demo)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from releasedesk.catalog.models import Instance
from releasedesk.core import worker
from releasedesk.core.context import SYSTEM
from releasedesk.core.demo.live import load_live_demo
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.timeline.models import ScheduledStep

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.datetime(2027, 5, 4, 9, 0, tzinfo=dt.UTC)


def test_live_release_runs_from_notice_to_confirmation_within_minutes(
    roles: dict[str, Any],
) -> None:
    with time_machine.travel(START, tick=False):
        release = load_live_demo(SYSTEM)
    assert release is not None
    assert release.status == "in_progress"
    steps = ScheduledStep.objects.filter(release=release)
    assert sorted(set(steps.values_list("kind", flat=True))) == [
        "confirm",
        "notice",
        "upgrade",
        "verify",
    ]
    upgrade = steps.filter(kind="upgrade").order_by("due_at").first()
    assert upgrade is not None
    assert upgrade.due_at == START + dt.timedelta(minutes=5)  # 3 min notice + 2 min margin
    handlers = worker.load_handlers()
    moment = START
    while moment <= START + dt.timedelta(minutes=15):
        with time_machine.travel(moment, tick=False):
            while worker.run_turn(handlers):
                pass
        moment += dt.timedelta(seconds=30)
    release.refresh_from_db()
    assert release.status == "completed"
    assert set(steps.values_list("state", flat=True)) == {WorkState.DONE}
    versions = set(
        Instance.objects.filter(slug__endswith="-prod", owner__kind="hosted").values_list(
            "current_version", flat=True
        )
    )
    assert versions == {"9.0"}
    kinds = sorted(Message.objects.filter(release=release).values_list("kind", flat=True))
    assert kinds == ["advance_notice"] * 3 + ["confirmation"] * 3
    assert load_live_demo(SYSTEM) is None  # idempotent
