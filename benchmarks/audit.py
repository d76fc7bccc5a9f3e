"""Audit append throughput: per-scope chains vs one shared chain vs raw inserts.

    python -m benchmarks audit [--workers 4] [--events 500] [--mode processes|threads]

Runs on the database the environment names (DATABASE_URL, else SQLite), but never on its
data: SQLite gets a temporary file, PostgreSQL a throwaway database `<name>_bench_<pid>`
created next to the configured one and dropped afterwards (audit rows are append-only, so a
benchmark must not write into a real database).

Scenarios, each with N workers appending M events, one transaction per event:
- floor:      raw INSERTs of the same rows, no chain head, no hashing;
- scopes:     `record()` with each worker in its own scope (the design: no global lock);
- one-scope:  `record()` with every worker in the same scope (all queue on one head row).
Prints events/s and each chained scenario's ratio to the floor, then times `verify()`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import threading
import time
from typing import Any

from benchmarks._db import prepare_database, setup_django

SCENARIOS = ("floor", "scopes", "one-scope")


# --- one worker ---------------------------------------------------------------------------


def _floor_worker(worker: int, count: int, run: str) -> None:
    from django.db import connection, transaction

    from releasedesk.audit.chain import GENESIS
    from releasedesk.core import clock

    sql = (
        "INSERT INTO audit_auditevent (at, actor_kind, actor_id, actor_on_behalf_of, action,"
        " object_type, object_id, before, after, request_id, scope, seq, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    scope = f"bench:{run}:floor:{worker}"
    for n in range(1, count + 1):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    clock.now(),
                    "system",
                    None,
                    None,
                    "bench.append",
                    "",
                    "",
                    None,
                    json.dumps({"i": n, "worker": worker}),
                    f"bench-{worker}",
                    scope,
                    n,
                    GENESIS,
                    GENESIS,
                ],
            )


def _record_worker(worker: int, count: int, scope: str) -> None:
    from django.db import transaction

    from releasedesk.audit.services import record
    from releasedesk.core.context import SYSTEM, request_id_var

    request_id_var.set(f"bench-{worker}")
    for n in range(1, count + 1):
        with transaction.atomic():
            record(
                actor=SYSTEM, action="bench.append", scope=scope, after={"i": n, "worker": worker}
            )


def _run_worker(scenario: str, worker: int, count: int, run: str, start: Any) -> None:
    from django.db import connections

    start.wait()
    try:
        if scenario == "floor":
            _floor_worker(worker, count, run)
        elif scenario == "scopes":
            _record_worker(worker, count, f"bench:{run}:scope:{worker}")
        else:
            _record_worker(worker, count, f"bench:{run}:shared")
    finally:
        connections.close_all()


def _scenario(scenario: str, *, workers: int, events: int, mode: str, run: str) -> float:
    from django.db import connections

    connections.close_all()  # never share a connection with a forked child
    if mode == "processes":
        ctx = multiprocessing.get_context("fork")
        start: Any = ctx.Event()
        procs: list[Any] = [
            ctx.Process(target=_run_worker, args=(scenario, w, events, run, start))
            for w in range(workers)
        ]
    else:
        start = threading.Event()
        procs = [
            threading.Thread(target=_run_worker, args=(scenario, w, events, run, start))
            for w in range(workers)
        ]
    for p in procs:
        p.start()
    time.sleep(0.2)  # let every worker reach the start line
    began = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - began
    if mode == "processes" and any(p.exitcode != 0 for p in procs):
        raise SystemExit(f"{scenario}: a worker failed")
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks audit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=4, choices=range(1, 65), metavar="1-64")
    parser.add_argument("--events", type=int, default=500, help="events per worker (default 500)")
    parser.add_argument("--mode", choices=("processes", "threads"), default="processes")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each scenario (best kept)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.events <= 1_000_000 or not 1 <= args.rounds <= 20:
        parser.error("--events must be 1-1000000 and --rounds 1-20")

    cleanup = prepare_database(args.keep)
    try:
        setup_django()
        from django.db import connection

        total = args.workers * args.events
        print(
            f"audit append benchmark on {connection.vendor}: {args.workers} {args.mode} x "
            f"{args.events} events, one transaction per event",
            file=sys.stderr,
        )
        rates: dict[str, float] = {}
        for round_no in range(args.rounds):
            for scenario in SCENARIOS:
                seconds = _scenario(
                    scenario,
                    workers=args.workers,
                    events=args.events,
                    mode=args.mode,
                    run=f"r{round_no}",
                )
                rate = total / seconds
                rates[scenario] = max(rates.get(scenario, 0.0), rate)
                print(
                    f"  round {round_no + 1} {scenario:<10} {total} events in {seconds:.2f} s"
                    f" = {rate:,.0f} events/s",
                    file=sys.stderr,
                )

        from releasedesk.audit.verify import verify

        began = time.perf_counter()
        report = verify(progress=lambda n: print(f"  verified {n} events…", file=sys.stderr))
        verify_seconds = time.perf_counter() - began
        floor = rates["floor"]
        result = {
            "vendor": connection.vendor,
            "workers": args.workers,
            "mode": args.mode,
            "events_per_worker": args.events,
            "events_per_second": {k: round(v) for k, v in rates.items()},
            "ratio_to_floor": {k: round(v / floor, 3) for k, v in rates.items() if k != "floor"},
            # The floor rows carry placeholder hashes: verify flags them, chained rows are clean.
            "verify": {
                "events": report.events,
                "seconds": round(verify_seconds, 3),
                "events_per_second": round(report.events / verify_seconds) if verify_seconds else 0,
                "chained_scopes_clean": not [
                    p for p in report.problems if ":floor:" not in p.scope
                ],
            },
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"\n{connection.vendor}, {args.workers} {args.mode}, {total} events per scenario")
            print(f"{'scenario':<12}{'events/s':>12}{'vs floor':>10}")
            for scenario in SCENARIOS:
                ratio = "1.00" if scenario == "floor" else f"{rates[scenario] / floor:.2f}"
                print(f"{scenario:<12}{rates[scenario]:>12,.0f}{ratio:>10}")
            v = result["verify"]
            print(
                f"verify: {v['events']} events in {v['seconds']} s "
                f"({v['events_per_second']:,} events/s); chained scopes clean: "
                f"{v['chained_scopes_clean']}"
            )
        return 0 if result["verify"]["chained_scopes_clean"] else 1
    finally:
        cleanup()
