"""`releasedesk worker`: carry out due work (timeline steps, outbox messages, webhooks).

Run as many as you like, on one or more hosts: rows are claimed by compare-and-set with a
lease, so no two workers take the same row, and the work of a worker that dies comes back
after its lease (see docs/worker.md). SIGTERM or Ctrl+C finishes the current unit of work,
then exits 0.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.core import worker
from releasedesk.core.management.commands.serve import check_migrations


def _seconds(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{option}: {text!r} is not a number of seconds") from None
    if not 0.01 <= value <= 3600:
        raise CommandError(f"{option}: {text} must be between 0.01 and 3600 seconds")
    return value


class Command(BaseCommand):
    help = "Carry out due work until stopped (SIGTERM finishes the current unit first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Work until nothing is due any more, then exit (cron style).",
        )
        parser.add_argument(
            "--poll",
            default=str(worker.DEFAULT_POLL_INTERVAL),
            metavar="SECONDS",
            help=f"Sleep this long when nothing is due (default {worker.DEFAULT_POLL_INTERVAL}).",
        )
        parser.add_argument(
            "--id",
            dest="worker_id",
            default=None,
            metavar="NAME",
            help="Lease owner name, unique per worker (default host:pid).",
        )
        parser.add_argument(
            "--reap-every",
            default=str(worker.DEFAULT_REAP_EVERY),
            metavar="SECONDS",
            help="How often this worker returns expired leases "
            f"(default {worker.DEFAULT_REAP_EVERY}).",
        )
        parser.add_argument(
            "--handler",
            action="append",
            default=[],
            metavar="MODULE:NAME",
            help="Run only these handlers (and the reaper) instead of the registered ones; "
            "repeatable. For tests and special-purpose workers.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        poll = _seconds(options["poll"], "--poll")
        reap_every = _seconds(options["reap_every"], "--reap-every")
        try:
            worker.set_worker_id(options["worker_id"])
        except ValueError as exc:
            raise CommandError(f"--id: {exc}") from exc
        check_migrations()
        if options["handler"]:
            try:
                handlers = [worker.import_handler(h) for h in options["handler"]]
            except (ImportError, AttributeError, ValueError) as exc:
                raise CommandError(f"--handler: {exc}") from exc
            handlers.insert(0, worker.reaper_handler(every=reap_every))
        else:
            handlers = worker.load_handlers(reap_every=reap_every)
        if options["once"]:
            done = worker.drain(handlers)
            self.stdout.write(f"worker {worker.worker_id()}: {done} turn(s) with work, nothing due")
            return
        worker.run_worker_loop(threading.Event(), poll_interval=poll, handlers=handlers)
