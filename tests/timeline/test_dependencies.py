"""Verification after the upgrade, steps that wait for another step or for the release to be
completed (e.g. "update the lending shop"), and staff alerts on final failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.catalog.models import Instance
from releasedesk.core.queue_models import StaffAlert, WorkState
from releasedesk.releases.models import Release
from releasedesk.timeline.models import RunStatus, StepRun
from tests.timeline.conftest import SLOT, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db

S = dt.timedelta(seconds=1)


def _reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def _pair(make_step: Any, release: Release, saas_eu: Instance, **verify: Any) -> tuple[Any, Any]:
    upgrade = make_step()
    check = make_step(
        kind="verify",
        key=f"{upgrade.key}:verify",
        instance=saas_eu,
        payload={"after": upgrade.key, "checks": ["health_probe", "version_probe"], **verify},
    )
    return upgrade, check


def test_verification_waits_for_the_upgrade_then_completes_the_release(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=120)
    upgrade, check = _pair(make_step, release, saas_eu)
    assert run_worker(SLOT) == 2  # upgrade started; verify deferred
    check = _reload(check)
    assert (check.state, check.due_at, check.last_error) == (
        WorkState.PENDING,
        SLOT + 120 * S,
        f"Waits for {upgrade.key} (pending)",
    )
    assert _reload(release).status == "in_progress"
    assert run_worker(SLOT + 120 * S) == 2  # upgrade done, then the verification
    assert (_reload(upgrade).state, _reload(check).state) == (WorkState.DONE, WorkState.DONE)
    run = StepRun.objects.get(step=check)
    assert run.message == "saas-eu verified: health_probe, version_probe passed (simulated)"
    release = _reload(release)
    assert (release.status, release.finished_at) == ("completed", SLOT + 120 * S)


def test_failed_version_probe_pauses_the_release_and_alerts_staff(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0)
    _upgrade, check = _pair(make_step, release, saas_eu, on_failure="revert_release")
    # Verified a minute later (not woken by the upgrade: no `after`).
    check.due_at = SLOT + 60 * S
    check.payload = {"checks": ["health_probe", "version_probe"], "on_failure": "revert_release"}
    check.save(update_fields=["due_at", "payload"])
    run_worker(SLOT)
    # Someone rolled the instance back by hand before the verification ran.
    Instance.objects.filter(pk=saas_eu.pk).update(current_version="5.3.0")
    run_worker(SLOT + 60 * S)
    check = _reload(check)
    assert check.state == WorkState.FAILED
    assert check.last_error == (
        "version_probe: saas-eu reports 5.3.0, expected 5.4.0; the policy says revert_release; "
        "no executor reverts yet, so the release is paused for a person"
    )
    assert _reload(release).status == "paused"
    alert = StaffAlert.objects.get(kind="timeline.step_failed")
    assert (alert.title, alert.object_id) == (
        "Verification failed; release 5.4.0 paused",
        str(check.pk),
    )


def test_verification_is_skipped_when_the_upgrade_did_not_happen(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=1.0)
    upgrade, check = _pair(make_step, release, saas_eu)
    upgrade.payload = {"on_failure": {"retries": 0, "then": "skip"}}
    upgrade.save(update_fields=["payload"])
    run_worker(SLOT)
    assert _reload(upgrade).state == WorkState.SKIPPED
    run_worker(SLOT + 30 * S)
    check = _reload(check)
    assert (check.state, check.last_error) == (
        WorkState.SKIPPED,
        f"{upgrade.key} did not happen (skipped)",
    )
    assert _reload(release).status == "completed"


def test_final_upgrade_failure_alerts_staff(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0, failure_rate=1.0)
    step = make_step(payload={"on_failure": {"retries": 0}})
    run_worker(SLOT)
    alert = StaffAlert.objects.get(kind="timeline.step_failed")
    assert alert.title == "Upgrade failed; release 5.4.0 paused"
    assert alert.detail == _reload(step).last_error.removesuffix("; the release is paused")


def test_a_task_after_release_completed_waits_for_that_event(
    release: Release, make_step: Any, saas_eu: Instance, vendor_admin: Any
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=600)
    upgrade = make_step()
    shop = make_step(
        kind="task",
        key="shop",
        label="Update the lending shop",
        audience="delivery",
        due_at=SLOT,
        payload={"waits_for": "release_completed", "owners": ["delivery"]},
    )
    run_worker(SLOT)
    assert (_reload(shop).state, shop.last_error) == (
        WorkState.BLOCKED,
        "Waits for the release to be completed (it is in_progress)",
    )
    assert not StepRun.objects.filter(step=shop).exists()
    done_at = SLOT + 600 * S
    run_worker(done_at)
    assert _reload(upgrade).state == WorkState.DONE
    assert _reload(release).status == "completed"
    shop = _reload(shop)
    assert (shop.state, shop.last_error) == (
        WorkState.BLOCKED,
        "Waiting for delivery to do: Update the lending shop",
    )
    assert StepRun.objects.get(step=shop).status == RunStatus.WAITING
    assert "release.completed" in audit_actions(release)
