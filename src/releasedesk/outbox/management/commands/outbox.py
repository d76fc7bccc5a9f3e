"""`releasedesk outbox roadmap-update`: tell partners what is coming (dry run by default)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.accounts.models import User
from releasedesk.catalog.models import Product
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import format_local, format_utc
from releasedesk.outbox.roadmap import (
    PARTNER_AUDIENCES,
    preview_roadmap_update,
    send_roadmap_update,
)


class Command(BaseCommand):
    help = "Outbox actions: roadmap updates to partners."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        p = sub.add_parser(
            "roadmap-update",
            help="Show (default) or --send a roadmap update to partners of the products.",
        )
        p.add_argument(
            "--product", action="append", required=True, help="Product slug (repeatable)."
        )
        p.add_argument("--period", required=True, help="e.g. 'June 2027'.")
        p.add_argument("--audience", choices=PARTNER_AUDIENCES, default=PARTNER_AUDIENCES[0])
        p.add_argument("--send", action="store_true", help="Queue the messages (else a dry run).")
        p.add_argument("--as", dest="as_user", metavar="USERNAME", help="Staff member sending.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.roadmap_update(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def roadmap_update(self, o: dict[str, Any]) -> None:
        slugs: list[str] = o["product"]
        found = {p.slug: p for p in Product.objects.filter(slug__in=slugs)}
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise CommandError(f"no product {unknown[0]!r}")
        products = [found[s] for s in dict.fromkeys(slugs)]
        if o["send"]:
            user = self._user(o["as_user"])
            sent = send_roadmap_update(
                actor=Actor(kind="staff", id=user.pk),
                user=user,
                products=products,
                period=o["period"],
                audience=o["audience"],
            )
            self.stdout.write(
                f"queued {sent.created} message(s) ({sent.existing} already queued for this "
                f"period, {len(sent.skipped)} contact(s) skipped); the worker delivers them"
            )
            return
        preview = preview_roadmap_update(
            products=products, period=o["period"], audience=o["audience"]
        )
        self.stdout.write("Dry run: nothing is sent. Add --send --as USERNAME to queue it.\n")
        self.stdout.write("Items:")
        for item in preview.roadmap.items or ("(none: no planned release of these products)",):
            self.stdout.write(f"  - {item}")
        if preview.roadmap.next_release_at is not None:
            self.stdout.write(f"Next release: {format_utc(preview.roadmap.next_release_at)}")
        self.stdout.write(f"Recipients ({len(preview.audience.recipients)}):")
        for r in preview.audience.recipients:
            when = (
                f"; next release {format_local(preview.roadmap.next_release_at, r.zone)}"
                if preview.roadmap.next_release_at is not None
                else ""
            )
            self.stdout.write(f"  {r.email} [{r.locale}, {r.zone}{when}]: {r.why}")
        for s in preview.audience.skipped:
            self.stdout.write(f"  skipped: {s.why} ({s.problem})")
        self.stdout.write(f"\nSubject: {preview.rendered.subject}\n\n{preview.rendered.text}")

    @staticmethod
    def _user(username: str | None) -> User:
        if not username:
            raise CommandError("--send needs --as USERNAME: say which staff member sends it")
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"no active staff member {username!r}")
        return user
