"""`releasedesk user create USERNAME --email E --role R [--role R2] [--password-stdin | --password P] [--superuser] [--json]`."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from releasedesk.accounts import services
from releasedesk.core.context import SYSTEM
from releasedesk.core.errors import DomainError


class Command(BaseCommand):
    help = "Manage staff users: `user create USERNAME --email E --role product_manager --role cto`."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create}")
        create = sub.add_parser("create", help="Create a staff user.")
        create.add_argument("username")
        create.add_argument("--email", default="", help="E-mail address.")
        create.add_argument(
            "--role",
            action="append",
            default=[],
            dest="roles",
            metavar="ROLE",
            help="A role slug; repeat for several.",
        )
        secret = create.add_mutually_exclusive_group()
        secret.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input.",
        )
        secret.add_argument(
            "--password",
            default=None,
            help="The password (visible in the process list; prefer --password-stdin).",
        )
        create.add_argument(
            "--superuser",
            action="store_true",
            help="Make the user a superuser (Django admin: everything).",
        )
        create.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "create":  # pragma: no cover - argparse enforces the choice
            raise CommandError(f"unknown action {options['action']!r}")
        password: str | None = options["password"]
        if options["password_stdin"]:
            line = sys.stdin.readline()
            password = line.rstrip("\r\n")
            if not password:
                raise CommandError(
                    "--password-stdin: standard input had no password on its first line."
                )
        try:
            user = services.create_user(
                actor=SYSTEM,
                username=options["username"],
                email=options["email"],
                password=password,
                roles=options["roles"],
                is_staff=True,
                is_superuser=options["superuser"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        roles = sorted(user.role_slugs())
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "id": user.pk,
                        "username": user.username,
                        "email": user.email,
                        "roles": roles,
                        "is_superuser": user.is_superuser,
                        "can_sign_in": password is not None,
                    }
                )
            )
            return
        self.stdout.write(
            f"Created user {user.username!r} (id {user.pk}) with roles: {', '.join(roles) or 'none'}."
        )
        if password is None:
            self.stdout.write(
                "No password was given: the user cannot sign in until one is set (releasedesk changepassword)."
            )
