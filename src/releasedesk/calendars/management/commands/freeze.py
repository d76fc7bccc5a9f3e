"""`releasedesk freeze declare|lift|list`: staff change freezes from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.accounts.models import User
from releasedesk.calendars import services
from releasedesk.calendars.models import ChangeFreeze
from releasedesk.catalog.models import Product
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import (
    UnknownTimeZone,
    format_local,
    format_utc,
    get_zone,
    local_to_utc,
)


def _when(value: str) -> dt.datetime:
    """ISO date-time; without an offset it is local time in --zone (resolved later)."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date-time (e.g. 2027-12-20T00:00, 2027-12-20 00:00+01:00)"
        ) from exc
    return parsed


class Command(BaseCommand):
    help = "Declare, lift and list change freezes (no upgrade is planned inside a freeze)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        declare = sub.add_parser("declare", help="Declare a change freeze.")
        declare.add_argument("--from", dest="start", type=_when, required=True, help="Start (ISO).")
        declare.add_argument(
            "--to", dest="end", type=_when, required=True, help="End, exclusive (ISO)."
        )
        declare.add_argument(
            "--zone",
            default="UTC",
            help="Zone of --from/--to when they carry no offset (default UTC).",
        )
        declare.add_argument("--reason", required=True)
        declare.add_argument(
            "--product", action="append", default=[], help="Product slug (repeatable); default all."
        )
        declare.add_argument(
            "--as", dest="as_user", metavar="USERNAME", help="Staff member acting."
        )

        lift = sub.add_parser("lift", help="Lift a change freeze.")
        lift.add_argument("freeze", type=int)
        lift.add_argument("--reason", required=True)
        lift.add_argument("--as", dest="as_user", metavar="USERNAME", help="Staff member acting.")

        lst = sub.add_parser("list", help="List freezes that are not over (or all with --all).")
        lst.add_argument("--all", action="store_true", help="Include lifted and past freezes.")
        lst.add_argument("--zone", default="UTC", help="Also show times in this zone.")
        lst.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @staticmethod
    def _zone(name: str) -> str:
        try:
            get_zone(name)
        except UnknownTimeZone as exc:
            raise CommandError(str(exc)) from exc
        return name

    @staticmethod
    def _user(username: str | None) -> User | None:
        if not username:
            return None
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"no active staff member {username!r}")
        return user

    @staticmethod
    def _actor(user: User | None) -> Actor:
        return Actor(kind="staff", id=user.pk) if user is not None else SYSTEM

    def do_declare(self, o: dict[str, Any]) -> None:
        zone = self._zone(o["zone"])
        user = self._user(o["as_user"])

        def instant(value: dt.datetime) -> dt.datetime:
            return value if value.tzinfo is not None else local_to_utc(value, zone)

        found = {p.slug: p for p in Product.objects.filter(slug__in=o["product"])}
        for slug in o["product"]:
            if slug not in found:
                raise CommandError(f"unknown product {slug!r}")
        freeze = services.declare_freeze(
            actor=self._actor(user),
            declared_by=user,
            starts_at=instant(o["start"]),
            ends_at=instant(o["end"]),
            reason=o["reason"],
            products=[found[s] for s in o["product"]],
        )
        self.stdout.write(
            f"Declared change freeze {freeze.pk}: {format_utc(freeze.starts_at)} until "
            f"{format_utc(freeze.ends_at)} ({format_local(freeze.starts_at, zone)} until "
            f"{format_local(freeze.ends_at, zone)}) for "
            f"{'all products' if freeze.all_products else ', '.join(sorted(found))}"
        )

    def do_lift(self, o: dict[str, Any]) -> None:
        user = self._user(o["as_user"])
        freeze = services.lift_freeze(
            actor=self._actor(user), freeze=o["freeze"], lifted_by=user, reason=o["reason"]
        )
        assert freeze.lifted_at is not None
        self.stdout.write(f"Lifted change freeze {freeze.pk} at {format_utc(freeze.lifted_at)}")

    def do_list(self, o: dict[str, Any]) -> None:
        zone = self._zone(o["zone"])
        now = clock.now()
        qs = ChangeFreeze.objects.prefetch_related("products").order_by("starts_at", "id")
        if not o["all"]:
            qs = qs.filter(lifted_at__isnull=True, ends_at__gt=now)
        rows = [
            {
                "id": f.pk,
                "starts_at": f.starts_at.isoformat(),
                "ends_at": f.ends_at.isoformat(),
                "starts_local": format_local(f.starts_at, zone),
                "ends_local": format_local(f.ends_at, zone),
                "reason": f.reason,
                "products": None if f.all_products else sorted(p.slug for p in f.products.all()),
                "lifted_at": f.lifted_at.isoformat() if f.lifted_at else None,
            }
            for f in qs
        ]
        if o["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No change freezes.")
        for r in rows:
            scope = "all products" if r["products"] is None else ", ".join(r["products"])
            lifted = f"  [lifted {r['lifted_at']}]" if r["lifted_at"] else ""
            self.stdout.write(
                f"{r['id']:>5}  {r['starts_local']} .. {r['ends_local']}  {scope}  {r['reason']}{lifted}"
            )
