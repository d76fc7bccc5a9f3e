"""Worker processes against the real database: concurrency, kill -9, SIGTERM.

Each step's effect goes to a fake receiver (`effect.py`: a separate SQLite file) that logs
every delivery and applies the effect once per idempotency key. On SQLite two `releasedesk
worker` processes share the work, on PostgreSQL four.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from releasedesk.core import clock, worker
from releasedesk.core.alerts import counters
from releasedesk.core.queue_models import WorkState
from releasedesk.timeline.models import ScheduledStep

from . import effect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
RELEASEDESK = Path(sys.executable).parent / "releasedesk"
MakeSteps = Callable[..., list[Any]]
ROWS = 1000


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    user = urllib.parse.quote(s.get("USER") or "")
    password = urllib.parse.quote(s.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def receiver_path(tmp_path: Path) -> Path:
    path = tmp_path / "receiver.sqlite3"
    effect.receiver(path).close()
    return path


def _env(receiver_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src")]),
        RELEASEDESK_WORKER_TEST_EFFECT=str(receiver_path),
        RELEASEDESK_LOG_FORMAT="text",
        RELEASEDESK_LOG_LEVEL="INFO",
        RELEASEDESK_DB_CONN_MAX_AGE="600",
    )
    env.update(extra)
    return env


class WorkerProcess:
    """A `releasedesk worker` subprocess whose log we watch for its start line."""

    def __init__(self, name: str, env: dict[str, str], *args: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.started = threading.Event()
        self.proc = subprocess.Popen(
            [str(RELEASEDESK), "worker", "--id", name, "--poll", "0.1", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if f"worker {self.name}: started" in line:
                self.started.set()

    def wait_started(self, timeout: float = 300) -> None:
        # Generous: interpreter + Django start-up takes 2-4 s on an idle 2-core machine, but
        # was seen at a minute on a shared, overloaded one.
        deadline = time.monotonic() + timeout
        while not self.started.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self._reader.join(5)
                raise AssertionError(f"{self.name} did not start:\n{''.join(self.lines)}")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def _receiver_stats(path: Path) -> tuple[int, int, dict[str, int], int]:
    """(deliveries, effects, deliveries per owner, (key, attempt) pairs delivered twice)."""
    with sqlite3.connect(path) as conn:
        deliveries = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        effects = conn.execute("SELECT count(*) FROM effects").fetchone()[0]
        per_owner = dict(conn.execute("SELECT owner, count(*) FROM deliveries GROUP BY owner"))
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT key, attempt FROM deliveries"
            " GROUP BY key, attempt HAVING count(*) > 1)"
        ).fetchone()[0]
    return deliveries, effects, per_owner, twice


def _effect_keys(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {k for (k,) in conn.execute("SELECT key FROM effects")}


def _wait_until_all_terminal(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ScheduledStep.objects.filter(
            state__in=[WorkState.PENDING, WorkState.RUNNING]
        ).exists():
            return
        time.sleep(0.2)
    left = ScheduledStep.objects.filter(state__in=[WorkState.PENDING, WorkState.RUNNING]).count()
    raise AssertionError(f"{left} steps still open after {timeout}s")


def test_worker_processes_perform_each_step_exactly_once(
    make_steps: MakeSteps, receiver_path: Path, workers: list[WorkerProcess]
) -> None:
    count = 4 if connection.vendor == "postgresql" else 2
    env = _env(receiver_path)
    for n in range(count):
        workers.append(
            WorkerProcess(f"w{n}", env, "--handler", "tests.queue.effect:handle_one_effect")
        )
    for w in workers:
        w.wait_started()
    # Every worker is polling before the 1,000 due steps appear, so they all compete.
    make_steps(ROWS, due_at=clock.now() - dt.timedelta(minutes=1))
    _wait_until_all_terminal(timeout=240)
    codes = [w.stop() for w in workers]

    assert codes == [0] * count
    assert ScheduledStep.objects.filter(state=WorkState.DONE, attempts=1).count() == ROWS
    deliveries, effects, per_owner, twice = _receiver_stats(receiver_path)
    # No crash, so not even a duplicate attempt: exactly one delivery per step.
    assert (deliveries, effects, twice) == (ROWS, ROWS, 0)
    assert _effect_keys(receiver_path) == {f"q:s:{i}" for i in range(ROWS)}
    assert sorted(per_owner) == [f"w{n}" for n in range(count)], per_owner
    assert all(n > 0 for n in per_owner.values())
    print(f"\n{connection.vendor}: {count} workers shared {ROWS} steps as {per_owner}")


def test_sigterm_finishes_the_current_step_then_exits(
    make_steps: MakeSteps, receiver_path: Path, workers: list[WorkerProcess]
) -> None:
    make_steps(3, due_at=clock.now() - dt.timedelta(minutes=1))
    w = WorkerProcess(
        "term",
        _env(receiver_path, QUEUE_TEST_SLEEP="1.5"),
        "--handler",
        "tests.queue.effect:handle_one_effect",
    )
    workers.append(w)
    w.wait_started()
    deadline = time.monotonic() + 30
    while not ScheduledStep.objects.filter(state=WorkState.RUNNING).exists():
        assert time.monotonic() < deadline, "the worker never claimed a step"
        time.sleep(0.05)
    w.proc.send_signal(signal.SIGTERM)  # mid-step: the step sleeps 1.5 s before its effect
    assert w.proc.wait(30) == 0
    states = list(ScheduledStep.objects.order_by("key").values_list("key", "state", "attempts"))
    assert states == [("q:s:0", "done", 1), ("q:s:1", "pending", 0), ("q:s:2", "pending", 0)]
    assert _receiver_stats(receiver_path)[:2] == (1, 1)
    log = "".join(w.lines)
    assert "received signal 15" in log
    assert "worker: stopped" in log


def test_once_drains_and_exits(
    make_steps: MakeSteps, receiver_path: Path, workers: list[WorkerProcess]
) -> None:
    make_steps(5, due_at=clock.now() - dt.timedelta(minutes=1))
    make_steps(1, prefix="later", due_at=clock.now() + dt.timedelta(hours=1))
    result = subprocess.run(
        [
            str(RELEASEDESK),
            "worker",
            "--once",
            "--id",
            "once",
            "--handler",
            "tests.queue.effect:handle_one_effect",
        ],
        env=_env(receiver_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "worker once: 5 turn(s) with work, nothing due" in result.stdout
    assert ScheduledStep.objects.filter(state=WorkState.DONE).count() == 5
    assert ScheduledStep.objects.get(key="q:later:0").state == WorkState.PENDING


def test_worker_command_rejects_bad_arguments(receiver_path: Path) -> None:
    for args, message in (
        (["--poll", "0"], "--poll: 0 must be between 0.01 and 3600 seconds"),
        (["--poll", "soon"], "--poll: 'soon' is not a number of seconds"),
        (["--reap-every", "9999"], "--reap-every: 9999 must be between"),
        (["--handler", "nowhere"], "--handler"),
        (["--id", "x" * 65], "--id"),
    ):
        result = subprocess.run(
            [str(RELEASEDESK), "worker", "--once", *args],
            env=_env(receiver_path),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)


# --- kill -9 -----------------------------------------------------------------------------


def _forked_worker(name: str, receiver: str, lease_s: float) -> None:
    """A worker process forked from the test process (Django already loaded, so a restart
    takes milliseconds instead of seconds and 50 kills fit in a test's time budget)."""
    os.environ["RELEASEDESK_WORKER_TEST_EFFECT"] = receiver
    # 20 ms per step: the run lasts long enough (~10 s) that all 50 kills land while work is
    # open, however fast the machine (forked restarts take only milliseconds).
    os.environ["QUEUE_TEST_SLEEP"] = "0.02"
    effect.reset_receiver()
    worker.set_worker_id(name)
    handlers = [
        worker.reaper_handler(every=0.25),
        effect.make_effect_handler(dt.timedelta(seconds=lease_s)),
    ]
    worker.run_worker_loop(threading.Event(), poll_interval=0.05, handlers=handlers)


# Under pytest-xdist the test process has execnet threads; the forked children only use
# Django and the database (connections closed before each fork), never those threads' locks.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_kill_9_fifty_times_loses_nothing_and_duplicates_no_effect(
    make_steps: MakeSteps, receiver_path: Path
) -> None:
    seed = int(os.environ.get("QUEUE_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    lease_s = 1.0
    make_steps(ROWS, due_at=clock.now() - dt.timedelta(minutes=1), max_attempts=25)
    ctx = multiprocessing.get_context("fork")
    generation = [0]

    def spawn(slot: int) -> Any:
        # Never fork with an open connection: the child would talk on the parent's socket.
        connections.close_all()
        generation[0] += 1
        p = ctx.Process(
            target=_forked_worker,
            args=(f"k{slot}-{generation[0]}", str(receiver_path), lease_s),
            daemon=True,
        )
        p.start()
        return p

    procs = [spawn(0), spawn(1)]
    # Kill moments spread over the run whatever the machine's speed: 50 random progress
    # points in its first half (so work is still open when the last one lands, even on a fast
    # machine), each followed by a random delay of up to 50 ms.
    thresholds = sorted(rng.sample(range(ROWS // 2), 50))
    kills = 0
    done_at_kill: list[int] = []
    try:
        for threshold in thresholds:
            while (done := ScheduledStep.objects.filter(state=WorkState.DONE).count()) < threshold:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05))
            slot = rng.randrange(2)
            os.kill(procs[slot].pid, signal.SIGKILL)
            procs[slot].join()
            assert procs[slot].exitcode == -signal.SIGKILL
            kills += 1
            done_at_kill.append(done)
            procs[slot] = spawn(slot)
        # Every kill landed while work was still open (kills happened during the run); how
        # much the surviving worker finishes before the check is up to the machine's load.
        assert max(done_at_kill) < ROWS
        _wait_until_all_terminal(timeout=240)
    finally:
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
                p.join(10)
            if p.is_alive():
                p.kill()
                p.join()

    assert kills == 50
    # Nothing lost, nothing left open: every step done, every effect applied exactly once.
    assert ScheduledStep.objects.exclude(state=WorkState.DONE).count() == 0
    assert _effect_keys(receiver_path) == {f"q:s:{i}" for i in range(ROWS)}
    deliveries, effects, _, twice = _receiver_stats(receiver_path)
    assert effects == ROWS
    # Each attempt delivers at most once (the lease fences attempts); duplicate *attempts*
    # come only from rows whose lease expired under a killed worker.
    assert twice == 0
    steps_retried = ScheduledStep.objects.filter(attempts__gt=1).count()
    extra_attempts = sum(a - 1 for a in ScheduledStep.objects.values_list("attempts", flat=True))
    expiries = counters().get(("timeline.ScheduledStep", "lease_expiries"), 0)
    assert deliveries - ROWS <= extra_attempts <= expiries
    print(
        f"\nkill -9 x{kills} (seed {seed}) on {connection.vendor}: {deliveries} deliveries for"
        f" {ROWS} effects ({deliveries - ROWS} duplicate deliveries deduplicated by key),"
        f" {extra_attempts} duplicate attempts on {steps_retried} steps,"
        f" {expiries} lease expiries; steps done at the kills: {done_at_kill[0]}..{done_at_kill[-1]}"
    )
