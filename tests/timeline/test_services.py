"""Controls (pause/resume/cancel, skip, retry), the manual executor and tasks marked by a
person, stage passes — each audited, each refusing what it must refuse."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from releasedesk.catalog.models import Instance
from releasedesk.core.errors import Conflict, PermissionDenied, ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import audit_trail
from releasedesk.timeline import services
from releasedesk.timeline.models import RunStatus, StagePass, StepRun
from tests.timeline.conftest import SLOT, actor_of, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db


def _reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def _last_event(release: Release) -> Any:
    return audit_trail(release).last()


def test_pause_holds_pending_steps_resume_releases_only_those(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    upgrade = make_step()
    notice = make_step(kind="notice", key="n1", due_at=SLOT - dt.timedelta(days=7))
    unmeetable = make_step(
        kind="notice",
        key="n2",
        state=WorkState.BLOCKED,
        last_error="deadline is not before the start",
    )
    with time_machine.travel(SLOT - dt.timedelta(days=8), tick=False):
        services.pause_timeline(release=release, actor=actor_of(vendor_admin), reason="incident 42")
    assert _reload(release).status == "paused"
    for step in (upgrade, notice):
        assert (_reload(step).state, step.last_error) == (
            WorkState.BLOCKED,
            "Held: release 5.4.0 is paused (incident 42)",
        )
    event = _last_event(release)
    assert (event.action, event.after, event.actor_id) == (
        "timeline.paused",
        {"held_steps": 2, "reason": "incident 42"},
        vendor_admin.pk,
    )
    with time_machine.travel(SLOT - dt.timedelta(days=7, hours=1), tick=False):
        services.resume_timeline(release=release, actor=actor_of(vendor_admin))
    assert _reload(release).status == "scheduled"
    assert (_reload(upgrade).state, _reload(notice).state) == (WorkState.PENDING, WorkState.PENDING)
    # A step blocked for its own reason stays blocked.
    assert (_reload(unmeetable).state, unmeetable.last_error) == (
        WorkState.BLOCKED,
        "deadline is not before the start",
    )
    assert audit_actions(release)[-2:] == ["release.resumed", "timeline.resumed"]
    assert _last_event(release).after == {"released_steps": 2}


def test_cancel_cancels_every_open_step_and_keeps_history(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    done = make_step(kind="notice", key="n1", state=WorkState.DONE)
    upgrade = make_step()
    task = make_step(kind="task", key="t1")
    services.cancel_timeline(release=release, actor=actor_of(vendor_admin), reason="withdrawn")
    assert _reload(release).status == "cancelled"
    assert _reload(done).state == WorkState.DONE
    for step in (upgrade, task):
        assert (_reload(step).state, step.last_error) == (
            WorkState.CANCELLED,
            "release 5.4.0 was cancelled (withdrawn)",
        )
    assert _last_event(release).after == {"cancelled_steps": 2, "reason": "withdrawn"}


def test_skip_and_retry_one_step(
    release: Release, make_step: Any, vendor_admin: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=1.0)
    step = make_step(payload={"on_failure": {"retries": 0, "then": "skip"}})
    other = make_step(kind="upgrade", key="second", instance=saas_eu)
    # A later upgrade keeps the release in progress.
    make_step(kind="upgrade", key="third", due_at=SLOT + dt.timedelta(days=7))
    with pytest.raises(ValidationFailed, match="say why"):
        services.skip_step(step=step, actor=actor_of(vendor_admin), reason=" ")
    services.skip_step(step=other, actor=actor_of(vendor_admin), reason="instance retired")
    assert (_reload(other).state, other.last_error) == (
        WorkState.SKIPPED,
        "skipped by staff: instance retired",
    )
    event = _last_event(release)
    assert (event.action, event.before["state"], event.after["state"], event.after["reason"]) == (
        "step.skipped",
        "pending",
        "skipped",
        "instance retired",
    )
    run_worker(SLOT)
    assert _reload(step).state == WorkState.SKIPPED  # the failure policy skipped it
    with pytest.raises(
        Conflict, match="only a pending, blocked, failed or missed step can be skipped"
    ):
        services.skip_step(step=step, actor=actor_of(vendor_admin), reason="again")
    # Retry: the executor works now.
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=0.0)
    later = SLOT + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        services.retry_step(step=step, actor=actor_of(vendor_admin), reason="fixed the disk")
    step = _reload(step)
    assert (step.state, step.due_at, step.attempts, step.last_error, step.finished_at) == (
        WorkState.PENDING,
        SLOT,
        0,
        "",
        None,
    )
    assert _last_event(release).action == "step.retried"
    run_worker(later)
    assert _reload(step).state == WorkState.DONE
    assert list(StepRun.objects.filter(step=step).values_list("number", "status")) == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    with pytest.raises(
        Conflict, match="only a blocked, failed, missed or skipped step can be retried"
    ):
        services.retry_step(step=step, actor=actor_of(vendor_admin))


def test_manual_upgrade_waits_for_a_person_then_is_marked_done(
    release: Release, make_step: Any, vendor_admin: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="manual", instructions="Run the deploy playbook")
    step = make_step()
    run_worker(SLOT)
    step = _reload(step)
    message = (
        "Waiting for a person to upgrade saas-eu to 5.4.0 and mark it done or failed: "
        "Run the deploy playbook"
    )
    assert (step.state, step.last_error) == (WorkState.BLOCKED, message)
    assert StepRun.objects.get(step=step).status == RunStatus.WAITING
    assert _reload(release).status == "in_progress"
    # Picked up again (e.g. after a re-plan) it keeps waiting, without a second run.
    step.state = WorkState.PENDING
    step.save(update_fields=["state"])
    run_worker(SLOT + dt.timedelta(minutes=1))
    assert (_reload(step).state, StepRun.objects.filter(step=step).count()) == (
        WorkState.BLOCKED,
        1,
    )
    done_at = SLOT + dt.timedelta(minutes=40)
    with time_machine.travel(done_at, tick=False):
        services.mark_step(
            step=step,
            actor=actor_of(vendor_admin),
            user=vendor_admin,
            outcome="done",
            comment="went fine",
        )
    step = _reload(step)
    assert (step.state, step.finished_at) == (WorkState.DONE, done_at)
    run = StepRun.objects.get(step=step)
    assert (run.status, run.decided_by_id, run.version_before, run.version_after, run.message) == (
        RunStatus.SUCCEEDED,
        vendor_admin.pk,
        "5.3.0",
        "5.4.0",
        "marked done by admin: went fine",
    )
    assert _reload(saas_eu).current_version == "5.4.0"
    assert _reload(release).status == "completed"
    assert audit_actions(release)[-3:] == [
        "step.succeeded",
        "release.completed",
        "step.marked_done",
    ]


def test_manual_upgrade_marked_failed_follows_the_policy(
    release: Release, make_step: Any, vendor_admin: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="manual")
    step = make_step(payload={"on_failure": {"retries": 1, "then": "pause_release"}})
    run_worker(SLOT)
    with pytest.raises(ValidationFailed, match="say why"):
        services.mark_step(
            step=step, actor=actor_of(vendor_admin), user=vendor_admin, outcome="failed"
        )
    services.mark_step(
        step=step,
        actor=actor_of(vendor_admin),
        user=vendor_admin,
        outcome="failed",
        comment="disk full",
    )
    step = _reload(step)
    # One retry allowed: the person is asked again (a new waiting run when the worker runs).
    assert (step.state, step.last_error) == (
        WorkState.PENDING,
        "marked failed by admin: disk full (retry 1 of 1)",
    )
    run_worker(SLOT + dt.timedelta(minutes=1))
    assert list(StepRun.objects.filter(step=step).values_list("number", "status")) == [
        (1, "failed"),
        (2, "waiting"),
    ]
    services.mark_step(
        step=step,
        actor=actor_of(vendor_admin),
        user=vendor_admin,
        outcome="failed",
        comment="still full",
    )
    step = _reload(step)
    assert step.state == WorkState.FAILED
    assert step.last_error == (
        "marked failed by admin: still full (after 2 failed runs); the release is paused"
    )
    assert _reload(release).status == "paused"
    assert _reload(saas_eu).current_version == "5.3.0"


def test_only_a_waiting_upgrade_can_be_marked(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    step = make_step()
    with pytest.raises(Conflict, match="is not waiting for a person"):
        services.mark_step(
            step=step, actor=actor_of(vendor_admin), user=vendor_admin, outcome="done"
        )
    notice = make_step(kind="notice", key="n1")
    with pytest.raises(Conflict, match="only manual upgrades and tasks"):
        services.mark_step(
            step=notice, actor=actor_of(vendor_admin), user=vendor_admin, outcome="done"
        )


def test_a_task_waits_for_its_owners_and_may_be_done_early(
    release: Release, make_step: Any, product_manager: Any
) -> None:
    shop = make_step(
        kind="task", key="t-shop", label="Update the lending shop", audience="delivery"
    )
    early = make_step(
        kind="task", key="t-review", label="Review content", due_at=SLOT + dt.timedelta(days=3)
    )
    run_worker(SLOT)
    assert (_reload(shop).state, shop.last_error) == (
        WorkState.BLOCKED,
        "Waiting for delivery to do: Update the lending shop",
    )
    services.mark_step(
        step=shop,
        actor=actor_of(product_manager),
        user=product_manager,
        outcome="done",
        comment="shop updated",
    )
    services.mark_step(
        step=early, actor=actor_of(product_manager), user=product_manager, outcome="done"
    )
    assert (_reload(shop).state, _reload(early).state) == (WorkState.DONE, WorkState.DONE)
    assert StepRun.objects.get(step=early).executor == "person"


def _stage_policy(release: Release) -> None:
    version = release.policy_version
    assert version is not None
    version.document = {
        **version.document,
        "stages": [{"name": "service_acceptance", "lasts": "14d", "approval": "change_management"}],
    }
    version.save(update_fields=["document"])


def test_pass_stage_needs_the_role_and_completes_its_gate_steps(
    release: Release, make_step: Any, product_manager: Any, roles: dict[str, Any]
) -> None:
    from releasedesk.accounts.models import User

    _stage_policy(release)
    gate = make_step(kind="stage_gate", key="sg", payload={"stage": "service_acceptance"})
    run_worker(SLOT)
    assert (_reload(gate).state, gate.last_error) == (
        WorkState.BLOCKED,
        "Waiting for the stage 'service_acceptance' to be passed",
    )
    with pytest.raises(PermissionDenied, match="does not hold the role 'change_management'"):
        services.pass_stage(
            release=release,
            stage="service_acceptance",
            actor=actor_of(product_manager),
            user=product_manager,
        )
    with pytest.raises(ValidationFailed, match="has no stage 'uat'"):
        services.pass_stage(
            release=release, stage="uat", actor=actor_of(product_manager), user=product_manager
        )
    cm = User.objects.create_user(username="cm", is_staff=True)
    cm.roles.set([roles["change_management"]])
    at = dt.datetime(2027, 2, 1, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=False):
        passed = services.pass_stage(
            release=release,
            stage="service_acceptance",
            actor=actor_of(cm),
            user=cm,
            comment="CAB ok",
        )
    assert (passed.passed_at, passed.role, passed.approved_by_id) == (
        at,
        "change_management",
        cm.pk,
    )
    assert _reload(gate).state == WorkState.DONE
    # passing the stage stores the plan again (customers are scheduled now): the stage event
    # comes just before that re-plan's
    from releasedesk.audit.models import AuditEvent

    actions = list(
        AuditEvent.objects.filter(scope=f"release:{release.pk}")
        .order_by("-seq")
        .values_list("action", flat=True)[:2]
    )
    assert actions == ["timeline.planned", "release.stage_passed"]
    event = AuditEvent.objects.get(scope=f"release:{release.pk}", action="release.stage_passed")
    assert (event.action, event.after) == (
        "release.stage_passed",
        {
            "stage": "service_acceptance",
            "role": "change_management",
            "user_id": cm.pk,
            "comment": "CAB ok",
            "gate_steps_done": 1,
        },
    )
    with pytest.raises(Conflict, match="already passed the stage"):
        services.pass_stage(
            release=release, stage="service_acceptance", actor=actor_of(cm), user=cm
        )
    assert StagePass.objects.count() == 1
