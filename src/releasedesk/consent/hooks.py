"""Wiring into the timeline (installed by `ConsentConfig.ready`):

- `tell_about(release, diff, actor)` runs in every re-plan's transaction
  (`timeline.replan.PLAN_STORED_HOOKS`): consent rows follow the plan; a moved upgrade
  sends "your date moved" to the people already told about it (and drops their unsent
  messages about the old date); a removed upgrade sends a cancellation.
- `release_gated_step` runs first among the gate re-plan hooks
  (`timeline.execution.REPLAN_HOOKS`): the step whose gate asked for a new plan is still
  `running` when the hooks fire (its outcome is written afterwards), and the planner keeps a
  running step where it is. It is set to `blocked` first, so the re-plan can move it; the
  worker's later attempt to finish it finds its lease gone and changes nothing.
- `guard_same_slot` runs last: if the new plan leaves that step due again at once (the
  plan and the gate disagree), it is blocked for a person instead of looping.
"""

from __future__ import annotations

import logging

from django.db import transaction

from releasedesk.audit.services import record
from releasedesk.catalog.models import Instance
from releasedesk.consent import notify
from releasedesk.consent.gates import checked_step
from releasedesk.consent.models import Consent
from releasedesk.consent.services import moved_reason, sync_consents
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.choices import MessageKind
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.timeline import execution, replan
from releasedesk.timeline.models import ScheduledStep
from releasedesk.timeline.persist import Moved, PlanDiff

log = logging.getLogger("releasedesk.consent")

_gated: dict[int, int] = {}  # release id -> the step released by release_gated_step
SAME_SLOT = "The new plan keeps this step where its gate failed: a person must look"


def tell_about(release: Release, diff: PlanDiff, actor: Actor) -> None:
    now = clock.now()
    sync_consents(release, now=now)
    for moved in diff.moved:
        if moved.instance_id is not None and moved.key.endswith(":upgrade"):
            _tell_moved(release, moved, actor)
    for key in diff.removed:
        if key.endswith(":upgrade"):
            _tell_cancelled(release, key, actor)


def _instance(instance_id: int) -> Instance:
    found: Instance = Instance.objects.select_related("owner", "product").get(pk=instance_id)
    return found


def _tell_moved(release: Release, moved: Moved, actor: Actor) -> None:
    assert moved.instance_id is not None
    iid = moved.instance_id
    zone = (
        ScheduledStep.objects.filter(release=release, key=moved.key)
        .values_list("zone", flat=True)
        .first()
    ) or "UTC"
    old_day = notify.local_date(moved.old_due_at, zone)
    new_day = notify.local_date(moved.new_due_at, zone)
    contacts = notify.told_contacts(release, iid)
    notify.cancel_old_slot(release, iid, old_day, actor=actor)
    if not contacts:
        return
    instance = _instance(iid)
    consent = (
        Consent.objects.select_related("release", "instance", "customer")
        .filter(release=release, instance_id=iid, slot_date=new_day)
        .first()
    )
    ctx = notify.consent_context(
        notify.base_context(
            release,
            instance,
            starts_at=moved.new_due_at,
            previous_starts_at=moved.old_due_at,
            reason=moved_reason(release, iid, [old_day.isoformat()]),
        ),
        consent,
    )
    sent = notify.send(
        release=release,
        audience=notify.audience_of(
            contacts, f"you were told about the upgrade of {instance.slug} on {old_day}"
        ),
        kind=MessageKind.DATE_MOVED,
        context=ctx,
        subject=notify.ref(iid, "moved", new_day),
        due_at=clock.now(),
        consent=consent,
    )
    record(
        actor=actor,
        action="consent.date_moved_sent",
        obj=release,
        after={
            "instance_id": iid,
            "from": moved.old_due_at.isoformat(),
            "to": moved.new_due_at.isoformat(),
            "messages": sent.created,
        },
        scope=release_scope(release.pk),
    )


def _tell_cancelled(release: Release, key: str, actor: Actor) -> None:
    row = ScheduledStep.objects.filter(release=release, key=key).first()
    if row is None or row.instance_id is None:
        return
    day = notify.local_date(row.due_at, row.zone)
    contacts = notify.told_contacts(release, row.instance_id)
    notify.cancel_old_slot(release, row.instance_id, day, actor=actor)
    if not contacts:
        return
    instance = _instance(row.instance_id)
    reason = (
        f"Release {release.version} no longer goes ahead as planned"
        if release.status not in replan.LIVE
        else "The upgrade is no longer planned for your instance"
    )
    sent = notify.send(
        release=release,
        audience=notify.audience_of(
            contacts, f"you were told about the upgrade of {instance.slug} on {day}"
        ),
        kind=MessageKind.CANCELLATION,
        context=notify.base_context(release, instance, starts_at=row.due_at, reason=reason),
        subject=notify.ref(row.instance_id, "cancelled", day),
        due_at=clock.now(),
    )
    record(
        actor=actor,
        action="consent.cancellation_sent",
        obj=release,
        after={
            "instance_id": row.instance_id,
            "slot": row.due_at.isoformat(),
            "messages": sent.created,
        },
        scope=release_scope(release.pk),
    )


def release_gated_step(release_id: int, reason: str) -> None:
    marked = checked_step(release_id)
    if marked is None:
        return
    pk, owner = marked
    now = clock.now()
    with transaction.atomic():
        released = ScheduledStep.objects.filter(
            pk=pk, state=WorkState.RUNNING, lease_owner=owner
        ).update(
            state=WorkState.BLOCKED,
            last_error=f"Needs a new plan — {reason}"[:4000],
            lease_owner="",
            lease_until=None,
            updated_at=now,
        )
    if released:
        _gated[release_id] = pk


def replan_gated(release_id: int, reason: str) -> None:
    """The re-plan itself, when no other hook does it."""
    from releasedesk.timeline.replan import replan_release

    release = Release.objects.filter(pk=release_id).first()
    if release is not None:
        replan_release(release, actor=SYSTEM)


def guard_same_slot(release_id: int, reason: str) -> None:
    pk = _gated.pop(release_id, None)
    if pk is None:
        return
    now = clock.now()
    with transaction.atomic():
        blocked = ScheduledStep.objects.filter(
            pk=pk, state=WorkState.PENDING, due_at__lte=now
        ).update(
            state=WorkState.BLOCKED, last_error=f"{SAME_SLOT} ({reason})"[:4000], updated_at=now
        )
        if blocked:
            log.warning("consent: step %s blocked: %s", pk, SAME_SLOT)


def install() -> None:
    if tell_about not in replan.PLAN_STORED_HOOKS:
        replan.PLAN_STORED_HOOKS.append(tell_about)
    hooks = execution.REPLAN_HOOKS
    if release_gated_step not in hooks:
        hooks.insert(0, release_gated_step)
    others = [h for h in hooks if h not in (release_gated_step, replan_gated, guard_same_slot)]
    if not others and replan_gated not in hooks:
        hooks.append(replan_gated)
    if guard_same_slot in hooks:
        hooks.remove(guard_same_slot)
    hooks.append(guard_same_slot)
