"""Carrying out one claimed step (issue 5 §3-§4): `perform_step(step, *, now) -> Outcome`.

The worker claims a due `ScheduledStep` through `releasedesk.core.queue` (state running,
lease held) and calls `perform_step`; the returned `core.queue.Outcome` says what becomes of
the row: done, skipped, blocked (with the reason: a gate failed, or a person must act),
failed, cancelled, retried with backoff (`retry=True`), or — `state=pending` with
`values={"due_at": …}` — "ask again then" (an executor still running; not a failed
attempt). `finish_step` applies an outcome under the lease fence; `handle_one_step` is the
worker handler (claim → perform → finish).

Performers are chosen by step kind from `PERFORMERS`; other issues register theirs
(`@register_performer("notice")`). A kind nobody performs blocks (fail closed).

For `upgrade` steps, in ONE transaction with the release row locked: the gates are re-checked
(`timeline.gates`), the instance's executor is started or polled (`timeline.executors`), and
the result is recorded as a `StepRun` together with its effect (`Instance.current_version`)
and an audit event. A step claimed again after a crash finds its succeeded run and completes
without repeating the effect; a started run is polled, not started twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest

from releasedesk.audit.services import record
from releasedesk.catalog.models import Instance
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.queue import Outcome, claim, complete, retry_or_fail
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.choices import ReleaseStatus as S
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.timeline.executors import (
    ExecContext,
    ExecResult,
    ExecStatus,
    ExecutorUnavailable,
    executor_for,
)
from releasedesk.timeline.gates import GateContext, check_gates, decisive, policy_document
from releasedesk.timeline.models import (
    OPEN_RUN_STATES,
    RunStatus,
    ScheduledStep,
    StagePass,
    StepKind,
    StepRun,
)

log = logging.getLogger("releasedesk.timeline")

Performer = Callable[[ScheduledStep, dt.datetime], Outcome]
PERFORMERS: dict[str, Performer] = {}

# Called (after commit) with (release_id, reason) when a gate asks for a new plan. The
# planning integration registers the re-plan here; without one the request is audited.
REPLAN_HOOKS: list[Callable[[int, str], None]] = []
# Called inside the transaction that completed a release (e.g. `after: release_completed` tasks).
RELEASE_COMPLETED_HOOKS: list[Callable[[Release, dt.datetime], None]] = []

# Kinds whose steps count for release completion (every target instance done or skipped).
COMPLETION_KINDS = (StepKind.UPGRADE, StepKind.VERIFY)
FINISHED_STATES = (
    WorkState.DONE,
    WorkState.SKIPPED,
    WorkState.SUPERSEDED,
    WorkState.CANCELLED,
)


def register_performer(kind: str) -> Callable[[Performer], Performer]:
    """Decorator: perform steps of `kind` with this function (replaces an earlier one)."""

    def deco(performer: Performer) -> Performer:
        PERFORMERS[kind] = performer
        return performer

    return deco


def poll_later(due_at: dt.datetime, message: str = "") -> Outcome:
    """Back to pending until `due_at` without counting a failed attempt (executor running)."""
    return Outcome(WorkState.PENDING, error=message, values={"due_at": due_at})


# Performers that re-check the gates themselves, inside the transaction of their effect.
SELF_GATED: set[str] = {StepKind.UPGRADE}


def perform_step(step: ScheduledStep, *, now: dt.datetime) -> Outcome:
    """Perform a CLAIMED step and say what becomes of it (see the module docstring).

    The gates of the step's kind (at least `release_state`: a paused release holds every
    step) are checked first unless the performer checks them in its own transaction.
    """
    if step.kind not in SELF_GATED:
        with transaction.atomic():
            stopped = gate_outcome(step, _lock_release(step.release_id), now=now)
        if stopped is not None:
            return stopped
    waiting = dependency_outcome(step, now=now)
    if waiting is not None:
        return waiting
    performer = PERFORMERS.get(step.kind)
    if performer is None:
        return Outcome.block(
            f"Nothing performs {step.kind!r} steps yet (no performer registered): a person must look"
        )
    return performer(step, now)


# --- applying an outcome to the claimed row ---------------------------------------------------


def finish_step(step: ScheduledStep, outcome: Outcome, *, owner: str, now: dt.datetime) -> bool:
    """Write `outcome` to the claimed row if `owner` still holds its lease. False: lease lost.

    A `pending` outcome ("ask again at due_at") was already applied by the performer, in the
    same transaction as the run's poll time (`defer`), so there is nothing left to write.
    """
    if outcome.retry:
        return retry_or_fail(step, owner=owner, now=now, error=outcome.error) is not None
    if outcome.state == WorkState.PENDING or (
        outcome.state == WorkState.BLOCKED and outcome.error.startswith(REPLAN_PREFIX)
    ):
        return True  # applied by the performer in its own transaction (defer, re-plan block)
    won = complete(
        step, owner=owner, now=now, state=outcome.state, error=outcome.error, values=outcome.values
    )
    if won and outcome.state != WorkState.BLOCKED:
        wake_dependents(step, now=now)
    if won and step.kind in COMPLETION_KINDS and outcome.state != WorkState.BLOCKED:
        # The last upgrade or verification ended (done, skipped, failed…): maybe the release
        # is complete now.
        with transaction.atomic():
            maybe_complete_release(_lock_release(step.release_id), now=now)
    if won and step.kind == StepKind.UPGRADE and outcome.state == WorkState.DONE:
        complete_taken_over(step, now=now)
    return won


def defer(step: ScheduledStep, *, due_at: dt.datetime, message: str, now: dt.datetime) -> Outcome:
    """Give the claimed row back as pending, due at `due_at`; a poll is not a failed attempt.

    Fenced like `core.queue.complete` (same owner, same attempt): a worker that lost its lease
    changes nothing.
    """
    ScheduledStep.objects.filter(
        pk=step.pk, state=WorkState.RUNNING, lease_owner=step.lease_owner, attempts=step.attempts
    ).update(
        state=WorkState.PENDING,
        due_at=due_at,
        lease_owner="",
        lease_until=None,
        attempts=Greatest(F("attempts") - 1, 0),
        last_error=message[:4000],
        updated_at=now,
    )
    return poll_later(due_at, message)


def handle_one_timeline_steps(
    *,
    now: dt.datetime | None = None,
    owner: str | None = None,
    lease: dt.timedelta | None = None,
    filter: Q | None = None,
) -> bool:
    """The worker handler: claim one due step, perform it, record the outcome. True when a
    step was handled. Registered with `releasedesk.core.worker` when the app is ready.

    An unexpected exception in a performer is not allowed to crash-loop: the row is retried
    with backoff (and fails after `max_attempts`).
    """
    from releasedesk.core import worker

    owner = owner or worker.worker_id()
    at = now or clock.now()
    rows = claim(
        ScheduledStep,
        now=at,
        owner=owner,
        lease=lease or worker.DEFAULT_LEASE,
        limit=1,
        filter=filter,
    )
    if not rows:
        return False
    step = rows[0]
    try:
        outcome = perform_step(step, now=at)
    except Exception as exc:
        log.exception("timeline: performing step %s failed", step.key)
        retry_or_fail(step, owner=owner, now=at, error=f"{type(exc).__name__}: {exc}")
        return True
    finish_step(step, outcome, owner=owner, now=at)
    return True


handle_one_step = handle_one_timeline_steps


# --- helpers --------------------------------------------------------------------------------


def _lock_release(release_id: int) -> Release:
    found: Release = (
        Release.objects.select_for_update(of=("self",)).select_related("policy").get(pk=release_id)
    )
    return found


def _audit(
    step: ScheduledStep,
    *,
    action: str,
    after: dict[str, Any],
    actor: Actor = SYSTEM,
    before: dict[str, Any] | None = None,
) -> None:
    record(
        actor=actor,
        action=action,
        obj=step,
        before=before,
        after={"key": step.key, "kind": step.kind, **after},
        scope=release_scope(step.release_id),
    )


def _still_ours(step: ScheduledStep) -> bool:
    return ScheduledStep.objects.filter(
        pk=step.pk,
        state=WorkState.RUNNING,
        lease_owner=step.lease_owner,
        attempts=step.attempts,
    ).exists()


REPLAN_PREFIX = "Needs a new plan — "
NO_WINDOW = "The new plan still has no open slot for this step: a person must look"


def replan_after_gate(release_id: int, reason: str) -> None:
    """The default re-plan hook: plan the release again (`timeline.replan`) and store the
    difference. A step the new plan leaves in a closed window is blocked for a person, so a
    planner that cannot find a slot never makes the worker loop."""
    from releasedesk.timeline.replan import replan_release

    now = clock.now()
    with transaction.atomic():
        release = Release.objects.filter(pk=release_id).first()
        if release is None:
            return
        diff = replan_release(release, actor=SYSTEM)
        stuck = ScheduledStep.objects.filter(
            release_id=release_id,
            kind=StepKind.UPGRADE,
            state=WorkState.PENDING,
            ends_at__isnull=False,
            ends_at__lte=now,
        ).update(state=WorkState.BLOCKED, last_error=NO_WINDOW, updated_at=now)
        record(
            actor=SYSTEM,
            action="timeline.replanned",
            obj=release,
            after={"reason": reason, **diff.summary(), "stuck": stuck},
            scope=release_scope(release_id),
        )


def request_replan(release_id: int, reason: str) -> None:
    """Ask for a new plan of the release once the current transaction commits."""
    for hook in list(REPLAN_HOOKS):
        transaction.on_commit(functools.partial(hook, release_id, reason))
    if not REPLAN_HOOKS:
        log.warning(
            "timeline: release %s needs a new plan (%s); no re-plan hook", release_id, reason
        )


def maybe_complete_release(
    release: Release, *, now: dt.datetime, exclude: int | None = None
) -> bool:
    """Complete an in-progress release once every upgrade and verification step is done,
    skipped, superseded or cancelled."""
    if release.status != S.IN_PROGRESS:
        return False
    # Every target instance done, skipped or superseded (a failed or missed one keeps the
    # release open for a person to decide: retry or skip it).
    open_steps = ScheduledStep.objects.filter(release=release, kind__in=COMPLETION_KINDS).exclude(
        state__in=FINISHED_STATES
    )
    if exclude is not None:
        open_steps = open_steps.exclude(pk=exclude)
    if open_steps.exists() or waits_for_newer(release):
        return False
    from releasedesk.releases.services import complete_release

    # complete_release wakes the steps waiting for the event and runs RELEASE_COMPLETED_HOOKS
    complete_release(
        release=release,
        actor=SYSTEM,
        reason="every upgrade step is done or skipped",
    )
    return True


def waits_for_newer(release: Release) -> bool:
    """True while an upgrade of `release` that a newer release took over (DESIGN.md §4b
    carry-over: `superseded` with `superseded_by` in its payload) has not been carried out by
    that newer release yet: if the newer release is cancelled, the upgrade comes back."""
    taken_over = {
        (row["payload"].get("superseded_by"), row["instance_id"])
        for row in ScheduledStep.objects.filter(
            release=release,
            kind=StepKind.UPGRADE,
            state=WorkState.SUPERSEDED,
            payload__has_key="superseded_by",
        ).values("payload", "instance_id")
    }
    if not taken_over:
        return False
    done = set(
        ScheduledStep.objects.filter(
            kind=StepKind.UPGRADE,
            state__in=(WorkState.DONE, WorkState.SKIPPED),
            release_id__in={rid for rid, _ in taken_over},
            instance_id__in={iid for _, iid in taken_over},
        ).values_list("release_id", "instance_id")
    )
    return not taken_over <= done


def complete_taken_over(step: ScheduledStep, *, now: dt.datetime) -> None:
    """`step` (an upgrade) is done: older releases whose upgrade of the same instance it took
    over may be complete now."""
    if step.instance_id is None:
        return
    older = set(
        ScheduledStep.objects.filter(
            kind=StepKind.UPGRADE,
            state=WorkState.SUPERSEDED,
            instance_id=step.instance_id,
            payload__superseded_by=step.release_id,
        ).values_list("release_id", flat=True)
    )
    for release_id in sorted(older):
        with transaction.atomic():
            maybe_complete_release(_lock_release(release_id), now=now)


def gate_outcome(step: ScheduledStep, release: Release, *, now: dt.datetime) -> Outcome | None:
    """Check the step's gates (release locked by the caller); None when it may act, else the
    outcome that stops it (audited): cancel, skip, block, or block + ask for a re-plan."""
    failures = check_gates(GateContext(step=step, release=release, now=now))
    if not failures:
        return None
    first = decisive(failures)
    reasons = "; ".join(f.message for f in [first, *(f for f in failures if f is not first)])
    _audit(
        step,
        action="step.blocked" if first.action == "block" else f"step.gate_{first.action}",
        after={"gates": [f.gate for f in failures], "message": reasons, "action": first.action},
    )
    if first.action == "cancel":
        return Outcome(WorkState.CANCELLED, error=reasons)
    if first.action == "skip":
        return Outcome.skip(reasons)
    if first.action == "replan":
        # Blocked here, in the gate's transaction, so the re-plan (after commit) finds the
        # step blocked — not still running — and may move it.
        message = f"{REPLAN_PREFIX}{reasons}"
        ScheduledStep.objects.filter(
            pk=step.pk,
            state=WorkState.RUNNING,
            lease_owner=step.lease_owner,
            attempts=step.attempts,
        ).update(
            state=WorkState.BLOCKED,
            lease_owner="",
            lease_until=None,
            last_error=message[:4000],
            updated_at=now,
        )
        request_replan(release.pk, reasons)
        return Outcome.block(message)
    return Outcome.block(reasons)


# --- dependencies ------------------------------------------------------------------------

# A step whose payload says `after: <step key>` runs once that step is done (verify after
# upgrade, confirm after verify); `waits_for: release_completed` once the release completes.
WAITS_PREFIX = "Waits for the release to be completed"
DEPENDENCY_POLL = dt.timedelta(seconds=30)
BLOCKED_DEPENDENCY_POLL = dt.timedelta(minutes=5)
UNFINISHED = (WorkState.PENDING, WorkState.RUNNING, WorkState.BLOCKED)


def dependency_outcome(step: ScheduledStep, *, now: dt.datetime) -> Outcome | None:
    """None when the step's prerequisites are met; else wait for them or skip the step."""
    payload = step.payload if isinstance(step.payload, dict) else {}
    if payload.get("waits_for") == "release_completed":
        status = Release.objects.filter(pk=step.release_id).values_list("status", flat=True).first()
        if status != S.COMPLETED:
            return Outcome.block(f"{WAITS_PREFIX} (it is {status})")
    after = payload.get("after")
    if not isinstance(after, str) or not after:
        return None
    before = (
        ScheduledStep.objects.filter(release_id=step.release_id, key=after)
        .values("state", "due_at")
        .first()
    )
    if before is None or before["state"] == WorkState.DONE:
        return None
    if before["state"] in UNFINISHED:
        # Until the prerequisite is due; then poll (it wakes this step when it ends).
        wait = BLOCKED_DEPENDENCY_POLL if before["state"] == WorkState.BLOCKED else DEPENDENCY_POLL
        due = before["due_at"] if before["due_at"] > now else now + wait
        with transaction.atomic():
            return defer(
                step, due_at=due, message=f"Waits for {after} ({before['state']})", now=now
            )
    return Outcome.skip(f"{after} did not happen ({before['state']})")


def wake_dependents(step: ScheduledStep, *, now: dt.datetime) -> int:
    """`step` ended: the pending steps that wait for it (`after: <its key>`) are due now."""
    return ScheduledStep.objects.filter(
        release_id=step.release_id, state=WorkState.PENDING, payload__after=step.key, due_at__gt=now
    ).update(due_at=now, updated_at=now)


def release_waiting_steps(release: Release, *, now: dt.datetime) -> int:
    """The release completed: steps waiting for that event are due now."""
    return ScheduledStep.objects.filter(
        release=release, state=WorkState.BLOCKED, last_error__startswith=WAITS_PREFIX
    ).update(state=WorkState.PENDING, due_at=now, last_error="", updated_at=now)


# --- failure policy -------------------------------------------------------------------------

Then = Literal["pause_release", "skip", "fail_release"]


DEFAULT_RETRIES = 2


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """What a failed upgrade does: `retries` more runs with backoff, `then` one of
    pause_release (default), skip (leave the instance, go on) or fail_release."""

    retries: int = DEFAULT_RETRIES
    then: Then = "pause_release"

    @classmethod
    def parse(cls, raw: Any) -> FailurePolicy:
        if not isinstance(raw, dict):
            return cls()
        retries = raw.get("retries", DEFAULT_RETRIES)
        then = raw.get("then", "pause_release")
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
            retries = DEFAULT_RETRIES
        if then not in ("pause_release", "skip", "fail_release"):
            then = "pause_release"
        return cls(retries=retries, then=then)


def failure_policy(step: ScheduledStep, release: Release) -> FailurePolicy:
    """From the step's payload (`on_failure`, copied by the planner), else the policy's target
    of the same name (`targets[].on_failure`), else the default."""
    payload = step.payload if isinstance(step.payload, dict) else {}
    if "on_failure" in payload:
        return FailurePolicy.parse(payload["on_failure"])
    for target in policy_document(release).get("targets") or []:
        if isinstance(target, dict) and target.get("name") == step.target:
            return FailurePolicy.parse(target.get("on_failure"))
    return FailurePolicy()


def after_failure(
    step: ScheduledStep,
    release: Release,
    *,
    message: str,
    now: dt.datetime,
    actor: Actor = SYSTEM,
    attempts_left: bool = True,
) -> Outcome:
    """The outcome of a failed run under the failure policy (retry, skip, pause, fail)."""
    policy = failure_policy(step, release)
    failed_runs = StepRun.objects.filter(step=step, status=RunStatus.FAILED).count()
    if failed_runs <= policy.retries and attempts_left:
        return Outcome.retry_later(f"{message} (retry {failed_runs} of {policy.retries})")
    from releasedesk.releases import services as release_services

    exhausted = f"{message} (after {failed_runs} failed run{'s' if failed_runs != 1 else ''})"
    if policy.then == "skip":
        maybe_complete_release(release, now=now, exclude=step.pk)
        return Outcome.skip(f"{exhausted}; skipped by the failure policy")
    if policy.then == "fail_release":
        if release.status == S.IN_PROGRESS:
            release_services.fail_release(release=release, actor=actor, reason=exhausted)
        _alert(step, release, f"Upgrade failed; release {release.version} failed", exhausted)
        return Outcome.fail(f"{exhausted}; the release failed")
    if release.status in (S.IN_PROGRESS, S.SCHEDULED):
        release_services.pause_release(release=release, actor=actor, reason=exhausted)
    _alert(step, release, f"Upgrade failed; release {release.version} paused", exhausted)
    return Outcome.fail(f"{exhausted}; the release is paused")


def _alert(step: ScheduledStep, release: Release, title: str, detail: str) -> None:
    from releasedesk.core.alerts import raise_alert

    raise_alert(kind="timeline.step_failed", title=title[:300], detail=detail, obj=step)


# --- upgrade ----------------------------------------------------------------------------------


def _context(
    step: ScheduledStep, release: Release, run: StepRun, settings: dict[str, Any], now: dt.datetime
) -> ExecContext:
    instance = step.instance
    assert instance is not None
    return ExecContext(
        key=step.key,
        run_number=run.number,
        instance_slug=instance.slug,
        current_version=run.version_before,
        target_version=release.version,
        settings=settings,
        started_at=run.started_at,
        now=now,
    )


def record_success(
    step: ScheduledStep,
    release: Release,
    run: StepRun,
    *,
    version: str,
    message: str,
    now: dt.datetime,
    actor: Actor = SYSTEM,
    details: dict[str, Any] | None = None,
) -> None:
    """The effect of a succeeded run: the run, the instance's new version, the audit event."""
    run.status, run.finished_at, run.poll_at = RunStatus.SUCCEEDED, now, None
    run.message, run.version_after = message[:4000], version
    run.details = {**run.details, **(details or {})}
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "poll_at",
            "message",
            "version_after",
            "details",
            "decided_by",
        ]
    )
    if step.instance_id is not None and version:
        Instance.objects.filter(pk=step.instance_id).update(current_version=version, updated_at=now)
    _audit(
        step,
        action="step.succeeded",
        actor=actor,
        before={"version": run.version_before},
        after={
            "instance_id": step.instance_id,
            "run": run.number,
            "executor": run.executor,
            "version": version,
            "message": run.message,
        },
    )


def record_failure(
    step: ScheduledStep,
    run: StepRun,
    *,
    message: str,
    now: dt.datetime,
    actor: Actor = SYSTEM,
    details: dict[str, Any] | None = None,
) -> None:
    run.status, run.finished_at, run.poll_at = RunStatus.FAILED, now, None
    run.message = message[:4000]
    run.details = {**run.details, **(details or {})}
    run.save(update_fields=["status", "finished_at", "poll_at", "message", "details", "decided_by"])
    _audit(
        step,
        action="step.failed",
        actor=actor,
        after={
            "instance_id": step.instance_id,
            "run": run.number,
            "executor": run.executor,
            "message": run.message,
        },
    )


def _result_outcome(
    step: ScheduledStep, release: Release, run: StepRun, result: ExecResult, now: dt.datetime
) -> Outcome:
    if result.status == ExecStatus.SUCCEEDED:
        record_success(
            step,
            release,
            run,
            version=result.version or release.version,
            message=result.message,
            now=now,
            details=result.details,
        )
        maybe_complete_release(release, now=now, exclude=step.pk)
        return Outcome.done()
    if result.status == ExecStatus.FAILED:
        record_failure(step, run, message=result.message, now=now, details=result.details)
        return after_failure(
            step,
            release,
            message=result.message,
            now=now,
            attempts_left=step.attempts < step.max_attempts,
        )
    if result.status == ExecStatus.WAITING:
        if run.status != RunStatus.WAITING:
            run.status, run.message = RunStatus.WAITING, result.message[:4000]
            run.save(update_fields=["status", "message"])
            _audit(step, action="step.waiting", after={"run": run.number, "message": run.message})
        return Outcome.block(result.message)
    poll_at = result.poll_at or now + dt.timedelta(seconds=30)
    run.poll_at, run.message = poll_at, result.message[:4000]
    run.save(update_fields=["poll_at", "message"])
    return defer(step, due_at=poll_at, message=result.message, now=now)


@register_performer(StepKind.UPGRADE)
def perform_upgrade(step: ScheduledStep, now: dt.datetime) -> Outcome:
    with transaction.atomic():
        release = _lock_release(step.release_id)
        if not _still_ours(step):
            return Outcome.block("the step changed while it was being performed")
        if step.instance_id is None:
            return Outcome.block("an upgrade step without an instance cannot be performed")
        runs = list(StepRun.objects.filter(step=step).order_by("number"))
        if any(r.status == RunStatus.SUCCEEDED for r in runs):
            # The effect already happened (e.g. the worker died before recording the state).
            return Outcome.done()
        open_run = next((r for r in runs if r.status in OPEN_RUN_STATES), None)
        instance = Instance.objects.get(pk=step.instance_id)
        step.instance = instance
        try:
            executor, settings = executor_for(instance)
        except ExecutorUnavailable as exc:
            _audit(step, action="step.blocked", after={"gate": "executor", "message": exc.message})
            return Outcome.block(exc.message)
        if open_run is not None:
            if open_run.status == RunStatus.WAITING:
                return Outcome.block(open_run.message or "Waiting for a person")
            ctx = _context(step, release, open_run, settings, now)
            return _result_outcome(step, release, open_run, executor.poll(ctx), now)
        stopped = gate_outcome(step, release, now=now)
        if stopped is not None:
            return stopped
        if release.status in (S.APPROVED, S.SCHEDULED):
            from releasedesk.releases.services import start_release

            release = start_release(release=release, actor=SYSTEM)
        run = StepRun.objects.create(
            step=step,
            number=(runs[-1].number + 1) if runs else 1,
            executor=executor.kind,
            status=RunStatus.RUNNING,
            started_at=now,
            version_before=instance.current_version,
        )
        _audit(
            step,
            action="step.started",
            after={
                "instance_id": instance.pk,
                "run": run.number,
                "executor": executor.kind,
                "from_version": instance.current_version,
                "to_version": release.version,
            },
        )
        return _result_outcome(
            step, release, run, executor.start(_context(step, release, run, settings, now)), now
        )


# --- verification -------------------------------------------------------------------------------


def after_verification_failure(
    step: ScheduledStep, release: Release, *, message: str, actor: Actor = SYSTEM
) -> Outcome:
    """The policy's `verification.on_failure`: pause_release, revert_release (reverting comes
    with the rollout-execution issue: until then the release is paused for a person), alert."""
    payload = step.payload if isinstance(step.payload, dict) else {}
    action = str(payload.get("on_failure") or "revert_release")
    if action == "alert":
        _alert(step, release, f"Verification failed on release {release.version}", message)
        return Outcome.fail(f"{message}; staff alerted")
    from releasedesk.releases import services as release_services

    if release.status in (S.IN_PROGRESS, S.SCHEDULED):
        release_services.pause_release(release=release, actor=actor, reason=message)
    why = (
        "the policy says revert_release; no executor reverts yet, so the release is paused for a person"
        if action == "revert_release"
        else "the release is paused"
    )
    _alert(step, release, f"Verification failed; release {release.version} paused", message)
    return Outcome.fail(f"{message}; {why}")


@register_performer(StepKind.VERIFY)
def perform_verify(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """Ask the instance's executor to run the policy's checks after its upgrade is done."""
    with transaction.atomic():
        release = _lock_release(step.release_id)
        if not _still_ours(step) or step.instance_id is None:
            return Outcome.block(
                "the step changed while it was being performed, or has no instance"
            )
        runs = list(StepRun.objects.filter(step=step).order_by("number"))
        if any(r.status == RunStatus.SUCCEEDED for r in runs):
            return Outcome.done()
        waiting = next((r for r in runs if r.status in OPEN_RUN_STATES), None)
        if waiting is not None:
            return Outcome.block(waiting.message or "Waiting for a person")
        instance = Instance.objects.get(pk=step.instance_id)
        step.instance = instance
        try:
            executor, settings = executor_for(instance)
        except ExecutorUnavailable as exc:
            return Outcome.block(exc.message)
        payload = step.payload if isinstance(step.payload, dict) else {}
        checks = [str(c) for c in payload.get("checks") or []]
        run = StepRun.objects.create(
            step=step,
            number=(runs[-1].number + 1) if runs else 1,
            executor=executor.kind,
            status=RunStatus.RUNNING,
            started_at=now,
            version_before=instance.current_version,
            details={"checks": checks},
        )
        result = executor.verify(_context(step, release, run, settings, now), checks)
        if result.status == ExecStatus.SUCCEEDED:
            record_success(step, release, run, version="", message=result.message, now=now)
            maybe_complete_release(release, now=now, exclude=step.pk)
            return Outcome.done()
        if result.status == ExecStatus.FAILED:
            record_failure(step, run, message=result.message, now=now)
            return after_verification_failure(step, release, message=result.message)
        run.status, run.message = RunStatus.WAITING, result.message[:4000]
        run.save(update_fields=["status", "message"])
        return Outcome.block(result.message)


# --- tasks, stage gates and informational steps ------------------------------------------------


@register_performer(StepKind.TASK)
def perform_task(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """A task waits for a person to mark it done (UI, API or CLI)."""
    with transaction.atomic():
        runs = list(StepRun.objects.filter(step=step).order_by("number"))
        if any(r.status == RunStatus.SUCCEEDED for r in runs):
            return Outcome.done()
        waiting = next((r for r in runs if r.status in OPEN_RUN_STATES), None)
        if waiting is None:
            owners = step.audience or ", ".join(
                str(o) for o in (step.payload or {}).get("owners", [])
            )
            message = f"Waiting for {owners or 'a person'} to do: {step.label}"
            waiting = StepRun.objects.create(
                step=step,
                number=(runs[-1].number + 1) if runs else 1,
                executor="person",
                status=RunStatus.WAITING,
                started_at=now,
                message=message[:4000],
            )
            _audit(
                step,
                action="step.waiting",
                after={"run": waiting.number, "message": waiting.message},
            )
        return Outcome.block(waiting.message)


def stage_of(step: ScheduledStep) -> str:
    payload = step.payload if isinstance(step.payload, dict) else {}
    return str(payload.get("stage") or step.target)


@register_performer(StepKind.STAGE_GATE)
def perform_stage_gate(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """Done once the stage is passed; until then it waits (pass_stage completes it)."""
    stage = stage_of(step)
    if StagePass.objects.filter(release_id=step.release_id, stage=stage).exists():
        return Outcome.done()
    return Outcome.block(f"Waiting for the stage {stage!r} to be passed")


def _informational(step: ScheduledStep, now: dt.datetime) -> Outcome:
    return Outcome.done()


for _kind in (StepKind.HYPERCARE, StepKind.CONSENT_DEADLINE):
    register_performer(_kind)(_informational)


__all__ = [
    "PERFORMERS",
    "RELEASE_COMPLETED_HOOKS",
    "REPLAN_HOOKS",
    "DomainError",
    "FailurePolicy",
    "Outcome",
    "finish_step",
    "handle_one_step",
    "handle_one_timeline_steps",
    "perform_step",
    "poll_later",
    "register_performer",
]
