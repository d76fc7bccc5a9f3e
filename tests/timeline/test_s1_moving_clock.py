"""SCENARIOS.md S1 steps 1 and 3 carried out end to end on a moving clock with the simulated
executor: plan (planning.snapshot) → persisted steps (timeline.persist) → the worker handler
at each instant something falls due → instance upgraded, release completed.

The notice performer belongs to the communication issue; here a loopback fake records who
would be told and when (the recipients come from the plan).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from releasedesk.catalog.models import Contact, Instance
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.queue import Outcome
from releasedesk.core.queue_models import WorkState
from releasedesk.planning.snapshot import plan_for_release
from releasedesk.releases import services
from releasedesk.releases.models import Release
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.timeline import execution
from releasedesk.timeline.models import ScheduledStep, StepRun
from releasedesk.timeline.persist import persist_plan
from tests.timeline.conftest import audit_actions, run_worker

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "school-saas.yaml"
UTC = dt.UTC


def staff(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


def utc(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=UTC)


@pytest.fixture
def school(
    presenter: Any, product_manager: Any, customer_a: Any, customer_b: Any, customer_c: Any
) -> Any:
    from releasedesk.policies.services import apply_policy

    return apply_policy(
        source=POLICY_FILE.read_text(), filename=str(POLICY_FILE), actor=None
    ).policy


def _release(
    school: Any,
    presenter: Any,
    pm: Any,
    version: str,
    impact: int,
    likelihood: int,
    changes: list[str],
) -> Release:
    release = services.create_release(
        actor=staff(pm),
        created_by=pm,
        policy=school,
        products=[presenter],
        version=version,
        target_date=dt.date(2027, 3, 22),
        changes=[ChangeItemData(kind=k, title=f"{k} change") for k in changes],
    )
    services.assess_release(
        release=release, actor=staff(pm), assessor=pm, impact=impact, likelihood=likelihood
    )
    return release


def _approve_and_plan(release: Release, approvers: list[tuple[Any, str]], at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        for user, role in approvers:
            services.approve_release(release=release, actor=staff(user), user=user, role=role)
        release.refresh_from_db()
        plan = plan_for_release(release, now=at)
        assert plan.problems == ()
        persist_plan(release_id=release.pk, steps=plan.steps, now=at, actor=SYSTEM)


def _run_moving_clock(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Move the clock to each instant a step falls due (never past `end`) and run the worker
    there; the instants visited."""
    now, visited = start, []
    while now <= end:
        run_worker(now)
        visited.append(now)
        nxt = (
            ScheduledStep.objects.filter(state=WorkState.PENDING, due_at__gt=now)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
        if nxt is None:
            break
        now = nxt
    return visited


@pytest.fixture
def notices() -> list[tuple[str, dt.datetime, list[int]]]:
    """A loopback notice performer: records (step key, when, contact ids) and succeeds.

    Set directly, not with monkeypatch: monkeypatch undoes after the autouse registry fixture
    has restored the full registry, and would then delete the consent app's notice performer
    for every later test in the process. The registry fixture restores it instead."""
    sent: list[tuple[str, dt.datetime, list[int]]] = []

    def fake_notice(step: ScheduledStep, now: dt.datetime) -> Outcome:
        sent.append((step.key, now, sorted(step.payload.get("contact_ids", []))))
        return Outcome.done()

    execution.PERFORMERS["notice"] = fake_notice
    return sent


def test_s1_step1_high_release_notice_then_upgrade_in_the_thursday_window(
    school: Any,
    presenter: Any,
    product_manager: Any,
    cto: Any,
    roles: dict[str, Any],
    saas_eu: Instance,
    notices: list[tuple[str, dt.datetime, list[int]]],
) -> None:
    from releasedesk.accounts.models import User

    creator = User.objects.create_user(username="release-mgr", is_staff=True)
    creator.roles.set([roles["product_manager"]])
    release = _release(school, presenter, creator, "5.4.0", 4, 4, ["database_migration"])
    approved = dt.datetime(2027, 3, 22, 10, 0, tzinfo=AMS)  # Monday 10:00 CET = 09:00 UTC
    _approve_and_plan(release, [(product_manager, "product_manager"), (cto, "cto")], approved)
    key = f"r{release.pk}:i{saas_eu.pk}"
    upgrade = ScheduledStep.objects.get(key=f"{key}:upgrade")
    assert (upgrade.due_at, upgrade.zone) == (utc(2027, 4, 1, 14), "Europe/Amsterdam")

    _run_moving_clock(utc(2027, 3, 22, 9), utc(2027, 4, 1, 16))

    admins = sorted(
        Contact.objects.filter(
            email__in=["a1@school-a.test", "a2@school-a.test", "b1@school-b.test"]
        ).values_list("pk", flat=True)
    )
    # One notice to a1, a2 and b1 only (not C), sent so it is delivered by 2027-03-25 14:00 UTC
    # (15:00 CET), seven days before the start.
    assert len(notices) == 1
    notice_key, sent_at, recipients = notices[0]
    assert notice_key == f"{key}:notice:2027-04-01"
    assert recipients == admins
    assert sent_at <= utc(2027, 3, 25, 14)
    assert sent_at.astimezone(AMS).strftime("%Y-%m-%d %H:%M %Z") <= "2027-03-25 15:00 CET"
    # The upgrade ran at 16:00 CEST = 14:00 UTC, took the simulated 5 seconds, then verified.
    run = StepRun.objects.get(step__key=f"{key}:upgrade")
    assert (run.started_at, run.finished_at, run.version_before, run.version_after) == (
        utc(2027, 4, 1, 14),
        utc(2027, 4, 1, 14, 0, 5),
        "5.3.0",
        "5.4.0",
    )
    assert run.started_at.astimezone(AMS).strftime("%Y-%m-%d %H:%M %Z") == "2027-04-01 16:00 CEST"
    saas_eu.refresh_from_db()
    assert saas_eu.current_version == "5.4.0"
    states = dict(ScheduledStep.objects.filter(release=release).values_list("key", "state"))
    assert set(states.values()) == {WorkState.DONE}, states
    release.refresh_from_db()
    assert (release.status, release.started_at, release.finished_at) == (
        "completed",
        utc(2027, 4, 1, 14),
        utc(2027, 4, 1, 14, 0, 5),
    )
    actions = audit_actions(release)
    assert (
        actions.index("release.started")
        < actions.index("step.succeeded")
        < actions.index("release.completed")
    )


def test_s1_step3_low_release_goes_out_immediately_without_notice(
    school: Any,
    presenter: Any,
    product_manager: Any,
    roles: dict[str, Any],
    saas_eu: Instance,
    notices: list[tuple[str, dt.datetime, list[int]]],
) -> None:
    from releasedesk.accounts.models import User

    creator = User.objects.create_user(username="release-mgr", is_staff=True)
    release = _release(school, presenter, creator, "5.3.1", 1, 3, ["fix"])
    approved = dt.datetime(2027, 3, 22, 10, 0, tzinfo=AMS)
    _approve_and_plan(release, [(product_manager, "product_manager")], approved)
    kinds = sorted(ScheduledStep.objects.filter(release=release).values_list("kind", flat=True))
    assert "notice" not in kinds
    upgrade = ScheduledStep.objects.get(release=release, kind="upgrade")
    assert upgrade.due_at == utc(2027, 3, 22, 9)

    _run_moving_clock(utc(2027, 3, 22, 9), utc(2027, 3, 22, 12))

    assert notices == []
    run = StepRun.objects.get(step=upgrade)
    assert (run.started_at, run.finished_at, run.version_after) == (
        utc(2027, 3, 22, 9),
        utc(2027, 3, 22, 9, 0, 5),
        "5.3.1",
    )
    saas_eu.refresh_from_db()
    assert saas_eu.current_version == "5.3.1"
    release.refresh_from_db()
    assert (release.status, release.finished_at) == ("completed", utc(2027, 3, 22, 9, 0, 5))
