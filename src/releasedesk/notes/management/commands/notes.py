"""`releasedesk notes compose|list|show|edit|signoff|publish|white-label|digest|between|docs|feeds|rotate-feed|deliver|retry|newsletter`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.accounts.models import User
from releasedesk.catalog.models import Customer
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import DomainError
from releasedesk.notes import selectors, services
from releasedesk.notes.choices import NOTE_CHANNELS, NoteState, Tier
from releasedesk.notes.models import ReleaseNote
from releasedesk.notes.views import feed_url
from releasedesk.policies.models import Policy
from releasedesk.releases.models import Release


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Compose, edit, sign off and publish release notes; digests; white-label variants."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        def with_as(p: argparse.ArgumentParser, *, required: bool = True) -> None:
            p.add_argument(
                "--as",
                dest="as_user",
                metavar="USERNAME",
                required=required,
                help="The staff member acting (audited).",
            )

        p = sub.add_parser("compose", help="Compose notes of a release from its change items.")
        p.add_argument("release", help="Release id or version.")
        p.add_argument("--audience", action="append", help="Only this audience (repeatable).")
        p.add_argument("--locale", action="append", help="Only this locale (repeatable).")
        with_as(p)

        p = sub.add_parser("list", help="List notes.")
        p.add_argument("--release")
        p.add_argument("--state", choices=NoteState.values)
        p.add_argument("--json", action="store_true")

        p = sub.add_parser("show", help="Show a note (rendered Markdown, or --html).")
        p.add_argument("note", type=int)
        p.add_argument("--html", action="store_true")

        p = sub.add_parser("edit", help="Replace a note's Markdown body (and title).")
        p.add_argument("note", type=int)
        p.add_argument("--file", type=Path, required=True, help="Markdown file with the new body.")
        p.add_argument("--title")
        with_as(p)

        p = sub.add_parser("signoff", help="Sign a note off (needs a sign-off role).")
        p.add_argument("note", type=int)
        with_as(p)

        p = sub.add_parser("publish", help="Publish a signed-off note.")
        p.add_argument("note", type=int)
        p.add_argument(
            "--channel", action="append", choices=NOTE_CHANNELS, help="Repeatable; default by tier."
        )
        with_as(p)

        p = sub.add_parser("white-label", help="Export a published note under an OEM's name.")
        p.add_argument("note", type=int)
        p.add_argument("--customer", required=True, help="The OEM customer's slug.")
        with_as(p)

        p = sub.add_parser("digest", help="Publish the digest of a period to the docs portal.")
        p.add_argument("--policy", required=True)
        p.add_argument("--audience", required=True)
        p.add_argument("--locale", default="en")
        p.add_argument("--from", dest="start", type=_date, help="First day (YYYY-MM-DD).")
        p.add_argument("--to", dest="end", type=_date, help="Last day, inclusive.")
        p.add_argument("--anchor", type=_date, help="Cadence anchor (with --every-weeks, --on).")
        p.add_argument("--every-weeks", type=int, default=4)
        p.add_argument("--on", type=_date, help="A day in the period (default: today, UTC).")
        with_as(p, required=False)

        p = sub.add_parser(
            "between", help="Notes of every version between a customer's current and target."
        )
        p.add_argument("customer", help="Customer slug.")
        p.add_argument("--target", help="Target version (default: the newest with notes).")
        p.add_argument("--product")

        p = sub.add_parser("docs", help="Per OEM: who updates its white-label docs for a release.")
        p.add_argument("release")

        p = sub.add_parser("feeds", help="Feed URLs of a policy's audiences.")
        p.add_argument("policy")

        p = sub.add_parser(
            "rotate-feed",
            help="Revoke a partner audience's feed URLs (old ones answer 404) and print the new.",
        )
        p.add_argument("policy")
        p.add_argument("audience", help="A partner audience of the policy.")
        with_as(p)

        sub.add_parser("deliver", help="Deliver every due publication now (docs export, KB).")

        p = sub.add_parser("retry", help="Retry a failed publication.")
        p.add_argument("publication", type=int)
        with_as(p)

        p = sub.add_parser("newsletter", help="Preview the newsletter messages of an audience.")
        p.add_argument("release")
        p.add_argument("audience")

    # --- plumbing ---------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        try:
            getattr(self, f"do_{action}")(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @staticmethod
    def _user(options: dict[str, Any]) -> User | None:
        username = options.get("as_user")
        if not username:
            return None
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"no active staff member {username!r}")
        return user

    def _required_user(self, options: dict[str, Any]) -> User:
        user = self._user(options)
        if user is None:
            raise CommandError("--as USERNAME is required: say which staff member acts")
        return user

    @staticmethod
    def _actor(user: User | None) -> Actor:
        return services.staff_actor(user) if user is not None else SYSTEM

    @staticmethod
    def _release(ref: str) -> Release:
        qs = Release.objects.select_related("policy")
        if ref.isdigit():
            found: Release | None = qs.filter(pk=int(ref)).first()
            if found is not None:
                return found
        matches: list[Release] = list(qs.filter(version=ref)[:2])
        if len(matches) > 1:
            raise CommandError(
                f"version {ref!r} exists under several policies: give the release id"
            )
        if not matches:
            raise CommandError(f"no release {ref!r} (give its id or version)")
        return matches[0]

    @staticmethod
    def _note(pk: int) -> ReleaseNote:
        note: ReleaseNote | None = (
            ReleaseNote.objects.select_related("release", "release__policy").filter(pk=pk).first()
        )
        if note is None:
            raise CommandError(f"no release note {pk}")
        return note

    def _line(self, note: ReleaseNote) -> str:
        return (
            f"#{note.pk}  {note.release.version}  {note.audience} ({note.tier})  {note.locale}  "
            f"{note.state}  r{note.revision}"
        )

    # --- actions ----------------------------------------------------------------------------

    def do_compose(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        notes = services.compose_notes(
            release=self._release(o["release"]),
            actor=self._actor(user),
            audiences=o["audience"],
            locales=o["locale"],
        )
        for note in notes:
            self.stdout.write(self._line(note))

    def do_list(self, o: dict[str, Any]) -> None:
        qs = ReleaseNote.objects.select_related("release").order_by(
            "release_id", "audience", "locale"
        )
        if o["release"]:
            qs = qs.filter(release=self._release(o["release"]))
        if o["state"]:
            qs = qs.filter(state=o["state"])
        notes = list(qs)
        if o["json"]:
            self.stdout.write(
                json.dumps([{"id": n.pk, **selectors.note_summary(n)} for n in notes], indent=2)
            )
            return
        for note in notes:
            self.stdout.write(self._line(note))
        if not notes:
            self.stdout.write("no notes")

    def do_show(self, o: dict[str, Any]) -> None:
        note = self._note(o["note"])
        rendered = selectors.render_note(note)
        self.stdout.write(self._line(note))
        self.stdout.write(f"# {rendered.title}\n")
        self.stdout.write(rendered.html if o["html"] else rendered.markdown)

    def do_edit(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        note = self._note(o["note"])
        try:
            body = Path(o["file"]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{o['file']}: {exc.strerror}") from exc
        note = services.edit_note(
            note=note, actor=self._actor(user), user=user, title=o["title"] or note.title, body=body
        )
        self.stdout.write(self._line(note))

    def do_signoff(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        note = services.sign_off_note(note=o["note"], actor=self._actor(user), user=user)
        self.stdout.write(self._line(note))

    def do_publish(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        pubs = services.publish_note(note=o["note"], actor=self._actor(user), channels=o["channel"])
        self.stdout.write(self._line(self._note(o["note"])))
        for p in pubs:
            files = ", ".join(p.details.get("files", []))
            extra = f"  {files}" if files else ""
            error = f"  error: {p.last_error}" if p.last_error else ""
            self.stdout.write(f"  {p.channel}: {p.state}{extra}{error}")

    def do_white_label(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        customer = Customer.objects.filter(slug=o["customer"]).first()
        if customer is None:
            raise CommandError(f"no customer {o['customer']!r}")
        pub = services.publish_white_label(
            note=o["note"], customer=customer, actor=self._actor(user)
        )
        self.stdout.write(f"{pub.channel}: {pub.state}  {', '.join(pub.details.get('files', []))}")

    def do_digest(self, o: dict[str, Any]) -> None:
        policy = Policy.objects.filter(slug=o["policy"]).first()
        if policy is None:
            raise CommandError(f"no policy {o['policy']!r}")
        if o["start"] and o["end"]:
            start, end = o["start"], o["end"]
        elif o["anchor"]:
            from releasedesk.core import clock

            on = o["on"] or clock.now().date()
            start, end = selectors.digest_period(o["anchor"], o["every_weeks"], on)
        else:
            raise CommandError("give --from and --to, or --anchor (with --every-weeks and --on)")
        digest = services.publish_digest(
            policy=policy,
            audience=o["audience"],
            locale=o["locale"],
            period_start=start,
            period_end=end,
            actor=self._actor(self._user(o)),
        )
        releases = [
            n.release.version
            for n in digest.notes.select_related("release").order_by("published_at")
        ]
        self.stdout.write(f"{digest.title}: {len(releases)} release(s) {', '.join(releases)}")
        for pub in digest.publications.all():
            self.stdout.write(
                f"  {pub.channel}: {pub.state}  {', '.join(pub.details.get('files', []))}"
            )

    def do_between(self, o: dict[str, Any]) -> None:
        customer = Customer.objects.filter(slug=o["customer"]).first()
        if customer is None:
            raise CommandError(f"no customer {o['customer']!r}")
        for step in selectors.notes_between(
            customer, target_version=o["target"], product_slug=o["product"]
        ):
            versions = ", ".join(n.release.version for n in step.notes) or "none"
            self.stdout.write(
                f"{step.product} on {step.instance}: {step.current_version or '?'} -> "
                f"{step.target_version or '?'}: {versions}"
            )

    def do_docs(self, o: dict[str, Any]) -> None:
        for d in selectors.documentation_decisions(self._release(o["release"])):
            self.stdout.write(f"customer {d.customer_id}: {d.action} ({d.reason})")

    def do_feeds(self, o: dict[str, Any]) -> None:
        policy = Policy.objects.filter(slug=o["policy"]).first()
        if policy is None:
            raise CommandError(f"no policy {o['policy']!r}")
        doc = selectors.latest_document(policy)
        for audience, tier in selectors.note_audiences(doc):
            if tier == "internal":
                self.stdout.write(f"{audience} (internal): no feed")
                continue
            for locale in selectors.note_locales(doc):
                self.stdout.write(
                    f"{audience} ({tier}, {locale}): {feed_url(policy.slug, audience, locale, tier=tier)}"
                )

    def do_rotate_feed(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        policy = Policy.objects.filter(slug=o["policy"]).first()
        if policy is None:
            raise CommandError(f"no policy {o['policy']!r}")
        key = services.rotate_feed_token(
            policy=policy, audience=o["audience"], actor=self._actor(user)
        )
        self.stdout.write(
            f"{key.audience}: feed key now version {key.version}; every earlier URL is revoked"
        )
        for locale in selectors.note_locales(selectors.latest_document(policy)):
            url = feed_url(policy.slug, key.audience, locale, tier=Tier.PARTNER)
            self.stdout.write(f"{key.audience} (partner, {locale}): {url}")

    def do_deliver(self, o: dict[str, Any]) -> None:
        count = 0
        while services.handle_one_publication():
            count += 1
        self.stdout.write(f"{count} publication(s) handled")

    def do_retry(self, o: dict[str, Any]) -> None:
        user = self._required_user(o)
        row = services.retry_publication(publication=o["publication"], actor=self._actor(user))
        if row.channel in services.DELIVERED_HERE:
            row = services.deliver_publication(row)
        self.stdout.write(f"{row.key}: {row.state} {row.last_error}".rstrip())

    def do_newsletter(self, o: dict[str, Any]) -> None:
        messages = selectors.newsletter_messages(self._release(o["release"]), o["audience"])
        for contact_id, subject, _text, _html in messages:
            self.stdout.write(f"contact {contact_id}: {subject}")
        self.stdout.write(f"{len(messages)} message(s)")
