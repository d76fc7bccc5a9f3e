"""Task state changes: kept equal to the stored timeline, reminders through the outbox, done
and skip by a person with a comment (audited), event tasks appearing when their event happens.

- `sync_release_tasks(release_id, now=, actor=)` runs in the transaction that stored the plan
  (`timeline.replan.PLAN_STORED_HOOKS`): a new `task` step becomes a Task (owners, due date,
  reminder), a moved one moves its task and its reminder, a step the plan dropped leaves its
  task "no longer planned" and cancels its reminder.
- Reminders are outbox messages written with the task, due a calendar day before the due
  time in the policy zone (same local time), to every staff member the owners name, in
  their zone and in UTC; a reminder never goes out after the task is due (`late_after`).
  An event task ("update the lending shop" after the release is completed) has no date
  until its event: when it appears its owners are told at once.
- `complete_task` / `skip_task` mark the step through `timeline.services` (one transaction:
  the step, the task's comment, the reminder cancelled, the audit event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.core import clock
from releasedesk.core.alerts import raise_alert
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import Conflict, PermissionDenied, ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.core.timeutil import add_calendar_days, format_local, format_utc, is_valid_zone
from releasedesk.outbox import services as outbox
from releasedesk.outbox.audiences import user_recipient
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.rendering import Rendered, render_html
from releasedesk.releases.choices import ReleaseStatus
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.tasks import selectors
from releasedesk.tasks.choices import TaskStatus
from releasedesk.tasks.models import Task, TaskOwner
from releasedesk.timeline.models import ScheduledStep, StepKind

MAX_COMMENT = 2000
EVENT_RELEASE_COMPLETED = "release_completed"
# Steps in these states no longer need their task's reminder.
GONE = (WorkState.SUPERSEDED, WorkState.CANCELLED)
OPEN_STEP = (WorkState.PENDING, WorkState.RUNNING, WorkState.BLOCKED)


def subject_ref(task: Task) -> str:
    """The outbox subject of a task's messages (part of their idempotency key)."""
    return f"task{task.pk}"


def _zone(task: Task) -> str:
    return task.zone if is_valid_zone(task.zone) else "UTC"


def _audit(
    task: Task, *, actor: Actor, action: str, after: dict[str, Any], before: Any = None
) -> None:
    record(
        actor=actor,
        action=action,
        obj=task,
        before=before,
        after={"task": task.pk, "key": task.key, **after},
        scope=release_scope(task.release_id),
    )


# --- reminders -----------------------------------------------------------------------------


def reminder_time(task: Task, now: dt.datetime) -> dt.datetime | None:
    """When the owners are reminded: a calendar day before the due time (same local time in
    the policy zone), or now if that has passed but the task is not due yet; None when the
    task is already due, or waits for its event."""
    if task.event and task.appeared_at is None:
        return None
    if task.due_at <= now:
        return None
    return max(add_calendar_days(task.due_at, -1, _zone(task)), now)


def render_reminder(task: Task, user: User, why: str, *, new: bool) -> Rendered:
    zone = user.timezone if is_valid_zone(user.timezone or "") else "UTC"
    text = render_to_string(
        "tasks/email/reminder.txt",
        {
            "new": new,
            "title": task.title,
            "version": task.release.version,
            "owners": ", ".join(task.owners),
            "reason": task.reason,
            "name": user.get_full_name() or user.get_username(),
            "due_local": format_local(task.due_at, _zone(task)),
            "due_utc": format_utc(task.due_at),
            "due_yours": format_local(task.due_at, zone),
            "url": f"{settings.BASE_URL}{reverse('tasks:mine')}",
            "why": why,
        },
    )
    head, _, body = text.strip().partition("\n")
    subject = " ".join(head.removeprefix("Subject:").split())
    body = body.strip() + "\n"
    return Rendered(subject=subject, text=body, html=render_html(subject, body, locale="en"))


def _remind(task: Task, *, at: dt.datetime, new: bool) -> int:
    """Write one reminder per owner (in this transaction); how many."""
    written = 0
    for user in selectors.owners_of(task.owners):
        held = sorted(selectors.owner_slugs(user) & set(task.owners))
        why = f"an owner of this task ({', '.join(held)})"
        outbox.enqueue(
            recipient=user_recipient(user, why),
            kind=MessageKind.REMINDER,
            due_at=at,
            rendered=render_reminder(task, user, why, new=new),
            release=task.release,
            subject_ref=subject_ref(task),
            generation=task.reminder_generation,
            late_after=None if new else task.due_at,
        )
        written += 1
    return written


def _cancel_reminders(task: Task, *, actor: Actor, reason: str) -> int:
    return outbox.cancel_pending(
        actor=actor,
        release=task.release,
        subject_ref=subject_ref(task),
        kinds=[MessageKind.REMINDER],
        reason=reason,
    )


def _schedule(task: Task, *, now: dt.datetime, new: bool = False) -> None:
    at = now if new else reminder_time(task, now)
    task.remind_at = at
    task.reminder_generation += 1
    task.save(update_fields=["remind_at", "reminder_generation", "updated_at"])
    if at is not None and _remind(task, at=at, new=new) == 0:
        # Nobody holds the owner roles (or has an address): staff must know before it is due.
        raise_alert(
            kind="tasks.no_owner",
            title=f"Nobody can be reminded of task {task.title!r} of release {task.release.version}",
            detail=(
                f"No active staff member with an e-mail address holds {', '.join(task.owners)} "
                "(as a role or a team); give someone the role or a team."
            ),
            obj=task,
            now=now,
        )


# --- keeping tasks equal to the stored timeline --------------------------------------------------


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.moved or self.updated or self.cancelled)


def _owners(step: ScheduledStep) -> list[str]:
    payload = step.payload if isinstance(step.payload, dict) else {}
    raw = payload.get("owners") or []
    return [str(o)[:64] for o in raw if str(o)] if isinstance(raw, list) else []


def _values(step: ScheduledStep) -> dict[str, Any]:
    payload = step.payload if isinstance(step.payload, dict) else {}
    return {
        "title": step.label[:300],
        "due_at": step.due_at,
        "zone": step.zone,
        "reason": step.reason,
        "event": str(payload.get("waits_for") or "")[:32],
        "condition": str(payload.get("when") or "")[:64],
    }


def _create(step: ScheduledStep, release: Release, *, now: dt.datetime) -> Task:
    values = _values(step)
    appeared = None
    if not values["event"] or release.status == ReleaseStatus.COMPLETED:
        appeared = now
    task = Task.objects.create(
        release=release,
        step=step,
        key=step.key,
        appeared_at=appeared,
        created_at=now,
        updated_at=now,
        **values,
    )
    TaskOwner.objects.bulk_create([TaskOwner(task=task, slug=s) for s in _owners(step)])
    if step.state in OPEN_STEP:
        _schedule(task, now=now, new=bool(task.event and appeared is not None))
    return task


@transaction.atomic
def sync_release_tasks(release_id: int, *, now: dt.datetime, actor: Actor = SYSTEM) -> SyncResult:
    """Make the release's Task rows equal to its stored `task` steps (see the module doc)."""
    result = SyncResult()
    release = Release.objects.get(pk=release_id)
    steps = list(
        ScheduledStep.objects.filter(release_id=release_id, kind=StepKind.TASK).order_by(
            "due_at", "id"
        )
    )
    tasks = {
        t.step_id: t
        for t in Task.objects.filter(release_id=release_id).prefetch_related("owner_rows")
    }
    for step in steps:
        task = tasks.get(step.pk)
        if task is None:
            if step.state in GONE:
                continue  # dropped before anyone saw it
            _create(step, release, now=now)
            result.created.append(step.key)
            continue
        task.step = step
        if step.state in GONE:
            if task.remind_at is not None:
                _cancel_reminders(task, actor=actor, reason="the plan no longer has this task")
                task.remind_at, task.updated_at = None, now
                task.save(update_fields=["remind_at", "updated_at"])
                result.cancelled.append(step.key)
            continue
        values = _values(step)
        changes = {k: v for k, v in values.items() if getattr(task, k) != v}
        owners = _owners(step)
        if owners != task.owners:
            TaskOwner.objects.filter(task=task).delete()
            TaskOwner.objects.bulk_create([TaskOwner(task=task, slug=s) for s in owners])
            changes["owners"] = owners
        if not changes:
            if step.state in OPEN_STEP and task.remind_at is None and not task.outcome:
                _schedule(task, now=now)  # back in the plan (e.g. re-approved): remind again
            continue
        for name, value in changes.items():
            if name != "owners":
                setattr(task, name, value)
        task.updated_at = now
        task.save()
        if "due_at" in changes or "owners" in changes:
            result.moved.append(step.key)
            if step.state in OPEN_STEP and not task.outcome:
                _cancel_reminders(task, actor=actor, reason="the task's due date or owners changed")
                _schedule(task, now=now)
        else:
            result.updated.append(step.key)
    if result.changed:
        record(
            actor=actor,
            action="tasks.synced",
            obj=release,
            after={
                "created": result.created,
                "moved": result.moved,
                "updated": result.updated,
                "cancelled": result.cancelled,
            },
            scope=release_scope(release_id),
        )
    return result


@transaction.atomic
def event_happened(
    *, release: Release, event: str, now: dt.datetime, actor: Actor = SYSTEM
) -> list[Task]:
    """Tasks hanging on `event` appear now: due now, their owners told at once (audited)."""
    appeared: list[Task] = []
    sync_release_tasks(release.pk, now=now, actor=actor)
    for task in Task.objects.filter(
        release=release, event=event, appeared_at__isnull=True
    ).select_related("step", "release"):
        if task.step.state not in OPEN_STEP:
            continue
        task.appeared_at, task.due_at, task.updated_at = now, now, now
        task.reason = f"{task.title}: {event.replace('_', ' ')} at {format_utc(now)}"
        task.save(update_fields=["appeared_at", "due_at", "reason", "updated_at"])
        # The step's time was only an estimate: it is due now too (the person is awaited).
        ScheduledStep.objects.filter(
            pk=task.step_id, state=WorkState.PENDING, due_at__gt=now
        ).update(due_at=now, updated_at=now)
        _schedule(task, now=now, new=True)
        _audit(
            task,
            actor=actor,
            action="task.appeared",
            after={"event": event, "due_at": now.isoformat()},
        )
        appeared.append(task)
    return appeared


# --- people acting on a task ---------------------------------------------------------------------


def _comment(value: str, *, required: bool, what: str) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(f"say why ({what})", fields={"comment": "required"})
    if len(value) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            fields={"comment": f"at most {MAX_COMMENT} characters"},
        )
    return value


def _lock(task: Task | int) -> Task:
    pk = task if isinstance(task, int) else task.pk
    found: Task = (
        Task.objects.select_for_update(of=("self",)).select_related("release", "step").get(pk=pk)
    )
    return found


def _check(task: Task, user: User, *, do: str, done: str) -> None:
    if not selectors.may_act(user, task):
        raise PermissionDenied(
            f"only an owner of this task ({', '.join(task.owners) or 'nobody'}) or an "
            f"administrator can {do}"
        )
    status = task.status
    if status == TaskStatus.WAITING:
        raise Conflict(
            f"task {task.title!r} waits for its event ({task.event.replace('_', ' ')}); "
            "it can be done once that happened",
            fields={"status": status},
            code="invalid_transition",
        )
    if status != TaskStatus.OPEN:
        raise Conflict(
            f"task {task.title!r} is {TaskStatus(status).label.lower()}; only an open task can be {done}",
            fields={"status": status},
            code="invalid_transition",
        )


@transaction.atomic
def complete_task(*, task: Task | int, user: User, actor: Actor, comment: str = "") -> Task:
    """An owner says the task is done (a comment is optional)."""
    from releasedesk.timeline import services as timeline

    comment = _comment(comment, required=False, what="marking a task done")
    locked = _lock(task)
    _check(locked, user, do="mark it done", done="marked done")
    timeline.mark_step(step=locked.step_id, actor=actor, user=user, outcome="done", comment=comment)
    return _decided(locked, user=user, actor=actor, outcome="done", comment=comment)


@transaction.atomic
def skip_task(*, task: Task | int, user: User, actor: Actor, comment: str) -> Task:
    """An owner skips the task; the comment (why) is required."""
    from releasedesk.timeline import services as timeline

    comment = _comment(comment, required=True, what="skipping a task")
    locked = _lock(task)
    _check(locked, user, do="skip it", done="skipped")
    timeline.skip_step(step=locked.step_id, actor=actor, reason=comment)
    return _decided(locked, user=user, actor=actor, outcome="skipped", comment=comment)


def _decided(task: Task, *, user: User, actor: Actor, outcome: str, comment: str) -> Task:
    now = clock.now()
    before = {"status": task.status}
    task.outcome, task.comment, task.decided_by, task.decided_at = outcome, comment, user, now
    task.remind_at, task.updated_at = None, now
    task.save(
        update_fields=["outcome", "comment", "decided_by", "decided_at", "remind_at", "updated_at"]
    )
    _cancel_reminders(task, actor=actor, reason=f"task {outcome}")
    task.step.refresh_from_db()
    _audit(
        task,
        actor=actor,
        action=f"task.{outcome}",
        before=before,
        after={"status": task.status, "comment": comment, "user_id": user.pk},
    )
    return task
