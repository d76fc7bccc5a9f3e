"""The stored timeline follows every change: approval, revocation, edits, catalogue, policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog import services as catalog
from releasedesk.core.context import Actor
from releasedesk.core.queue_models import WorkState
from releasedesk.releases import services
from releasedesk.releases.models import Approval, Release
from releasedesk.timeline.models import ScheduledStep
from tests.planning.test_snapshot import approved_540

pytestmark = pytest.mark.django_db

__all__ = ["approved_540"]

UTC = dt.UTC


def staff(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


def _open(release: Release) -> dict[str, tuple[str, dt.datetime]]:
    return {
        s.key: (s.kind, s.due_at)
        for s in ScheduledStep.objects.filter(release=release, state=WorkState.PENDING)
    }


def test_approval_stores_the_timeline(approved_540: Release) -> None:
    steps = _open(approved_540)
    upgrade = next(v for v in steps.values() if v[0] == "upgrade")
    assert upgrade[1] == dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC)
    notices = [v for v in steps.values() if v[0] == "notice"]
    assert notices == [("notice", dt.datetime(2027, 3, 25, 13, 0, tzinfo=UTC))]
    planned = AuditEvent.objects.filter(
        action="timeline.planned", scope=f"release:{approved_540.pk}"
    )
    assert planned.count() == 1


def test_revoking_an_approval_supersedes_the_pending_steps(approved_540: Release, cto: Any) -> None:
    approval = Approval.objects.get(release=approved_540, role="cto")
    with time_machine.travel(dt.datetime(2027, 3, 23, 9, 0, tzinfo=UTC), tick=False):
        services.revoke_approval(
            release=approved_540,
            approval_id=approval.pk,
            actor=staff(cto),
            user=cto,
            comment="the migration needs another look",
        )
    assert _open(approved_540) == {}
    states = set(ScheduledStep.objects.filter(release=approved_540).values_list("state", flat=True))
    assert states == {WorkState.SUPERSEDED}


def test_customer_zone_change_replans_live_releases(
    approved_540: Release, vendor_admin: Any, saas_eu: Any
) -> None:
    before = _open(approved_540)
    with time_machine.travel(dt.datetime(2027, 3, 22, 12, 0, tzinfo=UTC), tick=False):
        catalog.update_instance(
            actor=staff(vendor_admin), instance=saas_eu, timezone="Europe/London"
        )
    after = _open(approved_540)
    upgrade = next(v for v in after.values() if v[0] == "upgrade")
    # Thursday 16:00 is now read in London: 15:00 UTC on 2027-04-01
    assert upgrade[1] == dt.datetime(2027, 4, 1, 15, 0, tzinfo=UTC)
    assert before.keys() == after.keys()


def test_unchanged_catalogue_edit_writes_no_new_plan_event(
    approved_540: Release, vendor_admin: Any, customer_c: Any
) -> None:
    count = AuditEvent.objects.filter(action="timeline.planned").count()
    with time_machine.travel(dt.datetime(2027, 3, 22, 9, 10, tzinfo=UTC), tick=False):
        catalog.update_customer(actor=staff(vendor_admin), customer=customer_c, name="C renamed")
    assert AuditEvent.objects.filter(action="timeline.planned").count() == count


def test_a_customer_nobody_can_tell_alerts_staff_when_the_plan_is_made(
    approved_540: Release, vendor_admin: Any, customer_b: Any
) -> None:
    from releasedesk.catalog.models import Contact
    from releasedesk.core.queue_models import StaffAlert

    assert not StaffAlert.objects.filter(kind="outbox.no_reachable_admin").exists()
    for contact in Contact.objects.filter(customer=customer_b):
        catalog.update_contact(actor=staff(vendor_admin), contact=contact, reachable=False)
    # the contact change replans (recipients are part of the plan): the alert is raised once
    alerts = StaffAlert.objects.filter(kind="outbox.no_reachable_admin")
    assert [(a.object_id, a.title.startswith("Release 5.4.0:")) for a in alerts] == [
        (str(customer_b.pk), True)
    ]


def test_cancelling_a_release_tells_the_hooks_which_upgrades_are_off(
    approved_540: Release, product_manager: Any
) -> None:
    from releasedesk.timeline.persist import PlanDiff
    from releasedesk.timeline.replan import PLAN_STORED_HOOKS

    seen: list[PlanDiff] = []

    def capture(release: Release, diff: PlanDiff, actor: Actor) -> None:
        seen.append(diff)

    upgrade = ScheduledStep.objects.get(release=approved_540, kind="upgrade")
    PLAN_STORED_HOOKS.append(capture)
    try:
        services.cancel_release(
            release=approved_540, actor=staff(product_manager), reason="Postponed to summer"
        )
    finally:
        PLAN_STORED_HOOKS.remove(capture)
    assert [d.removed for d in seen] == [[upgrade.key]]
    upgrade.refresh_from_db()
    assert upgrade.state == WorkState.CANCELLED
