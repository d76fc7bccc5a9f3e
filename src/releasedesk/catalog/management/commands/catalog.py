"""`releasedesk catalog import FILE [FILE ...] [--kind KIND] [--dry-run] [--json] [--as USERNAME]`."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from releasedesk.catalog.importer import KINDS, import_files
from releasedesk.core.context import Actor


class Command(BaseCommand):
    help = "Catalogue tools. `catalog import FILE ...` loads products, customers, contacts, instances and subscriptions from YAML or CSV (docs/catalog-import.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        imp = sub.add_parser(
            "import",
            help="Validate every row, then import all of it in one transaction (or nothing).",
            description="Validate every row of the files, then import all of them in one transaction, or nothing if any row is bad (exit code 1).",
        )
        imp.add_argument(
            "files", nargs="+", metavar="FILE", help="YAML (.yaml/.yml) or CSV (.csv) files"
        )
        imp.add_argument(
            "--kind",
            choices=KINDS,
            help="What a CSV file holds (default: from its name, e.g. customers.csv)",
        )
        imp.add_argument(
            "--dry-run",
            action="store_true",
            help="Check and simulate the import, then roll it back",
        )
        imp.add_argument("--json", action="store_true", help="Machine-readable output on stdout")
        imp.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="Record the import as this staff user (default: system)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self._import(options)

    def _actor(self, username: str | None) -> Actor:
        if not username:
            return Actor.system()
        from releasedesk.accounts.models import User

        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"--as: no active staff user {username!r}")
        return Actor(kind="staff", id=user.pk)

    def _import(self, options: dict[str, Any]) -> None:
        actor = self._actor(options["username"])
        result = import_files(
            [Path(f) for f in options["files"]],
            actor=actor,
            kind=options["kind"],
            dry_run=options["dry_run"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            for problem in result.problems:
                self.stderr.write(str(problem))
            if result.ok:
                verb = "Would import" if result.dry_run else "Imported"
                parts = [
                    f"{kind}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
                    for kind, c in result.counts.items()
                ]
                self.stdout.write(
                    f"{verb} (dry run, nothing saved):" if result.dry_run else f"{verb}:"
                )
                for part in parts:
                    self.stdout.write(f"  {part}")
        if not result.ok:
            rows = len({(p.file, p.kind, p.row) for p in result.problems})
            raise CommandError(
                f"{len(result.problems)} problem(s) in {rows} row(s); nothing was imported.",
                returncode=1,
            )
