"""Controls of a release's timeline (issue 5 §5): every change here is one transaction with
one audit event in the release's scope.

- `pause_timeline` / `resume_timeline` / `cancel_timeline` go through the release's own
  transitions (`releases.services.pause_release` …), which call `hold_steps`,
  `release_held_steps` and `cancel_steps` below — so pausing from the release page, the
  release API or the CLI holds the timeline too.
- `skip_step`, `retry_step`: one step.
- `mark_step`: a person marks a manual upgrade or a task done or failed, with a comment.
- `pass_stage`: a release passes a policy stage (e.g. service acceptance), by a person
  holding the stage's approval role.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db import transaction
from django.db.models import Exists, OuterRef

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.releases import services as release_services
from releasedesk.releases.choices import TERMINAL
from releasedesk.releases.choices import ReleaseStatus as S
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.timeline.execution import (
    after_failure,
    after_verification_failure,
    maybe_complete_release,
    record_failure,
    record_success,
    wake_dependents,
)
from releasedesk.timeline.gates import HELD_PREFIX, policy_stages
from releasedesk.timeline.models import (
    OPEN_RUN_STATES,
    RunStatus,
    ScheduledStep,
    StagePass,
    StepKind,
    StepRun,
)

MAX_COMMENT = 2000
SKIPPABLE = (WorkState.PENDING, WorkState.BLOCKED, WorkState.FAILED, WorkState.MISSED)
RETRYABLE = (WorkState.BLOCKED, WorkState.FAILED, WorkState.MISSED, WorkState.SKIPPED)
OPEN = (WorkState.PENDING, WorkState.RUNNING, WorkState.BLOCKED)
# Kinds a person marks done or failed.
MARKABLE_KINDS = (StepKind.UPGRADE, StepKind.VERIFY, StepKind.TASK)
# Kinds a person marks only once the worker started them (their gates were checked).
STARTED_BY_WORKER = (StepKind.UPGRADE, StepKind.VERIFY)


def storable(text: str) -> str:
    """`text` without NUL characters and lone surrogates (PostgreSQL text cannot hold them)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _comment(value: str, *, required: bool, what: str) -> str:
    value = (value or "").strip()
    if value != storable(value):
        raise ValidationFailed(
            "comment contains characters that cannot be stored (NUL or a lone surrogate)",
            fields={"comment": "no NUL characters or lone surrogates"},
        )
    if required and not value:
        raise ValidationFailed(f"say why ({what})", fields={"comment": "required"})
    if len(value) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            fields={"comment": f"at most {MAX_COMMENT} characters"},
        )
    return value


def _audit(
    release_id: int,
    *,
    actor: Actor,
    action: str,
    obj: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record(
        actor=actor,
        action=action,
        obj=obj,
        before=before,
        after=after,
        scope=release_scope(release_id),
    )


def _lock_step(step: ScheduledStep | int) -> ScheduledStep:
    pk = step if isinstance(step, int) else step.pk
    try:
        found: ScheduledStep = (
            ScheduledStep.objects.select_for_update(of=("self",))
            .select_related("release", "instance")
            .get(pk=pk)
        )
    except ScheduledStep.DoesNotExist as exc:
        raise NotFound(f"Step {pk} does not exist") from exc
    return found


def _lock_release(release_id: int) -> Release:
    found: Release = (
        Release.objects.select_for_update(of=("self",)).select_related("policy").get(pk=release_id)
    )
    return found


def _set_state(
    step: ScheduledStep, *, expected: tuple[str, ...], now: dt.datetime, **updates: Any
) -> None:
    """Compare-and-set the step's state; a Conflict when a worker changed it meanwhile."""
    updated = ScheduledStep.objects.filter(pk=step.pk, state__in=expected).update(
        updated_at=now, **updates
    )
    if updated != 1:
        current = ScheduledStep.objects.filter(pk=step.pk).values_list("state", flat=True).first()
        raise Conflict(
            f"Step {step.key} changed meanwhile (it is {current}); reload and try again",
            fields={"state": str(current)},
        )
    for name, value in updates.items():
        setattr(step, name, value)


def _close_open_runs(step: ScheduledStep, *, now: dt.datetime, why: str) -> int:
    return StepRun.objects.filter(step=step, status__in=OPEN_RUN_STATES).update(
        status=RunStatus.CANCELLED, finished_at=now, message=why[:4000]
    )


def _snapshot(step: ScheduledStep) -> dict[str, Any]:
    return {"key": step.key, "kind": step.kind, "state": step.state, "last_error": step.last_error}


# --- hooks called by the release transitions (inside their transaction) ----------------------


def hold_steps(release: Release, *, actor: Actor, reason: str, now: dt.datetime) -> int:
    """Pause: pending steps of the release become blocked ("Held: …"). A started upgrade
    whose executor is still running keeps being polled (it is already under way)."""
    in_flight = StepRun.objects.filter(step=OuterRef("pk"), status=RunStatus.RUNNING)
    reason = storable(reason)
    message = f"{HELD_PREFIX}release {release.version} is paused" + (
        f" ({reason})" if reason else ""
    )
    held = (
        ScheduledStep.objects.filter(release=release, state=WorkState.PENDING)
        .exclude(Exists(in_flight))
        .update(state=WorkState.BLOCKED, last_error=message[:4000], updated_at=now)
    )
    if held:
        _audit(
            release.pk,
            actor=actor,
            action="timeline.paused",
            obj=release,
            after={"held_steps": held, "reason": reason},
        )
    return held


def release_held_steps(release: Release, *, actor: Actor, now: dt.datetime) -> int:
    """Resume: the steps held by the pause are pending again (due as planned; a step past
    its late cutoff is then marked missed by the worker, never run late silently)."""
    released = ScheduledStep.objects.filter(
        release=release, state=WorkState.BLOCKED, last_error__startswith=HELD_PREFIX
    ).update(state=WorkState.PENDING, last_error="", updated_at=now)
    if released:
        _audit(
            release.pk,
            actor=actor,
            action="timeline.resumed",
            obj=release,
            after={"released_steps": released},
        )
    return released


def cancel_steps(release: Release, *, actor: Actor, reason: str, now: dt.datetime) -> int:
    """Cancel: every open step is cancelled and its open runs closed."""
    reason = storable(reason)
    open_steps = ScheduledStep.objects.filter(release=release, state__in=OPEN)
    StepRun.objects.filter(step__in=open_steps, status__in=OPEN_RUN_STATES).update(
        status=RunStatus.CANCELLED, finished_at=now, message=f"release cancelled: {reason}"[:4000]
    )
    cancelled = open_steps.update(
        state=WorkState.CANCELLED,
        finished_at=now,
        lease_owner="",
        lease_until=None,
        last_error=f"release {release.version} was cancelled" + (f" ({reason})" if reason else ""),
        updated_at=now,
    )
    if cancelled:
        _audit(
            release.pk,
            actor=actor,
            action="timeline.cancelled",
            obj=release,
            after={"cancelled_steps": cancelled, "reason": reason},
        )
    return cancelled


# --- release-level controls -----------------------------------------------------------------


def pause_timeline(*, release: Release, actor: Actor, reason: str = "") -> Release:
    return release_services.pause_release(release=release, actor=actor, reason=reason)


def resume_timeline(*, release: Release, actor: Actor, reason: str = "") -> Release:
    return release_services.resume_release(release=release, actor=actor, reason=reason)


def cancel_timeline(*, release: Release, actor: Actor, reason: str = "") -> Release:
    return release_services.cancel_release(release=release, actor=actor, reason=reason)


# --- one step ----------------------------------------------------------------------------------


@transaction.atomic
def skip_step(*, step: ScheduledStep | int, actor: Actor, reason: str) -> ScheduledStep:
    locked = _lock_step(step)
    reason = _comment(reason, required=True, what="skipping a step")
    release = _lock_release(locked.release_id)
    if locked.state == WorkState.RUNNING:
        raise Conflict(
            f"Step {locked.key} is being performed right now; try again in a moment",
            fields={"state": locked.state},
        )
    if locked.state not in SKIPPABLE:
        raise Conflict(
            f"Step {locked.key} is {locked.state}: only a pending, blocked, failed or missed step can be skipped",
            fields={"state": locked.state},
            code="invalid_transition",
        )
    now = clock.now()
    before = _snapshot(locked)
    _close_open_runs(locked, now=now, why=f"skipped: {reason}")
    _set_state(
        locked,
        expected=SKIPPABLE,
        now=now,
        state=WorkState.SKIPPED,
        finished_at=now,
        last_error=f"skipped by staff: {reason}"[:4000],
    )
    _audit(
        locked.release_id,
        actor=actor,
        action="step.skipped",
        obj=locked,
        before=before,
        after={**_snapshot(locked), "reason": reason},
    )
    maybe_complete_release(release, now=now)
    return locked


@transaction.atomic
def retry_step(*, step: ScheduledStep | int, actor: Actor, reason: str = "") -> ScheduledStep:
    """Run a blocked, failed, missed or skipped step again now (gates are re-checked)."""
    locked = _lock_step(step)
    reason = _comment(reason, required=False, what="retrying a step")
    release = _lock_release(locked.release_id)
    if locked.state not in RETRYABLE:
        raise Conflict(
            f"Step {locked.key} is {locked.state}: only a blocked, failed, missed or skipped step can be retried",
            fields={"state": locked.state},
            code="invalid_transition",
        )
    if release.status in TERMINAL:
        raise Conflict(
            f"Release {release.version} is {release.status}: its steps cannot run again",
            fields={"status": release.status},
        )
    now = clock.now()
    before = _snapshot(locked)
    _close_open_runs(locked, now=now, why="retried by staff")
    _set_state(
        locked,
        expected=RETRYABLE,
        now=now,
        state=WorkState.PENDING,
        due_at=min(locked.due_at, now),
        late_after=None
        if locked.late_after is not None and locked.late_after < now
        else locked.late_after,
        attempts=0,
        finished_at=None,
        last_error="",
    )
    _audit(
        locked.release_id,
        actor=actor,
        action="step.retried",
        obj=locked,
        before=before,
        after={**_snapshot(locked), "reason": reason},
    )
    return locked


def _open_manual_run(step: ScheduledStep) -> StepRun | None:
    return StepRun.objects.filter(step=step, status=RunStatus.WAITING).order_by("-number").first()


@transaction.atomic
def mark_step(
    *,
    step: ScheduledStep | int,
    actor: Actor,
    user: User,
    outcome: Literal["done", "failed"],
    comment: str = "",
) -> ScheduledStep:
    """A person says a manual upgrade or a task is done (or failed), with a comment.

    A manual upgrade must be waiting for a person (the worker started it through its gates);
    a task may be marked done before it is due. A failure follows the failure policy.
    """
    if outcome not in ("done", "failed"):
        raise ValidationFailed(
            "outcome must be done or failed", fields={"outcome": "done or failed"}
        )
    comment = _comment(comment, required=outcome == "failed", what="marking a step failed")
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("only the vendor's staff can mark steps")
    locked = _lock_step(step)
    release = _lock_release(locked.release_id)
    if locked.kind not in MARKABLE_KINDS:
        raise Conflict(
            f"Step {locked.key} is a {locked.kind} step: only manual upgrades and tasks are marked by a person",
            fields={"kind": locked.kind},
        )
    now = clock.now()
    run = _open_manual_run(locked)
    if locked.kind in STARTED_BY_WORKER:
        if run is None or locked.state != WorkState.BLOCKED:
            raise Conflict(
                f"Step {locked.key} is not waiting for a person (it is {locked.state})",
                fields={"state": locked.state},
            )
    else:
        if locked.state not in (WorkState.PENDING, WorkState.BLOCKED):
            raise Conflict(
                f"Step {locked.key} is {locked.state}: only a pending or waiting task can be marked",
                fields={"state": locked.state},
            )
        if run is None:
            last = StepRun.objects.filter(step=locked).order_by("-number").first()
            run = StepRun.objects.create(
                step=locked,
                number=(last.number + 1) if last else 1,
                executor="person",
                status=RunStatus.WAITING,
                started_at=now,
            )
    before = _snapshot(locked)
    run.decided_by = user
    run.details = {**run.details, "comment": comment}
    expected = (WorkState.PENDING, WorkState.BLOCKED)
    if outcome == "done":
        instance = locked.instance
        version = release.version if locked.kind == StepKind.UPGRADE else ""
        if instance is not None and not run.version_before:
            run.version_before = instance.current_version
        message = f"marked done by {user.username}" + (f": {comment}" if comment else "")
        record_success(locked, release, run, version=version, message=message, now=now, actor=actor)
        _set_state(
            locked, expected=expected, now=now, state=WorkState.DONE, finished_at=now, last_error=""
        )
        wake_dependents(locked, now=now)
        if locked.kind in STARTED_BY_WORKER:
            maybe_complete_release(release, now=now, exclude=locked.pk)
    else:
        message = f"marked failed by {user.username}: {comment}"
        record_failure(locked, run, message=message, now=now, actor=actor)
        if locked.kind == StepKind.VERIFY:
            result = after_verification_failure(locked, release, message=message, actor=actor)
        else:
            result = after_failure(locked, release, message=message, now=now, actor=actor)
        if result.retry:
            # Ask the person again: a new run starts when the worker picks the step up.
            _set_state(
                locked,
                expected=expected,
                now=now,
                state=WorkState.PENDING,
                due_at=now,
                last_error=result.error[:4000],
            )
        else:
            _set_state(
                locked,
                expected=expected,
                now=now,
                state=result.state,
                finished_at=now,
                last_error=result.error[:4000],
            )
    _audit(
        locked.release_id,
        actor=actor,
        action=f"step.marked_{outcome}",
        obj=locked,
        before=before,
        after={**_snapshot(locked), "comment": comment, "user_id": user.pk},
    )
    return locked


# --- stages -------------------------------------------------------------------------------------


@transaction.atomic
def pass_stage(
    *, release: Release | int, stage: str, actor: Actor, user: User, comment: str = ""
) -> StagePass:
    """Record that the release passed `stage`, approved by `user` holding the stage's role."""
    pk = release if isinstance(release, int) else release.pk
    try:
        locked = _lock_release(pk)
    except Release.DoesNotExist as exc:
        raise NotFound(f"Release {pk} does not exist") from exc
    comment = _comment(comment, required=False, what="passing a stage")
    specs = {s.name: s for s in policy_stages(locked)}
    spec = specs.get(stage)
    if spec is None:
        raise ValidationFailed(
            f"policy {locked.policy.slug} has no stage {stage!r} (stages: {', '.join(specs) or 'none'})",
            fields={"stage": f"allowed: {', '.join(specs) or 'none'}"},
        )
    if locked.status in TERMINAL or locked.status == S.DRAFT:
        raise Conflict(
            f"Release {locked.version} is {locked.status}: stages are passed once it is assessed",
            fields={"status": locked.status},
        )
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("only the vendor's staff can pass a stage")
    if spec.role and not user.roles.filter(slug=spec.role).exists():
        raise PermissionDenied(
            f"{user.username} does not hold the role {spec.role!r}, which passes the stage {stage!r}",
            fields={"role": f"{spec.role} required"},
        )
    if StagePass.objects.filter(release=locked, stage=stage).exists():
        raise Conflict(
            f"Release {locked.version} already passed the stage {stage!r}",
            fields={"stage": "already passed"},
        )
    now = clock.now()
    passed = StagePass.objects.create(
        release=locked,
        stage=stage,
        passed_at=now,
        approved_by=user,
        role=spec.role,
        comment=comment,
    )
    # The stage's gate steps are done now (the worker would find the pass too).
    gate_steps = [
        s
        for s in ScheduledStep.objects.filter(
            release=locked,
            kind=StepKind.STAGE_GATE,
            state__in=(WorkState.PENDING, WorkState.BLOCKED),
        )
        if (s.payload or {}).get("stage", s.target) == stage
    ]
    if gate_steps:
        ScheduledStep.objects.filter(pk__in=[s.pk for s in gate_steps]).update(
            state=WorkState.DONE, finished_at=now, last_error="", updated_at=now
        )
    _audit(
        locked.pk,
        actor=actor,
        action="release.stage_passed",
        obj=locked,
        after={
            "stage": stage,
            "role": spec.role,
            "user_id": user.pk,
            "comment": comment,
            "gate_steps_done": len(gate_steps),
        },
    )
    if gate_steps:
        # customers are scheduled (and notified) only once the stage passed: plan them now
        from releasedesk.timeline.replan import replan_release

        replan_release(locked, actor=actor)
    return passed
