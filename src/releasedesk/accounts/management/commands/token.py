"""`releasedesk token create USERNAME --name N --scope read|write [--expires-days D] [--json]`, `token revoke ID`."""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from releasedesk.accounts import services
from releasedesk.accounts.choices import TokenScope
from releasedesk.accounts.models import ApiToken, User
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM
from releasedesk.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Manage API tokens: `token create USERNAME --name ci --scope write` prints the token once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,revoke}")
        create = sub.add_parser("create", help="Create an API token and print it once.")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="What the token is for (e.g. 'ci').")
        create.add_argument(
            "--scope",
            required=True,
            choices=TokenScope.values,
            help="read: read-only; write: read and write.",
        )
        create.add_argument(
            "--expires-days",
            type=int,
            default=None,
            metavar="DAYS",
            help="Expire after DAYS days (1-3650).",
        )
        create.add_argument("--json", action="store_true", help="Print the result as JSON.")
        revoke = sub.add_parser("revoke", help="Revoke a token by id.")
        revoke.add_argument("token_id", type=int)
        revoke.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "create":
                self._create(options)
            else:
                self._revoke(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        expires_at: dt.datetime | None = None
        days = options["expires_days"]
        if days is not None:
            if not 1 <= days <= 3650:
                raise CommandError(f"--expires-days: {days} is not between 1 and 3650.")
            expires_at = clock.now() + dt.timedelta(days=days)
        token, raw = services.create_api_token(
            actor=SYSTEM,
            user=user,
            name=options["name"],
            scope=options["scope"],
            expires_at=expires_at,
        )
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "id": token.pk,
                        "user_id": user.pk,
                        "username": user.username,
                        "name": token.name,
                        "scope": token.scope,
                        "prefix": token.prefix,
                        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                        "token": raw,
                    }
                )
            )
            return
        self.stdout.write(
            f"Created {token.scope} token {token.name!r} (id {token.pk}) for {user.username!r}."
        )
        if token.expires_at:
            self.stdout.write(f"It expires at {token.expires_at:%Y-%m-%d %H:%M} UTC.")
        self.stdout.write("Store it now; it is not shown again:")
        self.stdout.write(raw)

    def _revoke(self, options: dict[str, Any]) -> None:
        token = ApiToken.objects.filter(pk=options["token_id"]).first()
        if token is None:
            raise CommandError(f"No token with id {options['token_id']}.")
        services.revoke_api_token(actor=SYSTEM, token=token)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "id": token.pk,
                        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                    }
                )
            )
            return
        self.stdout.write(f"Revoked token {token.pk} ({token.prefix}…).")
