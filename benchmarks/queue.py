"""Queue throughput: N no-op steps through the real worker loop vs a raw claim-and-complete loop.

    python -m benchmarks queue [--size 20000] [--rounds 1] [--keep]

Runs on the database the environment names (DATABASE_URL, else SQLite) but never on its
data: a scratch SQLite file or a throwaway PostgreSQL database (see benchmarks/audit.py).

- worker: `releasedesk.core.worker` turns (reaper + a `queue_handler` whose perform does
  nothing) until nothing is due: per step one claim transaction and one completion, exactly
  as `releasedesk worker` runs it.
- floor:  the same work as hand-written SQL on the same connection and one cursor: per step
  `BEGIN; SELECT <all columns> … ORDER BY due_at LIMIT 1 [FOR UPDATE SKIP LOCKED]; UPDATE …
  SET state='running' …; COMMIT;` then `UPDATE … SET state='done' WHERE id=… AND
  lease_owner=…`, rows left as tuples. (A claim must read the row it hands to the performer;
  the id-only variant of the floor is reported too, as id_only_*.)
The rows are reset to pending between scenarios. ratio = worker / floor (target <= 2).
Last line: JSON {"name", "size", "seconds", "floor_seconds", "ratio", "peak_mb", "vendor",
"steps_per_second", "floor_steps_per_second", "id_only_floor_seconds", "id_only_ratio",
"cpu_seconds", "floor_cpu_seconds", "cpu_ratio", "id_only_floor_cpu_seconds"}; wall figures
are the best of --rounds, CPU figures this process's CPU time (robust on a busy machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time
from typing import Any

from benchmarks._db import prepare_database, setup_django

# Best CPU seconds of this process per scenario: on a shared machine wall time also measures
# the neighbours, CPU time measures only the work.
CPU: dict[str, float] = {}


def _reset() -> None:
    from releasedesk.timeline.models import ScheduledStep

    ScheduledStep.objects.update(
        state="pending", attempts=0, lease_owner="", lease_until=None, finished_at=None
    )


def _run_worker() -> float:
    from releasedesk.core import worker
    from releasedesk.timeline.models import ScheduledStep

    def perform_noop(step: Any, *, now: dt.datetime) -> None:
        return None

    worker.set_worker_id("bench-worker")
    handlers = [
        worker.reaper_handler(),
        worker.queue_handler(ScheduledStep, perform_noop, name="noop"),
    ]
    started, cpu = time.perf_counter(), time.process_time()
    worker.drain(handlers)
    CPU["worker"] = min(CPU.get("worker", float("inf")), time.process_time() - cpu)
    return time.perf_counter() - started


def _run_floor(*, full_rows: bool = True) -> float:
    from django.db import connection, transaction

    from releasedesk.core import clock
    from releasedesk.timeline.models import ScheduledStep

    table = ScheduledStep._meta.db_table
    columns = (
        ", ".join(str(f.column) for f in ScheduledStep._meta.concrete_fields) if full_rows else "id"
    )
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    select = (
        f"SELECT {columns} FROM {table} WHERE state = 'pending' AND due_at <= %s"
        f" ORDER BY due_at, id LIMIT 1{lock}"
    )
    claim = (
        f"UPDATE {table} SET state = 'running', lease_owner = %s, lease_until = %s,"
        " attempts = attempts + 1, updated_at = %s WHERE id = %s AND state = 'pending'"
    )
    done = (
        f"UPDATE {table} SET state = 'done', lease_owner = '', lease_until = NULL,"
        " finished_at = %s, updated_at = %s WHERE id = %s AND state = 'running' AND lease_owner = %s"
    )
    owner = "bench-floor"
    adapt = connection.ops.adapt_datetimefield_value  # what the ORM sends for a datetime
    started, cpu = time.perf_counter(), time.process_time()
    with connection.cursor() as cursor:
        while True:
            now = clock.now()
            at = adapt(now)
            with transaction.atomic():
                cursor.execute(select, [at])
                row = cursor.fetchone()
                if row is None:
                    break
                cursor.execute(claim, [owner, adapt(now + dt.timedelta(seconds=60)), at, row[0]])
            cursor.execute(done, [at, at, row[0], owner])
    name = "floor" if full_rows else "id_floor"
    CPU[name] = min(CPU.get(name, float("inf")), time.process_time() - cpu)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=20_000, help="steps (default 20000)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each scenario, best kept")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 2_000_000 or not 1 <= args.rounds <= 10:
        parser.error("--size must be 1-2000000 and --rounds 1-10")

    cleanup = prepare_database(args.keep)
    try:
        setup_django()
        from django.db import connection

        from benchmarks._queue_common import insert_steps, make_release
        from releasedesk.core import clock
        from releasedesk.timeline.models import ScheduledStep

        release = make_release()
        t = time.perf_counter()
        insert_steps(release, args.size, due_at=clock.now() - dt.timedelta(minutes=1))
        print(
            f"queue benchmark on {connection.vendor}: {args.size} no-op steps"
            f" (inserted in {time.perf_counter() - t:.1f} s)",
            flush=True,
        )
        worker_best = floor_best = id_floor_best = float("inf")
        for n in range(args.rounds):
            if n:
                _reset()
            worker_s = _run_worker()
            assert ScheduledStep.objects.filter(state="done").count() == args.size
            _reset()
            floor_s = _run_floor()
            assert ScheduledStep.objects.filter(state="done").count() == args.size
            _reset()
            id_floor_s = _run_floor(full_rows=False)
            assert ScheduledStep.objects.filter(state="done").count() == args.size
            print(
                f"round {n + 1}: worker {worker_s:.2f} s ({args.size / worker_s:,.0f} steps/s),"
                f" floor {floor_s:.2f} s ({args.size / floor_s:,.0f} steps/s),"
                f" ratio {worker_s / floor_s:.2f}; id-only floor {id_floor_s:.2f} s"
                f" (ratio {worker_s / id_floor_s:.2f}); CPU: worker {CPU['worker']:.2f} s,"
                f" floor {CPU['floor']:.2f} s, id-only floor {CPU['id_floor']:.2f} s",
                flush=True,
            )
            worker_best, floor_best = min(worker_best, worker_s), min(floor_best, floor_s)
            id_floor_best = min(id_floor_best, id_floor_s)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "name": "queue",
                    "size": args.size,
                    "seconds": round(worker_best, 3),
                    "floor_seconds": round(floor_best, 3),
                    "ratio": round(worker_best / floor_best, 2),
                    "peak_mb": round(peak_mb, 1),
                    "vendor": connection.vendor,
                    "steps_per_second": round(args.size / worker_best),
                    "floor_steps_per_second": round(args.size / floor_best),
                    "id_only_floor_seconds": round(id_floor_best, 3),
                    "id_only_ratio": round(worker_best / id_floor_best, 2),
                    "cpu_seconds": round(CPU["worker"], 3),
                    "floor_cpu_seconds": round(CPU["floor"], 3),
                    "cpu_ratio": round(CPU["worker"] / CPU["floor"], 2),
                    "id_only_floor_cpu_seconds": round(CPU["id_floor"], 3),
                }
            )
        )
        return 0
    finally:
        cleanup()
