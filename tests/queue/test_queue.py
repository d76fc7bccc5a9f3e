"""The queue API on one database connection: claim, complete, fencing, retry, reap, missed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Q

from releasedesk.audit.models import AuditEvent
from releasedesk.core import queue
from releasedesk.core.alerts import counters
from releasedesk.core.queue_models import StaffAlert, WorkState
from releasedesk.timeline.models import ScheduledStep

from .conftest import T0

pytestmark = pytest.mark.django_db
LEASE = dt.timedelta(seconds=60)
MakeSteps = Callable[..., list[Any]]


def _state(row: Any) -> tuple[str, str, int]:
    row.refresh_from_db()
    return row.state, row.lease_owner, row.attempts


def test_claim_takes_due_rows_oldest_first_and_sets_the_lease(make_steps: MakeSteps) -> None:
    later = make_steps(1, prefix="later", due_at=T0 + dt.timedelta(minutes=5))[0]
    early = make_steps(2, prefix="early", due_at=T0 - dt.timedelta(minutes=1))
    future = make_steps(1, prefix="future", due_at=T0 + dt.timedelta(minutes=11))[0]

    now = T0 + dt.timedelta(minutes=10)
    got = queue.claim(ScheduledStep, now=now, owner="w1", lease=LEASE, limit=3)

    assert [r.key for r in got] == ["q:early:0", "q:early:1", "q:later:0"]
    for row in got:
        assert (row.state, row.lease_owner, row.attempts) == ("running", "w1", 1)
        assert row.lease_until == dt.datetime(2027, 4, 1, 14, 11, tzinfo=dt.UTC)
        assert _state(row) == ("running", "w1", 1)
    assert _state(future) == ("pending", "", 0)
    assert early[0].pk != later.pk
    # Nothing else is due: a second claim gets nothing, and does not take running rows.
    assert queue.claim(ScheduledStep, now=now, owner="w2", lease=LEASE, limit=10) == []


def test_claim_respects_the_filter(make_steps: MakeSteps) -> None:
    make_steps(2, prefix="a")
    make_steps(1, prefix="b")
    got = queue.claim(
        ScheduledStep, now=T0, owner="w", lease=LEASE, limit=5, filter=Q(key__startswith="q:b:")
    )
    assert [r.key for r in got] == ["q:b:0"]


def test_claim_due_exactly_now_is_claimed(make_steps: MakeSteps) -> None:
    make_steps(1, due_at=T0)
    assert [r.key for r in queue.claim(ScheduledStep, now=T0, owner="w", lease=LEASE)] == ["q:s:0"]
    assert (
        queue.claim(ScheduledStep, now=T0 - dt.timedelta(seconds=1), owner="w", lease=LEASE) == []
    )


def test_complete_needs_the_lease_and_the_same_attempt(make_steps: MakeSteps) -> None:
    (step,) = make_steps(1)
    (mine,) = queue.claim(ScheduledStep, now=T0, owner="w1", lease=LEASE)
    assert not queue.complete(mine, owner="someone-else", now=T0)
    assert _state(step) == ("running", "w1", 1)

    # The lease expires, the reaper returns the row, w2 takes it over.
    after = T0 + LEASE + dt.timedelta(seconds=1)
    assert queue.reap(ScheduledStep, now=after) == 1
    (theirs,) = queue.claim(ScheduledStep, now=after, owner="w2", lease=LEASE)
    assert theirs.attempts == 2

    # The first worker wakes up and tries to record its result: refused, w2's lease stands.
    assert not queue.complete(mine, owner="w1", now=after)
    # Even a worker re-using the same owner name cannot finish with a stale attempt.
    stale = ScheduledStep.objects.get(pk=step.pk)
    stale.attempts = 1
    stale.lease_owner = "w2"
    assert not queue.complete(stale, owner="w2", now=after)
    assert _state(step) == ("running", "w2", 2)

    assert queue.complete(theirs, owner="w2", now=after + dt.timedelta(seconds=3))
    step.refresh_from_db()
    assert (step.state, step.lease_owner, step.lease_until) == ("done", "", None)
    assert step.finished_at == dt.datetime(2027, 4, 1, 14, 1, 4, tzinfo=dt.UTC)
    assert counters()[("timeline.ScheduledStep", "lease_expiries")] == 1


def test_complete_with_other_states_and_values(make_steps: MakeSteps) -> None:
    make_steps(2)
    a, b = queue.claim(ScheduledStep, now=T0, owner="w", lease=LEASE, limit=2)
    assert queue.complete(a, owner="w", now=T0, state=WorkState.BLOCKED, error="window closed")
    assert queue.complete(
        b, owner="w", now=T0, state=WorkState.SKIPPED, values={"payload": {"x": 1}}
    )
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, a.last_error, a.finished_at) == ("blocked", "window closed", None)
    assert (b.state, b.payload, b.finished_at) == ("skipped", {"x": 1}, T0)
    with pytest.raises(ValueError, match="final state"):
        queue.complete(a, owner="w", now=T0, state=WorkState.PENDING)


def test_retry_backs_off_exponentially_then_fails(make_steps: MakeSteps) -> None:
    (step,) = make_steps(1, max_attempts=3)
    backoff = queue.Backoff(base=dt.timedelta(seconds=10), factor=3, cap=dt.timedelta(minutes=5))
    now = T0
    due_times = []
    for attempt in (1, 2):
        (row,) = queue.claim(ScheduledStep, now=now, owner="w", lease=LEASE)
        assert row.attempts == attempt
        assert (
            queue.retry_or_fail(row, owner="w", now=now, error=f"boom {attempt}", backoff=backoff)
            == "pending"
        )
        step.refresh_from_db()
        due_times.append(step.due_at)
        assert (step.state, step.last_error) == ("pending", f"boom {attempt}")
        # Not claimable again before its backoff has passed.
        assert (
            queue.claim(
                ScheduledStep,
                now=step.due_at - dt.timedelta(microseconds=1),
                owner="w",
                lease=LEASE,
            )
            == []
        )
        now = step.due_at
    assert due_times == [T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=40)]
    (row,) = queue.claim(ScheduledStep, now=now, owner="w", lease=LEASE)
    assert queue.retry_or_fail(row, owner="w", now=now, error="boom 3", backoff=backoff) == "failed"
    step.refresh_from_db()
    assert (step.state, step.attempts, step.last_error, step.finished_at) == (
        "failed",
        3,
        "boom 3",
        now,
    )
    c = counters()
    assert c[("timeline.ScheduledStep", "retries")] == 2
    assert c[("timeline.ScheduledStep", "failed")] == 1


def test_backoff_delays_are_deterministic_and_capped() -> None:
    b = queue.Backoff(base=dt.timedelta(seconds=30), factor=2, cap=dt.timedelta(hours=1))
    assert [b.delay(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert b.delay(10_000) == dt.timedelta(hours=1)


def test_retry_after_losing_the_lease_changes_nothing(make_steps: MakeSteps) -> None:
    (step,) = make_steps(1)
    (row,) = queue.claim(ScheduledStep, now=T0, owner="w1", lease=LEASE)
    queue.reap(ScheduledStep, now=T0 + LEASE + dt.timedelta(seconds=1))
    assert queue.retry_or_fail(row, owner="w1", now=T0, error="late") is None
    step.refresh_from_db()
    assert (step.state, step.due_at, step.last_error) == ("pending", T0, "")


def test_release_lease_gives_the_row_back_uncounted(make_steps: MakeSteps) -> None:
    (step,) = make_steps(1)
    (row,) = queue.claim(ScheduledStep, now=T0, owner="w", lease=LEASE)
    assert queue.release_lease(row, owner="w", now=T0)
    assert _state(step) == ("pending", "", 0)
    assert not queue.release_lease(row, owner="w", now=T0)


def test_reap_only_expired_leases_and_fails_rows_out_of_attempts(make_steps: MakeSteps) -> None:
    make_steps(1, prefix="a")
    make_steps(1, prefix="b", max_attempts=1)
    a, b = queue.claim(ScheduledStep, now=T0, owner="w", lease=LEASE, limit=2)
    # Exactly at lease_until the lease still holds.
    assert queue.reap(ScheduledStep, now=T0 + LEASE) == 0
    assert queue.reap(ScheduledStep, now=T0 + LEASE + dt.timedelta(microseconds=1)) == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, a.attempts, a.lease_owner, a.lease_until) == ("pending", 1, "", None)
    assert (b.state, b.attempts) == ("failed", 1)
    assert "lease expired" in b.last_error
    c = counters()
    assert c[("timeline.ScheduledStep", "lease_expiries")] == 2
    assert c[("timeline.ScheduledStep", "failed")] == 1


def test_row_past_its_late_cutoff_is_missed_and_staff_alerted(make_steps: MakeSteps) -> None:
    cutoff = T0 + dt.timedelta(minutes=30)
    (late,) = make_steps(1, prefix="late", late_after=cutoff)
    (on_time,) = make_steps(
        1,
        prefix="ok",
        due_at=T0 + dt.timedelta(minutes=1),
        late_after=cutoff + dt.timedelta(hours=1),
    )
    seen: list[tuple[str, list[str], dt.datetime]] = []

    def hook(model: Any, rows: Any, now: dt.datetime) -> None:
        seen.append((model._meta.label, [r.key for r in rows], now))

    now = cutoff + dt.timedelta(seconds=1)
    got = queue.claim(ScheduledStep, now=now, owner="w", lease=LEASE, on_missed=hook)
    # The late row is not claimed; the claim moves on to the next due row in the same call.
    assert [r.key for r in got] == ["q:ok:0"]
    late.refresh_from_db()
    assert (late.state, late.attempts, late.finished_at) == ("missed", 0, now)
    assert seen == [("timeline.ScheduledStep", ["q:late:0"], now)]

    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.severity, alert.object_type, alert.object_id) == (
        "queue.missed",
        "critical",
        "timeline.scheduledstep",
        str(late.pk),
    )
    assert alert.title == "scheduled step q:late:0 missed its late cutoff"
    assert (
        "Due at 2027-04-01T14:00:00+00:00 (UTC), late cutoff 2027-04-01T14:30:00+00:00"
        in alert.detail
    )
    actions = list(
        AuditEvent.objects.filter(object_id=str(late.pk), object_type="timeline.scheduledstep")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["queue.missed", "alert.raised"]
    assert counters()[("timeline.ScheduledStep", "missed")] == 1
    assert on_time.pk == got[0].pk


def test_started_exactly_at_the_cutoff_is_not_late(make_steps: MakeSteps) -> None:
    make_steps(1, late_after=T0)
    assert [r.state for r in queue.claim(ScheduledStep, now=T0, owner="w", lease=LEASE)] == [
        "running"
    ]
    assert not StaffAlert.objects.exists()


def test_claim_arguments_are_checked(make_steps: MakeSteps) -> None:
    with pytest.raises(ValueError, match="limit"):
        queue.claim(ScheduledStep, now=T0, owner="w", lease=LEASE, limit=0)
    with pytest.raises(ValueError, match="owner"):
        queue.claim(ScheduledStep, now=T0, owner="", lease=LEASE)
    with pytest.raises(ValueError, match="lease"):
        queue.claim(ScheduledStep, now=T0, owner="w", lease=dt.timedelta(0))


def test_idempotency_key() -> None:
    assert queue.idempotency_key("r12", "i34", "upgrade", "g2") == "r12:i34:upgrade:g2"
    assert queue.idempotency_key(12, "x") == "12:x"
    for bad in ("", "a:b", "a b"):
        with pytest.raises(ValueError, match="idempotency key part"):
            queue.idempotency_key("r1", bad)
    with pytest.raises(ValueError, match="at least one part"):
        queue.idempotency_key()
    long = queue.idempotency_key("r1", "x" * 300)
    assert len(long) == 255
    assert long.startswith("r1:xxx")
    assert long == queue.idempotency_key("r1", "x" * 300)
    assert long != queue.idempotency_key("r1", "x" * 301)
