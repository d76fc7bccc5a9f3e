"""perform_step for upgrades: simulated executor success/failure, the failure policy, polling,
idempotency after a crash, unknown executors and kinds (fail closed)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

import pytest

from releasedesk.catalog.models import Instance
from releasedesk.core import queue
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.models import Release
from releasedesk.timeline.execution import handle_one_step, perform_step
from releasedesk.timeline.executors import ExecContext, ExecStatus, SimulatedExecutor, draw
from releasedesk.timeline.models import RunStatus, ScheduledStep, StepRun
from tests.timeline.conftest import SLOT, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db

S = dt.timedelta(seconds=1)


def _reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def test_simulated_upgrade_succeeds_records_version_and_completes_release(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=0.0)
    step = make_step()
    assert run_worker(SLOT) == 1
    step = _reload(step)
    assert (step.state, step.finished_at, step.attempts, step.last_error) == (
        WorkState.DONE,
        SLOT,
        1,
        "",
    )
    assert _reload(saas_eu).current_version == "5.4.0"
    (run,) = StepRun.objects.filter(step=step)
    assert (run.number, run.executor, run.status, run.version_before, run.version_after) == (
        1,
        "simulated",
        RunStatus.SUCCEEDED,
        "5.3.0",
        "5.4.0",
    )
    assert run.message == "saas-eu upgraded from 5.3.0 to 5.4.0 (simulated)"
    release = _reload(release)
    assert (release.status, release.started_at, release.finished_at) == ("completed", SLOT, SLOT)
    assert audit_actions(release)[-4:] == [
        "release.started",
        "step.started",
        "step.succeeded",
        "release.completed",
    ]


def test_simulated_duration_is_polled_without_counting_an_attempt(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=90)
    step = make_step()
    assert run_worker(SLOT) == 1
    step = _reload(step)
    assert (step.state, step.due_at, step.attempts) == (WorkState.PENDING, SLOT + 90 * S, 0)
    run = StepRun.objects.get(step=step)
    assert (run.status, run.poll_at) == (RunStatus.RUNNING, SLOT + 90 * S)
    assert _reload(saas_eu).current_version == "5.3.0"
    assert _reload(release).status == "in_progress"
    assert run_worker(SLOT + 89 * S) == 0  # not due yet
    assert run_worker(SLOT + 90 * S) == 1
    step = _reload(step)
    assert (step.state, step.finished_at) == (WorkState.DONE, SLOT + 90 * S)
    assert StepRun.objects.filter(step=step).count() == 1
    assert _reload(saas_eu).current_version == "5.4.0"


def test_draw_is_the_documented_seed_and_decides_the_outcome() -> None:
    key = "r7:i3:upgrade"
    expected = int.from_bytes(hashlib.sha256(b"r7:i3:upgrade#2").digest()[:8], "big") / 2**64
    assert draw(key, 2) == expected
    assert draw(key, 2) == draw(key, 2) != draw(key, 1)
    ctx = ExecContext(
        key=key,
        run_number=2,
        instance_slug="x",
        current_version="1",
        target_version="2",
        settings={"kind": "simulated", "duration_seconds": 0, "failure_rate": expected + 1e-9},
        started_at=SLOT,
        now=SLOT,
    )
    assert SimulatedExecutor().start(ctx).status == ExecStatus.FAILED
    ok = SimulatedExecutor().start(
        dataclasses.replace(ctx, settings={**ctx.settings, "failure_rate": expected})
    )
    assert (ok.status, ok.version) == (ExecStatus.SUCCEEDED, "2")


def test_failed_upgrade_is_retried_with_backoff_then_pauses_the_release(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=1.0)
    step = make_step()
    notice = make_step(
        kind="notice", key=f"r{release.pk}:notice", due_at=SLOT + dt.timedelta(days=1)
    )
    assert run_worker(SLOT) == 1
    step = _reload(step)
    # Backoff 30 s after the first failed attempt, 60 s after the second (core.queue).
    assert (step.state, step.due_at, step.attempts) == (WorkState.PENDING, SLOT + 30 * S, 1)
    assert step.last_error.endswith("(retry 1 of 2)")
    assert run_worker(SLOT + 30 * S) == 1
    step = _reload(step)
    assert (step.state, step.due_at) == (WorkState.PENDING, SLOT + 90 * S)
    assert run_worker(SLOT + 90 * S) == 1
    step = _reload(step)
    assert step.state == WorkState.FAILED
    assert step.last_error.endswith("(after 3 failed runs); the release is paused")
    assert list(StepRun.objects.filter(step=step).values_list("number", "status")) == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
    ]
    assert _reload(saas_eu).current_version == "5.3.0"
    assert _reload(release).status == "paused"
    exhausted = step.last_error.removesuffix("; the release is paused")
    notice = _reload(notice)
    assert (notice.state, notice.last_error) == (
        WorkState.BLOCKED,
        f"Held: release 5.4.0 is paused ({exhausted})",
    )
    actions = audit_actions(release)
    assert actions.count("step.failed") == 3
    assert actions[-3:] == ["step.failed", "release.paused", "timeline.paused"]


@pytest.mark.parametrize(
    ("then", "step_state", "release_status"),
    [("skip", WorkState.SKIPPED, "completed"), ("fail_release", WorkState.FAILED, "failed")],
)
def test_failure_policy_from_the_step_payload(
    release: Release,
    make_step: Any,
    saas_eu: Instance,
    then: str,
    step_state: str,
    release_status: str,
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=1.0)
    step = make_step(payload={"on_failure": {"retries": 0, "then": then}})
    assert run_worker(SLOT) == 1
    step = _reload(step)
    assert step.state == step_state
    assert StepRun.objects.filter(step=step).count() == 1
    assert _reload(release).status == release_status
    assert _reload(saas_eu).current_version == "5.3.0"


def test_a_step_claimed_again_after_a_crash_never_repeats_the_effect(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0)
    step = make_step()
    # Worker A claims and performs, then dies before recording the outcome.
    (claimed,) = queue.claim(ScheduledStep, now=SLOT, owner="A", lease=dt.timedelta(minutes=2))
    assert perform_step(claimed, now=SLOT).state == WorkState.DONE
    assert _reload(step).state == WorkState.RUNNING
    # The lease expires, the reaper returns the row, worker B takes it over.
    later = SLOT + dt.timedelta(minutes=3)
    assert queue.reap(ScheduledStep, now=later) == 1
    assert handle_one_step(now=later, owner="B")
    step = _reload(step)
    assert (step.state, step.attempts) == (WorkState.DONE, 2)
    assert StepRun.objects.filter(step=step).count() == 1
    assert audit_actions(release).count("step.succeeded") == 1
    # Worker A wakes up: its lease is gone, its late completion changes nothing.
    assert not queue.complete(claimed, owner="A", now=later, state=WorkState.FAILED, error="late")
    assert _reload(step).state == WorkState.DONE


def test_unknown_executor_blocks(release: Release, make_step: Any, saas_eu: Instance) -> None:
    set_executor(saas_eu, kind="webhook", url="https://cd.example.test/hooks/deploy")
    step = make_step()
    run_worker(SLOT)
    step = _reload(step)
    assert step.state == WorkState.BLOCKED
    assert step.last_error == (
        "Instance saas-eu uses the 'webhook' executor, which is not installed "
        "(available: manual, simulated)"
    )
    assert _reload(saas_eu).current_version == "5.3.0"
    assert _reload(release).status == "scheduled"


def test_invalid_executor_settings_block(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", failure_rate=2)
    step = make_step()
    run_worker(SLOT)
    step = _reload(step)
    assert step.state == WorkState.BLOCKED
    assert step.last_error.startswith(
        "Instance saas-eu has invalid executor settings (executor.failure_rate:"
    )


def test_kinds_without_performer_block_and_informational_kinds_complete(
    release: Release, make_step: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasedesk.timeline import execution

    monkeypatch.delitem(execution.PERFORMERS, "notice", raising=False)
    notice = make_step(kind="notice", key="n1")
    hypercare = make_step(kind="hypercare", key="h1", ends_at=SLOT + dt.timedelta(days=14))
    assert run_worker(SLOT) == 2
    notice, hypercare = _reload(notice), _reload(hypercare)
    assert (notice.state, notice.last_error) == (
        WorkState.BLOCKED,
        "Nothing performs 'notice' steps yet (no performer registered): a person must look",
    )
    assert hypercare.state == WorkState.DONE


def test_an_exception_in_a_performer_retries_with_backoff(
    release: Release, make_step: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasedesk.timeline import execution

    def boom(step: Any, now: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(execution.PERFORMERS, "digest", boom)
    step = make_step(kind="digest", key="d1")
    assert run_worker(SLOT) == 1
    step = _reload(step)
    assert (step.state, step.due_at, step.last_error) == (
        WorkState.PENDING,
        SLOT + 30 * S,
        "RuntimeError: disk on fire",
    )
