"""`releasedesk timeline …`: dry run by default for anything touching instances, --execute acts,
progress on stderr, mark/pass-stage through the same services."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from releasedesk.catalog.models import Instance
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.models import Release
from releasedesk.timeline.models import StagePass
from tests.timeline.conftest import SLOT, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db


def cli(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("timeline", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def test_show_lists_steps_in_utc_and_local_time(release: Release, make_step: Any) -> None:
    step = make_step()
    notice = make_step(
        kind="notice",
        key="n1",
        label="Notice to a1, a2, b1",
        due_at=dt.datetime(2027, 3, 25, 14, 0, tzinfo=dt.UTC),
    )
    out, _ = cli("show", "5.4.0")
    assert out.splitlines() == [
        "Release 5.4.0 (scheduled): 2 steps",
        f"  #{notice.pk} notice 'Notice to a1, a2, b1' due 2027-03-25 14:00 UTC = 2027-03-25 15:00 CET (Europe/Amsterdam) [pending]",
        f"  #{step.pk} upgrade on saas-eu 'upgrade saas-eu' due 2027-04-01 14:00 UTC = 2027-04-01 16:00 CEST (Europe/Amsterdam) [pending]",
    ]


def test_pause_is_a_dry_run_unless_execute(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    step = make_step()
    out, _ = cli("pause", str(release.pk), "--as", "admin", "--reason", "incident")
    assert out.splitlines() == [
        "Would pause release 5.4.0 (scheduled) and hold 1 pending step(s).",
        "Dry run: nothing changed. Add --execute to act.",
    ]
    assert (_reload(release).status, _reload(step).state) == ("scheduled", WorkState.PENDING)
    out, _ = cli("pause", str(release.pk), "--as", "admin", "--reason", "incident", "--execute")
    assert out.strip() == "Release 5.4.0 is now paused."
    assert (_reload(release).status, _reload(step).state) == ("paused", WorkState.BLOCKED)
    out, _ = cli("resume", "5.4.0", "--as", "admin")
    assert out.splitlines()[0] == "Would resume release 5.4.0 (paused) and release 1 held step(s)."
    cli("resume", "5.4.0", "--as", "admin", "--execute")
    assert _reload(step).state == WorkState.PENDING
    out, _ = cli("cancel", "5.4.0", "--as", "admin")
    assert out.splitlines()[0] == "Would cancel release 5.4.0 (scheduled) and its 1 open step(s)."
    assert audit_actions(release)[-2:] == ["release.resumed", "timeline.resumed"]


def test_run_dry_then_execute_with_progress(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0)
    step = make_step()
    make_step(kind="hypercare", key="h1", due_at=SLOT - dt.timedelta(hours=1))
    make_step(kind="task", key="later", due_at=SLOT + dt.timedelta(days=1))
    with time_machine.travel(SLOT, tick=False):
        out, _ = cli("run")
        assert out.splitlines()[0] == "Would perform 2 due step(s) as of 2027-04-01 14:00 UTC:"
        assert _reload(step).state == WorkState.PENDING
        out, err = cli("run", "--execute")
    assert out.strip() == "Performed 2 step(s): 2 done"
    assert err.splitlines()[-1] == "Performing steps [##############################] 2/2"
    assert _reload(step).state == WorkState.DONE
    assert _reload(saas_eu).current_version == "5.4.0"


def test_mark_manual_step_done_and_failed_through_the_cli(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="manual")
    step = make_step(payload={"on_failure": {"retries": 1}})
    run_worker(SLOT)
    with pytest.raises(CommandError, match="say why"):
        cli("mark", str(step.pk), "failed", "--as", "admin")
    out, _ = cli("mark", str(step.pk), "failed", "--as", "admin", "--comment", "lock held")
    assert out.splitlines()[1] == "  marked failed by admin: lock held (retry 1 of 1)"
    assert _reload(step).state == WorkState.PENDING
    run_worker(SLOT + dt.timedelta(minutes=5))
    out, _ = cli("mark", str(step.pk), "done", "--as", "admin", "--comment", "second try worked")
    assert out.startswith(f"Marked done: #{step.pk} upgrade on saas-eu")
    assert (_reload(step).state, _reload(saas_eu).current_version) == (WorkState.DONE, "5.4.0")


def test_skip_and_retry_dry_and_execute(release: Release, make_step: Any) -> None:
    step = make_step()
    out, _ = cli("skip", str(step.pk), "--as", "admin", "--reason", "retired")
    assert out.splitlines()[-1] == "Dry run: nothing changed. Add --execute to act."
    assert _reload(step).state == WorkState.PENDING
    cli("skip", str(step.pk), "--as", "admin", "--reason", "retired", "--execute")
    assert _reload(step).state == WorkState.SKIPPED
    cli("retry", str(step.pk), "--as", "admin", "--execute")
    assert _reload(step).state == WorkState.PENDING
    with pytest.raises(CommandError, match="only a blocked, failed, missed or skipped step"):
        cli("retry", str(step.pk), "--as", "admin", "--execute")


def test_pass_stage_and_errors(release: Release, roles: dict[str, Any]) -> None:
    from releasedesk.accounts.models import User

    version = release.policy_version
    assert version is not None
    version.document = {
        **version.document,
        "stages": [{"name": "uat", "approval": "change_management"}],
    }
    version.save(update_fields=["document"])
    with pytest.raises(CommandError, match="no active staff member 'nobody'"):
        cli("pass-stage", "5.4.0", "uat", "--as", "nobody")
    with pytest.raises(CommandError, match="does not hold the role 'change_management'"):
        cli("pass-stage", "5.4.0", "uat", "--as", "admin")
    cm = User.objects.create_user(username="cm", is_staff=True)
    cm.roles.set([roles["change_management"]])
    with time_machine.travel(dt.datetime(2027, 2, 1, 10, 0, tzinfo=dt.UTC), tick=False):
        out, _ = cli("pass-stage", "5.4.0", "uat", "--as", "cm")
    assert out.strip() == (
        "Release 5.4.0 passed the stage uat at 2027-02-01 10:00 UTC (approved by cm as change_management)."
    )
    assert StagePass.objects.get().approved_by_id == cm.pk
    with pytest.raises(CommandError, match=r"no release '9\.9\.9'"):
        cli("show", "9.9.9")
