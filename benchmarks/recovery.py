"""Crash recovery: how soon after `kill -9` and a restart does a worker make progress again?

    python -m benchmarks recovery [--size 5] [--lease 5] [--poll 1] [--keep]

A real `releasedesk worker` process works through steps that each take 50 ms. `--size`
times: wait until it is in the middle of a step, `kill -9` it, restart it at once, and
measure (polling the database every 10 ms)
- startup:  restart -> the new worker's "started" log line (interpreter + Django start-up,
            which depends on the machine, not on the queue);
- resumed:  started -> the first step completed by the new worker (progress resumed);
- orphan:   kill -> the step the killed worker held is done (its lease expired, the reaper
            returned it, a worker took it over);
- recovery: that step done, counted from when a worker was available again
            (max(kill, started)).
Target (the issue's): resumed and recovery <= lease + poll interval (the reaper runs every
poll interval here). Last line: JSON {"name", "size", "seconds" (worst of resumed and
recovery), "floor_seconds" (lease + poll, the target), "ratio", "peak_mb", and per cycle
"startup_seconds", "resumed_seconds", "orphan_seconds", "recovery_seconds"}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._db import prepare_database, setup_django

ROOT = Path(__file__).resolve().parents[1]
STEP_SECONDS = 0.05


def perform_sleep(step: Any, *, now: dt.datetime) -> None:
    time.sleep(STEP_SECONDS)


def _handler() -> Any:
    from releasedesk.core import worker
    from releasedesk.timeline.models import ScheduledStep

    lease = dt.timedelta(seconds=float(os.environ.get("BENCH_RECOVERY_LEASE", "5")))
    return worker.queue_handler(ScheduledStep, perform_sleep, name="bench_sleep", lease=lease)


def __getattr__(name: str) -> Any:
    # `releasedesk worker --handler benchmarks.recovery:handle_one_sleep` (built lazily: the
    # worker process imports this module after Django is set up).
    if name == "handle_one_sleep":
        return _handler()
    raise AttributeError(name)


class Worker:
    count = 0

    def __init__(self, env: dict[str, str], poll: float) -> None:
        from releasedesk.core import clock

        Worker.count += 1
        self.name = f"bench-{os.getpid()}-{Worker.count}"
        self.started_at = time.monotonic()
        self.started_wall = clock.now()
        self.ready_at: float | None = None
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "releasedesk"),
                "worker",
                "--id",
                self.name,
                "--poll",
                str(poll),
                "--reap-every",
                str(poll),
                "--handler",
                "benchmarks.recovery:handle_one_sleep",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if self.ready_at is None and ": started" in line:
                self.ready_at = time.monotonic()


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    return os.environ["DATABASE_URL"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks recovery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=5, help="kill/restart cycles (default 5)")
    parser.add_argument("--lease", type=float, default=5.0, help="lease seconds (default 5)")
    parser.add_argument("--poll", type=float, default=1.0, help="poll seconds (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 100 or not 0.5 <= args.lease <= 600 or not 0.05 <= args.poll <= 60:
        parser.error("--size 1-100, --lease 0.5-600, --poll 0.05-60")

    cleanup = prepare_database(args.keep)
    try:
        setup_django()
        from django.db import connection

        from benchmarks._queue_common import insert_steps, make_release
        from releasedesk.core import clock
        from releasedesk.timeline.models import ScheduledStep

        release = make_release()
        per_cycle = int((args.lease + args.poll + 30) / STEP_SECONDS)
        insert_steps(
            release, per_cycle * (args.size + 1), due_at=clock.now() - dt.timedelta(minutes=1)
        )
        env = dict(os.environ)
        env.update(
            DATABASE_URL=_database_url(),
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            BENCH_RECOVERY_LEASE=str(args.lease),
            RELEASEDESK_LOG_FORMAT="text",
            RELEASEDESK_LOG_LEVEL="INFO",
            RELEASEDESK_DB_CONN_MAX_AGE="600",
        )
        print(
            f"recovery benchmark on {connection.vendor}: lease {args.lease} s, poll"
            f" {args.poll} s, {args.size} kill -9 cycles",
            flush=True,
        )
        steps = ScheduledStep.objects
        w = Worker(env, args.poll)
        startup: list[float] = []
        resumed: list[float] = []
        orphan: list[float] = []
        recovery: list[float] = []
        try:
            for cycle in range(args.size):
                # Wait until the worker is in the middle of a step.
                deadline = time.monotonic() + 120
                while True:
                    held = (
                        steps.filter(state="running", lease_owner=w.name)
                        .values_list("pk", flat=True)
                        .first()
                    )
                    if held is not None:
                        break
                    if time.monotonic() > deadline or w.proc.poll() is not None:
                        raise SystemExit("the worker never started a step")
                    time.sleep(0.01)
                w.proc.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                w.proc.wait()
                w = Worker(env, args.poll)
                first = orphan_done = None
                while first is None or orphan_done is None:
                    now = time.monotonic()
                    if now - killed_at > args.lease + args.poll + 120:
                        raise SystemExit("no recovery within two minutes")
                    if (
                        first is None
                        and steps.filter(state="done", finished_at__gte=w.started_wall)
                        .exclude(pk=held)
                        .exists()
                    ):
                        first = now
                    if orphan_done is None and steps.filter(pk=held, state="done").exists():
                        orphan_done = now
                    time.sleep(0.01)
                ready = w.ready_at or first
                startup.append(round(ready - w.started_at, 3))
                resumed.append(round(first - ready, 3))
                orphan.append(round(orphan_done - killed_at, 3))
                # Recovery of the killed worker's step, counted from when a worker was
                # available again (the kill, or the new worker's start if that came later):
                # what the queue controls, apart from the interpreter's start-up.
                recovery.append(round(orphan_done - max(killed_at, ready), 3))
                print(
                    f"cycle {cycle + 1}: restarted worker up after {startup[-1]:.2f} s, first"
                    f" step done {resumed[-1]:.2f} s later; the killed worker's step done"
                    f" {orphan[-1]:.2f} s after the kill ({recovery[-1]:.2f} s after a worker"
                    " was available)",
                    flush=True,
                )
        finally:
            w.proc.send_signal(signal.SIGTERM)
            try:
                w.proc.wait(30)
            except subprocess.TimeoutExpired:
                w.proc.kill()
        bound = args.lease + args.poll
        worst = max(max(recovery), max(resumed))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "name": "recovery",
                    "size": args.size,
                    "seconds": worst,
                    "floor_seconds": bound,
                    "ratio": round(worst / bound, 2),
                    "peak_mb": round(peak_mb, 1),
                    "vendor": connection.vendor,
                    "startup_seconds": startup,
                    "resumed_seconds": resumed,
                    "orphan_seconds": orphan,
                    "recovery_seconds": recovery,
                }
            )
        )
        return 0 if worst <= bound else 1
    finally:
        cleanup()
