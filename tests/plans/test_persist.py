"""Persisting a plan writes only the difference and never moves the past."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.core.context import SYSTEM
from releasedesk.core.queue_models import WorkState
from releasedesk.timeline.models import ScheduledStep
from releasedesk.timeline.persist import persist_plan

UTC = dt.UTC
NOW = dt.datetime(2027, 3, 22, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeStep:
    key: str
    due_at: dt.datetime
    kind: str = "upgrade"
    zone: str = "Europe/Amsterdam"
    label: str = "Upgrade saas-eu"
    reason: str = "first Thursday window that leaves 7 days' notice"
    target: str = "production"
    instance_id: int | None = None
    customer_id: int | None = None
    audience: str = ""
    ends_at: dt.datetime | None = None
    late_after: dt.datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = "planned"


@pytest.fixture
def release(make_release: Any) -> Any:
    return make_release()


def _steps(release: Any, saas_eu: Any) -> list[FakeStep]:
    start = dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC)
    return [
        FakeStep(f"r{release.pk}:i{saas_eu.pk}:upgrade", start, instance_id=saas_eu.pk),
        FakeStep(
            f"r{release.pk}:c1:notice:2027-04-01",
            dt.datetime(2027, 3, 25, 13, 0, tzinfo=UTC),
            kind="notice",
            audience="affected_org_admins",
            payload={"contacts": [3, 1, 2]},
        ),
    ]


def test_first_plan_inserts_every_step_with_exact_fields(release: Any, saas_eu: Any) -> None:
    diff = persist_plan(
        release_id=release.pk, steps=_steps(release, saas_eu), now=NOW, actor=SYSTEM
    )
    assert diff.summary() == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "frozen": 0,
        "blocked": 0,
        "moved": 0,
        "removed": 0,
    }
    rows = list(ScheduledStep.objects.filter(release=release).order_by("due_at"))
    assert [(r.kind, r.due_at, r.state) for r in rows] == [
        ("notice", dt.datetime(2027, 3, 25, 13, 0, tzinfo=UTC), WorkState.PENDING),
        ("upgrade", dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC), WorkState.PENDING),
    ]
    assert rows[0].payload == {"contacts": [3, 1, 2]}
    assert rows[1].instance_id == saas_eu.pk
    assert rows[1].reason == "first Thursday window that leaves 7 days' notice"
    event = AuditEvent.objects.filter(action="timeline.planned").get()
    assert event.scope == f"release:{release.pk}"
    assert event.after is not None
    assert event.after["added"] == 2


def test_same_plan_twice_changes_nothing(release: Any, saas_eu: Any) -> None:
    persist_plan(release_id=release.pk, steps=_steps(release, saas_eu), now=NOW, actor=SYSTEM)
    before = list(ScheduledStep.objects.values_list("id", "key", "due_at", "updated_at"))
    diff = persist_plan(
        release_id=release.pk, steps=_steps(release, saas_eu), now=NOW, actor=SYSTEM
    )
    assert diff.summary()["unchanged"] == 2
    assert not diff.changed
    assert list(ScheduledStep.objects.values_list("id", "key", "due_at", "updated_at")) == before
    assert AuditEvent.objects.filter(action="timeline.planned").count() == 1


def test_moved_step_is_updated_in_place_and_reported(release: Any, saas_eu: Any) -> None:
    steps = _steps(release, saas_eu)
    persist_plan(release_id=release.pk, steps=steps, now=NOW)
    upgrade_id = ScheduledStep.objects.get(kind="upgrade").pk
    later = dt.datetime(2027, 4, 8, 14, 0, tzinfo=UTC)
    moved = [replace(steps[0], due_at=later, reason="skipped 2027-04-01: exam day")]
    diff = persist_plan(release_id=release.pk, steps=moved, now=NOW)
    assert [(m.key, m.old_due_at, m.new_due_at) for m in diff.moved] == [
        (steps[0].key, steps[0].due_at, later)
    ]
    assert diff.removed == [steps[1].key]
    row = ScheduledStep.objects.get(pk=upgrade_id)
    assert (row.due_at, row.reason) == (later, "skipped 2027-04-01: exam day")
    assert ScheduledStep.objects.get(key=steps[1].key).state == WorkState.SUPERSEDED


def test_the_past_never_moves(release: Any, saas_eu: Any) -> None:
    steps = _steps(release, saas_eu)
    persist_plan(release_id=release.pk, steps=steps, now=NOW)
    ScheduledStep.objects.filter(kind="notice").update(state=WorkState.DONE)
    replanned = [steps[0], replace(steps[1], due_at=steps[1].due_at + dt.timedelta(days=7))]
    diff = persist_plan(release_id=release.pk, steps=replanned, now=NOW)
    assert diff.frozen == 1
    assert not diff.moved
    assert ScheduledStep.objects.get(kind="notice").due_at == steps[1].due_at
    # and a done step that is no longer planned stays done, not superseded
    persist_plan(release_id=release.pk, steps=[steps[0]], now=NOW)
    assert ScheduledStep.objects.get(kind="notice").state == WorkState.DONE


def test_unmeetable_step_is_stored_blocked_with_its_reason(release: Any, saas_eu: Any) -> None:
    step = replace(
        _steps(release, saas_eu)[0],
        status="unmeetable",
        reason="deadline 2027-04-01 17:00 CEST is not before the start 16:00 CEST",
    )
    diff = persist_plan(release_id=release.pk, steps=[step], now=NOW)
    assert diff.blocked == 1
    row = ScheduledStep.objects.get()
    assert row.state == WorkState.BLOCKED
    assert row.last_error == step.reason
    # once it becomes meetable the row returns to pending
    persist_plan(release_id=release.pk, steps=[replace(step, status="planned")], now=NOW)
    row.refresh_from_db()
    assert (row.state, row.last_error) == (WorkState.PENDING, "")


def test_duplicate_keys_are_refused_and_nothing_is_written(release: Any, saas_eu: Any) -> None:
    step = _steps(release, saas_eu)[0]
    with pytest.raises(ValueError, match="twice"):
        persist_plan(release_id=release.pk, steps=[step, step], now=NOW)
    assert not ScheduledStep.objects.exists()
