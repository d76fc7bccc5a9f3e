"""`releasedesk audit verify [--scope S] [--json]`: check every audit chain."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.audit.verify import PROGRESS_EVERY, verify


class Command(BaseCommand):
    help = "Audit trail tools. `audit verify` recomputes every scope's hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        v = sub.add_parser("verify", help="Report modified, deleted and inserted audit events.")
        v.add_argument("--scope", help="Verify one scope only (e.g. catalog.customer:12).")
        v.add_argument("--json", action="store_true", help="Machine-readable output.")
        v.add_argument(
            "--progress-every",
            type=int,
            default=PROGRESS_EVERY,
            help=f"Print progress to stderr every N events (default {PROGRESS_EVERY}; 0: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self._verify(options)

    def _verify(self, options: dict[str, Any]) -> None:
        every = options["progress_every"]
        if every < 0:
            raise CommandError("--progress-every: must be 0 or more")

        def progress(n: int) -> None:
            sys.stderr.write(f"verified {n} events…\n")
            sys.stderr.flush()

        report = verify(
            scope=options["scope"],
            progress=progress if every else None,
            progress_every=every or 1,
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), indent=2))
        else:
            for problem in report.problems:
                self.stdout.write(str(problem))
            self.stdout.write(report.summary())
        if not report.ok:
            raise CommandError(f"audit verify: {report.summary()}", returncode=1)
