"""The worker loop in one process: handlers built by `queue_handler`, bad rows, lease takeover."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from releasedesk.core import queue, worker
from releasedesk.core.queue_models import WorkState
from releasedesk.timeline.models import ScheduledStep

from .conftest import T0

pytestmark = pytest.mark.django_db
MakeSteps = Callable[..., list[Any]]


@pytest.fixture(autouse=True, name="frozen")
def _frozen() -> Any:
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop calls close_old_connections() each turn; inside the test's transaction that
    # would close the connection (as Django's test client avoids for request signals).
    monkeypatch.setattr(worker, "close_old_connections", lambda: None)


@pytest.fixture(autouse=True)
def _owner() -> Any:
    worker.set_worker_id("test-worker")
    yield
    worker.set_worker_id(None)


def test_handler_performs_and_completes_one_row_per_call(make_steps: MakeSteps) -> None:
    make_steps(3)
    seen: list[tuple[str, str, int, dt.datetime]] = []

    def perform(step: Any, *, now: dt.datetime) -> None:
        seen.append((step.key, step.state, step.attempts, now))

    handle = worker.queue_handler(ScheduledStep, perform, name="t")
    assert handle.__name__ == "handle_one_t"
    assert handle() is True
    assert seen == [("q:s:0", "running", 1, T0 + dt.timedelta(minutes=1))]
    assert worker.drain([handle]) == 2
    assert handle() is False
    assert (
        list(ScheduledStep.objects.values_list("state", "attempts", "lease_owner"))
        == [("done", 1, "")] * 3
    )


def test_outcomes_set_the_final_state(make_steps: MakeSteps) -> None:
    make_steps(5)
    outcomes: dict[str, Any] = {
        "q:s:0": queue.Outcome.block("window closed"),
        "q:s:1": queue.Outcome.skip("customer opted out"),
        "q:s:2": queue.Outcome.done(payload={"version": "5.4.0"}),
        "q:s:3": WorkState.SUPERSEDED,
        "q:s:4": queue.Outcome.retry_later("instance busy"),
    }
    handle = worker.queue_handler(
        ScheduledStep, lambda step, *, now: outcomes[step.key], name="outcomes"
    )
    assert worker.drain([handle]) == 5
    rows = {s.key: s for s in ScheduledStep.objects.all()}
    assert (rows["q:s:0"].state, rows["q:s:0"].last_error) == ("blocked", "window closed")
    assert (rows["q:s:1"].state, rows["q:s:1"].last_error) == ("skipped", "customer opted out")
    assert (rows["q:s:2"].state, rows["q:s:2"].payload) == ("done", {"version": "5.4.0"})
    assert rows["q:s:3"].state == "superseded"
    retried = rows["q:s:4"]
    assert (retried.state, retried.attempts, retried.last_error) == ("pending", 1, "instance busy")
    assert retried.due_at == T0 + dt.timedelta(minutes=1, seconds=30)


def test_a_bad_row_is_retried_with_backoff_not_crash_looped(
    make_steps: MakeSteps, frozen: Any
) -> None:
    make_steps(3)
    calls: list[str] = []

    def perform(step: Any, *, now: dt.datetime) -> None:
        calls.append(step.key)
        if step.key == "q:s:1":
            raise RuntimeError("executor exploded")

    handle = worker.queue_handler(ScheduledStep, perform, name="bad")
    assert worker.drain([handle]) == 3
    # The bad row was tried once; the loop went on with the next row and then found nothing due.
    assert calls == ["q:s:0", "q:s:1", "q:s:2"]
    bad = ScheduledStep.objects.get(key="q:s:1")
    assert (bad.state, bad.attempts) == ("pending", 1)
    assert bad.last_error.startswith("RuntimeError: executor exploded (at test_worker.py:")
    assert bad.due_at == T0 + dt.timedelta(minutes=1, seconds=30)
    # Due again after 30 s, then 60 s, 120 s, 240 s; the fifth failure is final.
    delays = []
    for _ in range(4):
        frozen.move_to(bad.due_at)
        before = bad.due_at
        assert handle() is True
        bad.refresh_from_db()
        delays.append((bad.due_at - before).total_seconds())
    assert delays[:3] == [60.0, 120.0, 240.0]
    assert (bad.state, bad.attempts) == ("failed", 5)
    assert calls.count("q:s:1") == 5


def test_permanent_failure_fails_at_once(make_steps: MakeSteps) -> None:
    make_steps(1)

    def perform(step: Any, *, now: dt.datetime) -> None:
        raise queue.PermanentFailure("instance was decommissioned")

    assert worker.queue_handler(ScheduledStep, perform, name="perm")() is True
    step = ScheduledStep.objects.get()
    assert (step.state, step.attempts) == ("failed", 1)
    assert step.last_error.startswith("PermanentFailure: instance was decommissioned")


def test_a_worker_whose_lease_expired_cannot_overwrite_the_new_owner(
    make_steps: MakeSteps, frozen: Any
) -> None:
    """Worker A hangs past its lease; B takes the row over after the lease; A's late result
    is refused and B's stands."""
    (step,) = make_steps(1)
    lease = dt.timedelta(seconds=60)
    performed: list[tuple[str, int]] = []

    def perform_b(row: Any, *, now: dt.datetime) -> Any:
        performed.append((worker.worker_id(), row.attempts))
        return queue.Outcome.done(payload={"by": "B"})

    handle_b = worker.queue_handler(ScheduledStep, perform_b, name="b", lease=lease)

    def perform_a(row: Any, *, now: dt.datetime) -> Any:
        performed.append((worker.worker_id(), row.attempts))
        # A hangs: before the lease ends nobody may take the row ...
        frozen.shift(lease)
        assert queue.reap(ScheduledStep, now=T0 + dt.timedelta(minutes=2)) == 0
        worker.set_worker_id("B")
        assert handle_b() is False
        # ... one second after it, the reaper returns it and B takes it over.
        frozen.shift(dt.timedelta(seconds=1))
        assert worker.reaper_handler(every=0)() is True
        assert handle_b() is True
        worker.set_worker_id("A")
        return queue.Outcome.done(payload={"by": "A"})

    worker.set_worker_id("A")
    assert worker.queue_handler(ScheduledStep, perform_a, name="a", lease=lease)() is True
    step.refresh_from_db()
    assert performed == [("A", 1), ("B", 2)]
    assert (step.state, step.attempts, step.payload) == ("done", 2, {"by": "B"})
    assert step.finished_at == T0 + dt.timedelta(minutes=2, seconds=1)


def test_reaper_handler_runs_at_most_every_interval(make_steps: MakeSteps, frozen: Any) -> None:
    make_steps(1)
    queue.claim(ScheduledStep, now=T0, owner="dead", lease=dt.timedelta(seconds=1))
    reap = worker.reaper_handler(every=3600)
    assert reap() is True  # the first call always runs
    queue.claim(ScheduledStep, now=T0, owner="dead", lease=dt.timedelta(seconds=1))
    assert reap() is False  # too soon: not even a query
    assert ScheduledStep.objects.get().state == "running"


def test_run_worker_loop_stops_when_told(make_steps: MakeSteps) -> None:
    make_steps(2)
    stop = threading.Event()
    done: list[str] = []

    def perform(step: Any, *, now: dt.datetime) -> None:
        done.append(step.key)
        stop.set()  # a SIGTERM arriving while this unit runs

    handle = worker.queue_handler(ScheduledStep, perform, name="stop")
    worker.run_worker_loop(stop, poll_interval=0.01, handle_signals=False, handlers=[handle])
    # The unit in progress finished; the next one was never started.
    assert done == ["q:s:0"]
    assert list(ScheduledStep.objects.order_by("key").values_list("state", flat=True)) == [
        "done",
        "pending",
    ]


def test_an_exception_in_a_handler_does_not_stop_the_turn(make_steps: MakeSteps) -> None:
    calls: list[str] = []

    def broken() -> bool:
        calls.append("broken")
        raise RuntimeError("database went away")

    def fine() -> bool:
        calls.append("fine")
        return True

    assert worker.run_turn([broken, fine]) is True
    assert calls == ["broken", "fine"]


def test_idempotency_key_and_worker_id() -> None:
    worker.set_worker_id(None)
    assert ":" in worker.worker_id()
    with pytest.raises(ValueError, match="1-64"):
        worker.set_worker_id("x" * 65)


def test_pending_outcome_means_the_performer_rescheduled_the_row(make_steps: MakeSteps) -> None:
    (step,) = make_steps(1)
    later = T0 + dt.timedelta(hours=1)

    def perform(row: Any, *, now: dt.datetime) -> Any:
        # e.g. an executor still running: the performer moves the row itself, fenced.
        ScheduledStep.objects.filter(pk=row.pk, lease_owner="test-worker").update(
            state="pending", due_at=later, lease_owner="", lease_until=None
        )
        return queue.Outcome(WorkState.PENDING, error="executor still running")

    assert worker.queue_handler(ScheduledStep, perform, name="poll")() is True
    step.refresh_from_db()
    assert (step.state, step.due_at, step.attempts) == ("pending", later, 1)


def test_an_unusable_result_is_retried_not_left_running(make_steps: MakeSteps) -> None:
    (step,) = make_steps(1)
    assert worker.queue_handler(ScheduledStep, lambda row, *, now: 42, name="odd")() is True
    step.refresh_from_db()
    assert (step.state, step.attempts) == ("pending", 1)
    assert step.last_error.startswith("TypeError: perform returned 42")
    assert step.due_at == T0 + dt.timedelta(minutes=1, seconds=30)


def test_load_handlers_puts_the_reaper_first_and_one_step_handler() -> None:
    handlers = worker.load_handlers()
    names = [worker._name(h) for h in handlers]
    assert names[0].endswith("handle_one_reap")
    assert names.count("handle_one_timeline_steps") == 1
    assert worker.load_handlers()[1:] == handlers[1:]  # idempotent
