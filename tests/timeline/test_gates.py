"""Each gate, failing at the moment of action, blocks the upgrade (fail closed) with its reason;
the effect never happens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from releasedesk.catalog.models import Instance
from releasedesk.core import queue
from releasedesk.core.queue_models import WorkState
from releasedesk.policies.models import PolicyVersion
from releasedesk.releases import services as release_services
from releasedesk.releases.models import Release
from releasedesk.timeline import execution, gates
from releasedesk.timeline.execution import finish_step, perform_step
from releasedesk.timeline.models import ScheduledStep, StepRun
from releasedesk.timeline.services import pass_stage, retry_step
from tests.timeline.conftest import SLOT, actor_of, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _instant_executor(saas_eu: Instance) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0)


def _reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def _claim(at: dt.datetime = SLOT) -> ScheduledStep:
    (row,) = queue.claim(ScheduledStep, now=at, owner="w1", lease=dt.timedelta(minutes=1))
    return row


def _act(row: ScheduledStep, at: dt.datetime = SLOT) -> ScheduledStep:
    with time_machine.travel(at, tick=False):
        finish_step(row, perform_step(row, now=at), owner="w1", now=at)
    return _reload(row)


def _assert_untouched(saas_eu: Instance, step: ScheduledStep) -> None:
    assert _reload(saas_eu).current_version == "5.3.0"
    assert not StepRun.objects.filter(step=step).exists()


def test_paused_between_claim_and_action_blocks_then_resume_runs_it(
    release: Release, make_step: Any, saas_eu: Instance, vendor_admin: Any
) -> None:
    step = make_step()
    row = _claim()
    # The release is paused after the worker claimed the step (pause holds only pending ones).
    with time_machine.travel(SLOT, tick=False):
        release_services.pause_release(
            release=release, actor=actor_of(vendor_admin), reason="incident"
        )
    step = _act(row)
    assert (step.state, step.last_error) == (WorkState.BLOCKED, "Held: release 5.4.0 is paused")
    _assert_untouched(saas_eu, step)
    assert audit_actions(release)[-1] == "step.blocked"
    later = SLOT + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        release_services.resume_release(release=release, actor=actor_of(vendor_admin))
    assert _reload(step).state == WorkState.PENDING
    assert run_worker(later) == 1
    assert _reload(step).state == WorkState.DONE
    assert _reload(saas_eu).current_version == "5.4.0"


def test_revoked_approval_blocks_naming_the_missing_role(
    release: Release, make_step: Any, saas_eu: Instance, cto: Any
) -> None:
    step = make_step()
    row = _claim()
    # The CTO revokes after the worker claimed the step, before it acts.
    approval = release.approvals.get(role="cto")
    release_services.revoke_approval(
        release=release,
        approval_id=approval.pk,
        actor=actor_of(cto),
        user=cto,
        comment="load test failed",
    )
    step = _act(row)
    assert (step.state, step.last_error) == (
        WorkState.BLOCKED,
        "Approvals of release 5.4.0 are no longer complete: missing cto",
    )
    _assert_untouched(saas_eu, step)
    assert _reload(release).status == "assessed"


def test_approvals_voided_by_an_edit_block(
    release: Release, make_step: Any, saas_eu: Instance, vendor_admin: Any
) -> None:
    step = make_step()
    row = _claim()
    # Approved when claimed; the date changes (voiding the approvals) before the action.
    release_services.edit_release(
        release=release, actor=actor_of(vendor_admin), target_date=dt.date(2027, 4, 8)
    )
    step = _act(row)
    assert (step.state, step.last_error) == (
        WorkState.BLOCKED,
        "Approvals of release 5.4.0 are no longer complete: missing product_manager, cto",
    )
    _assert_untouched(saas_eu, step)


def _add_stage(release: Release) -> None:
    version: PolicyVersion = release.policy_version  # type: ignore[assignment]
    version.document = {
        **version.document,
        "stages": [{"name": "service_acceptance", "lasts": "14d", "approval": "change_management"}],
    }
    version.save(update_fields=["document"])


def test_a_stage_not_passed_blocks_until_change_management_passes_it(
    release: Release, make_step: Any, saas_eu: Instance, roles: dict[str, Any], vendor_admin: Any
) -> None:
    from releasedesk.accounts.models import User

    _add_stage(release)
    step = make_step()
    run_worker(SLOT)
    step = _reload(step)
    assert (step.state, step.last_error) == (
        WorkState.BLOCKED,
        "Stage not passed yet: service_acceptance (approved by change_management)",
    )
    _assert_untouched(saas_eu, step)
    cm = User.objects.create_user(username="cm", is_staff=True)
    cm.roles.set([roles["change_management"]])
    later = SLOT + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        pass_stage(release=release, stage="service_acceptance", actor=actor_of(cm), user=cm)
        retry_step(step=step, actor=actor_of(vendor_admin))
    assert run_worker(later) == 1
    assert _reload(step).state == WorkState.DONE
    assert _reload(saas_eu).current_version == "5.4.0"


def test_a_closed_window_asks_for_a_replan_and_blocks(
    release: Release,
    make_step: Any,
    saas_eu: Instance,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    asked: list[tuple[int, str]] = []
    monkeypatch.setattr(execution, "REPLAN_HOOKS", [lambda rid, why: asked.append((rid, why))])
    step = make_step(ends_at=SLOT + dt.timedelta(hours=6))  # 16:00-22:00 CEST
    late = SLOT + dt.timedelta(hours=6)
    with django_capture_on_commit_callbacks(execute=True):
        run_worker(late)
    step = _reload(step)
    reason = (
        "The window closed at 2027-04-01 22:00 CEST (Europe/Amsterdam) = 2027-04-01 20:00 UTC: "
        "the step needs a new slot"
    )
    assert (step.state, step.last_error) == (WorkState.BLOCKED, f"Needs a new plan — {reason}")
    assert asked == [(release.pk, reason)]
    _assert_untouched(saas_eu, step)
    assert audit_actions(release)[-1] == "step.gate_replan"


def test_cancelled_while_claimed_never_acts(
    release: Release, make_step: Any, saas_eu: Instance, vendor_admin: Any
) -> None:
    step = make_step()
    row = _claim()
    release_services.cancel_release(
        release=release, actor=actor_of(vendor_admin), reason="withdrawn"
    )
    assert _reload(step).state == WorkState.CANCELLED
    step = _act(row)
    assert (step.state, step.last_error) == (
        WorkState.CANCELLED,
        "release 5.4.0 was cancelled (withdrawn)",
    )
    _assert_untouched(saas_eu, step)


@pytest.mark.parametrize(
    ("status", "kind", "action"),
    [
        ("cancelled", "upgrade", "cancel"),
        ("postponed", "upgrade", "replan"),
        ("paused", "upgrade", "block"),
        ("completed", "upgrade", "block"),
        ("paused", "task", "block"),
        ("cancelled", "notice", "cancel"),
        ("completed", "task", None),
        ("completed", "hypercare", None),
        ("in_progress", "upgrade", None),
    ],
)
def test_release_state_gate_actions(
    release: Release, make_step: Any, status: str, kind: str, action: str | None
) -> None:
    step = make_step(kind=kind)
    release.status = status
    failure = gates.release_state(gates.GateContext(step=step, release=release, now=SLOT))
    assert (failure.action if failure else None) == action


def test_a_paused_release_holds_every_kind_of_step_at_the_moment_of_action(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    task = make_step(kind="task", key="t1", label="Field handover day")
    row = _claim()
    with time_machine.travel(SLOT, tick=False):
        release_services.pause_release(release=release, actor=actor_of(vendor_admin))
    task = _act(row)
    assert (task.state, task.last_error) == (WorkState.BLOCKED, "Held: release 5.4.0 is paused")
    assert not StepRun.objects.filter(step=task).exists()


@pytest.fixture
def consent_gate() -> Iterator[list[str]]:
    """A hook gate as the communication issue will register it (here: a recorded opt-out)."""
    seen: list[str] = []

    def consent(ctx: gates.GateContext) -> gates.GateFailure | None:
        seen.append(ctx.step.key)
        return gates.GateFailure("consent", "School A opted out before the deadline", "skip")

    before = list(gates.GATES)
    gates.register_gate("consent", kinds=("upgrade",))(consent)
    yield seen
    gates.GATES[:] = before


def test_hook_gates_run_after_the_built_ins_and_decide(
    release: Release, make_step: Any, saas_eu: Instance, consent_gate: list[str]
) -> None:
    step = make_step()
    run_worker(SLOT)
    step = _reload(step)
    assert consent_gate == [step.key]
    assert (step.state, step.last_error) == (
        WorkState.SKIPPED,
        "School A opted out before the deadline",
    )
    assert [g.name for g in gates.GATES] == [
        "release_state",
        "approvals",
        "stages",
        "window",
        "consent",
    ]
    _assert_untouched(saas_eu, step)


def test_the_default_replan_hook_plans_again(
    release: Release, make_step: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """With the registered hook a closed window re-plans the release at once (here the
    exec-test policy has no targets, so the new plan drops the step: superseded)."""
    assert execution.replan_after_gate in execution.REPLAN_HOOKS
    step = make_step(ends_at=SLOT + dt.timedelta(hours=6))
    late = SLOT + dt.timedelta(hours=7)
    seen: list[str] = []
    with django_capture_on_commit_callbacks() as callbacks:
        (row,) = queue.claim(ScheduledStep, now=late, owner="w1", lease=dt.timedelta(minutes=1))
        with time_machine.travel(late, tick=False):
            outcome = perform_step(row, now=late)
    # The hooks fire when the gate's transaction commits, before the worker records the
    # outcome: the step is already blocked then, so the re-plan may move it.
    seen.append(_reload(step).state)
    with time_machine.travel(late, tick=False):
        for callback in callbacks:
            callback()
        finish_step(row, outcome, owner="w1", now=late)
    assert seen == [WorkState.BLOCKED]
    assert _reload(step).state == WorkState.SUPERSEDED
    assert audit_actions(release)[-3:] == [
        "step.gate_replan",
        "timeline.planned",
        "timeline.replanned",
    ]


def test_a_replan_that_finds_no_open_slot_blocks_instead_of_looping(
    release: Release,
    make_step: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from releasedesk.timeline import replan
    from releasedesk.timeline.persist import PlanDiff

    step = make_step(ends_at=SLOT + dt.timedelta(hours=6))

    def same_slot_again(rel: Release, *, actor: Any) -> PlanDiff:
        ScheduledStep.objects.filter(pk=step.pk).update(state=WorkState.PENDING, last_error="")
        return PlanDiff(updated=1)

    monkeypatch.setattr(replan, "replan_release", same_slot_again)
    late = SLOT + dt.timedelta(hours=7)
    with time_machine.travel(late, tick=False), django_capture_on_commit_callbacks(execute=True):
        run_worker(late)
    step = _reload(step)
    assert (step.state, step.last_error) == (WorkState.BLOCKED, execution.NO_WINDOW)
    assert run_worker(late + dt.timedelta(minutes=1)) == 0
