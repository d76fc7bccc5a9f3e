"""DESIGN.md §4b carry-over end to end (S3's hosted policy, through the worker on a moving
clock): Hosted One opts out of 7.2 on 2027-02-09 and is carried to the next cycle,
2027-03-09 18:00 GMT. Release 7.3 passes its gates for that cycle, so Hosted One receives
7.3 there — the newest release that passed its gates — and 7.2's upgrade on it is
superseded (7.2 completes). If 7.3 is cancelled instead, 7.2 comes back for that cycle.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from releasedesk.consent.models import Consent
from releasedesk.consent.services import decide
from releasedesk.core.context import Actor
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.releases.services import cancel_release
from releasedesk.timeline.models import ScheduledStep
from tests.consent.world import drive, release_approved, staff_actor, subjects, utc
from tests.scenarios.test_s3_hosted_e2e import (
    DEADLINE,
    NEXT_UPGRADE,
    STAGE_PASSED,
    UPGRADE,
    _pass_stage,
    _release,
    _step,
    hosted,
)

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = ["hosted"]

NEWER_APPROVED = utc(2027, 2, 10, 9)
NEWER_STAGE_PASSED = utc(2027, 3, 1, 10)  # Monday, eight days before the March cycle


def _opt_out_h1(world: dict[str, Any], release: Any) -> None:
    row = Consent.objects.get(
        release=release, instance=world["h1"]["instance"], slot_date=dt.date(2027, 2, 9)
    )
    contact = world["h1"]["admin"]
    decide(
        consent=row,
        decision="opted_out",
        actor=Actor(kind="contact", id=contact.pk),
        channel="portal",
        contact=contact,
    )


def _release_73(world: dict[str, Any]) -> Any:
    return release_approved(
        world["policy"],
        world["product"],
        version="7.3",
        target=dt.date(2027, 2, 15),
        creator=world["rm"],
        approvers=[(world["cm"], "change_management")],
        at=NEWER_APPROVED,
    )


def _to_march_cycle(world: dict[str, Any]) -> tuple[Any, Any]:
    """7.2 released in February with Hosted One opted out; 7.3 approved, its stage passed."""
    release = _release(world)
    with time_machine.travel(STAGE_PASSED, tick=False):
        _pass_stage(world, release)
    opt_out_at = utc(2027, 2, 9, 12, 30)
    drive(
        STAGE_PASSED,
        UPGRADE + dt.timedelta(minutes=30),
        events={opt_out_at: lambda: _opt_out_h1(world, release)},
    )
    h1 = world["h1"]["instance"]
    carried = _step(release, f"i{h1.pk}:upgrade")
    assert (carried.state, carried.due_at) == (WorkState.PENDING, NEXT_UPGRADE)
    release.refresh_from_db()
    assert release.status == "in_progress"  # waits for Hosted One

    newer = _release_73(world)
    drive(UPGRADE + dt.timedelta(minutes=30), NEWER_STAGE_PASSED - dt.timedelta(minutes=1))
    with time_machine.travel(NEWER_STAGE_PASSED, tick=False):
        _pass_stage(world, newer)
    return release, newer


def test_a_carried_instance_receives_the_newest_release_that_passed_its_gates(
    hosted: dict[str, Any], smtp_sink: Any
) -> None:
    w = hosted
    release, newer = _to_march_cycle(w)
    h1, h2, h3 = (w[k]["instance"] for k in ("h1", "h2", "h3"))

    # 7.3 upgrades every instance in the March cycle; on Hosted One it takes over from 7.2.
    for inst in (h1, h2, h3):
        assert _step(newer, f"i{inst.pk}:upgrade").due_at == NEXT_UPGRADE
    old = _step(release, f"i{h1.pk}:upgrade")
    assert (old.state, old.due_at) == (WorkState.SUPERSEDED, NEXT_UPGRADE)
    assert old.reason.endswith(
        "superseded by release 7.3, the newest release that passed its gates for this "
        "instance, planned 2027-03-09 18:00 GMT"
    )
    assert old.reason.startswith("carried to the next cycle: opted out 2027-02-09 12:30 GMT")
    # 7.2's March notice, deadline and verification for Hosted One are off; 7.2 stays open
    # until 7.3 has actually upgraded Hosted One (if 7.3 were cancelled, 7.2 would come back).
    march = ScheduledStep.objects.filter(
        release=release, instance=h1, kind__in=("notice", "consent_deadline", "verify")
    ).exclude(key__contains=":moved:")
    assert {s.key.rsplit(":", 1)[-1]: s.state for s in march if "2027-03" in s.key} == {
        "2027-03-09": WorkState.SUPERSEDED
    }
    release.refresh_from_db()
    assert release.status == "in_progress"

    drive(NEWER_STAGE_PASSED, NEXT_UPGRADE + dt.timedelta(hours=1))
    h1.refresh_from_db()
    assert h1.current_version == "7.3"
    assert _step(newer, f"i{h1.pk}:upgrade").state == WorkState.DONE
    release.refresh_from_db()
    assert release.status == "completed"
    assert release.finished_at is not None
    # completed the moment 7.3's upgrade of Hosted One finished (the simulated executor's run)
    assert NEXT_UPGRADE < release.finished_at < NEXT_UPGRADE + dt.timedelta(minutes=1)
    # Hosted One heard: 7.2's notice, the new date, then 7.3's notice and its completion;
    # never a notice of 7.2 for March.
    assert subjects(smtp_sink.to("admin@h1.test")) == [
        "Planned upgrade: Hosted app 7.2 on 2027-02-09 18:00 GMT (Europe/London)",
        "Your upgrade date moved: Hosted app 7.2 now on 2027-03-09 18:00 GMT (Europe/London)",
        "Planned upgrade: Hosted app 7.3 on 2027-03-09 18:00 GMT (Europe/London)",
        "Upgrade completed: Hosted app 7.3",
    ]
    assert not Message.objects.filter(
        release=release, contact=w["h1"]["admin"], kind="advance_notice", due_at__gt=DEADLINE
    ).exists()


def test_cancelling_the_newer_release_brings_the_carried_upgrade_back(
    hosted: dict[str, Any], smtp_sink: Any
) -> None:
    w = hosted
    release, newer = _to_march_cycle(w)
    h1 = w["h1"]["instance"]
    assert _step(release, f"i{h1.pk}:upgrade").state == WorkState.SUPERSEDED

    with time_machine.travel(utc(2027, 3, 2, 9), tick=False):
        cancel_release(release=newer, actor=staff_actor(w["rm"]), reason="withdrawn")
    back = _step(release, f"i{h1.pk}:upgrade")
    assert (back.state, back.due_at, back.finished_at) == (WorkState.PENDING, NEXT_UPGRADE, None)
    release.refresh_from_db()
    assert release.status == "in_progress"

    drive(utc(2027, 3, 2, 9), NEXT_UPGRADE + dt.timedelta(hours=1))
    h1.refresh_from_db()
    assert h1.current_version == "7.2"
    release.refresh_from_db()
    assert release.status == "completed"
