"""`releasedesk policy validate|apply|schema|show|list|diff`."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from releasedesk.accounts.models import User
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.policies.loader import PolicyInvalid, check_source
from releasedesk.policies.models import Policy
from releasedesk.policies.schema import json_schema
from releasedesk.policies.selectors import diff_text, get_version
from releasedesk.policies.services import apply_policy


class Command(BaseCommand):
    help = "Validate, apply and inspect release policies (YAML)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser(
            "validate",
            help="Check policy files; print every error as file:line:column: field: message.",
        )
        p.add_argument("files", nargs="+", metavar="FILE")
        p = sub.add_parser(
            "apply",
            help="Store each valid file as the policy's next version (unchanged files keep their version).",
        )
        p.add_argument("files", nargs="+", metavar="FILE")
        p.add_argument("--json", action="store_true", help="Print the result as JSON.")
        p.add_argument("--user", metavar="USERNAME", help="Record this staff user as the author.")
        sub.add_parser("schema", help="Print the JSON Schema of a policy (for editors).")
        p = sub.add_parser("show", help="Print a policy version's YAML source (default: latest).")
        p.add_argument("name", metavar="NAME")
        p.add_argument("--version", dest="number", type=int, metavar="N")
        p.add_argument(
            "--json", action="store_true", help="Print the validated document as JSON instead."
        )
        sub.add_parser("list", help="List policies with their latest version.")
        p = sub.add_parser("diff", help="Unified diff of two versions' YAML.")
        p.add_argument("name", metavar="NAME")
        p.add_argument("v1", type=int)
        p.add_argument("v2", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, f"do_{action}")(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    # -- subcommands --

    def _read(self, name: str) -> str:
        try:
            return Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{name}: cannot read: {exc}") from exc

    def do_validate(self, options: dict[str, Any]) -> None:
        failed = 0
        for name in options["files"]:
            _, errors = check_source(self._read(name), name)
            for err in errors:
                self.stdout.write(str(err))
            if errors:
                failed += 1
            else:
                self.stdout.write(f"{name}: ok")
        if failed:
            raise CommandError(
                f"{failed} of {len(options['files'])} file(s) have errors", returncode=1
            )

    def do_apply(self, options: dict[str, Any]) -> None:
        actor: Actor | User = Actor.system()
        if options.get("user"):
            found = User.objects.filter(
                username=options["user"], is_active=True, is_staff=True
            ).first()
            if found is None:
                raise CommandError(f"--user: no active staff user {options['user']!r}")
            actor = found
        results: list[dict[str, Any]] = []
        failed = 0
        for name in options["files"]:
            source = self._read(name)
            try:
                version = apply_policy(source=source, filename=name, actor=actor)
            except PolicyInvalid as exc:
                failed += 1
                if options["json"]:
                    results.append({"file": name, "errors": [e.as_dict() for e in exc.errors]})
                else:
                    for err in exc.errors:
                        self.stderr.write(str(err))
                continue
            results.append(
                {
                    "file": name,
                    "policy": version.policy.slug,
                    "version": version.number,
                    "checksum": version.checksum,
                }
            )
            if not options["json"]:
                self.stdout.write(
                    f"{name}: {version.policy.slug} version {version.number} (sha256 {version.checksum[:12]})"
                )
        if options["json"]:
            self.stdout.write(json.dumps(results, indent=2))
        if failed:
            raise CommandError(
                f"{failed} of {len(options['files'])} file(s) have errors and were not applied",
                returncode=1,
            )

    def do_schema(self, options: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(policy_json_schema(), indent=2))

    def do_show(self, options: dict[str, Any]) -> None:
        version = get_version(_cli_principal(), options["name"], options.get("number"))
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "policy": version.policy.slug,
                        "version": version.number,
                        "document": version.document,
                    },
                    indent=2,
                )
            )
        else:
            self.stdout.write(
                f"# {version.policy.slug} version {version.number} · sha256 {version.checksum}"
            )
            self.stdout.write(
                version.source_yaml, ending="" if version.source_yaml.endswith("\n") else "\n"
            )

    def do_list(self, options: dict[str, Any]) -> None:
        for policy in Policy.objects.order_by("slug").prefetch_related("versions"):
            numbers = [v.number for v in policy.versions.all()]
            latest = max(numbers) if numbers else 0
            self.stdout.write(f"{policy.slug}\tv{latest}\t{len(numbers)} version(s)")

    def do_diff(self, options: dict[str, Any]) -> None:
        principal = _cli_principal()
        old = get_version(principal, options["name"], options["v1"])
        new = get_version(principal, options["name"], options["v2"])
        self.stdout.write(
            diff_text(old, new)
            or f"# versions {old.number} and {new.number} have the same source\n",
            ending="",
        )


def _cli_principal() -> Actor:
    """The CLI runs on the server with the operator's full view."""
    return Actor.system()


def policy_json_schema() -> dict[str, Any]:
    return json_schema()
