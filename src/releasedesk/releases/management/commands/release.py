"""`releasedesk release create|edit|assess|approve|revoke|plan|start|cancel|show|list`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.accounts.models import User
from releasedesk.catalog.models import Product
from releasedesk.catalog.selectors import customer_instance_ids
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import DomainError
from releasedesk.policies.models import Policy
from releasedesk.releases import plans, presenters, services
from releasedesk.releases.changes_import import parse_changes
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import with_list_data


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _scale(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to 5") from exc
    if not 1 <= number <= 5:
        raise argparse.ArgumentTypeError(f"{number} is outside 1..5")
    return number


class Command(BaseCommand):
    help = "Create, assess, approve and move releases."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        def with_as(p: argparse.ArgumentParser) -> None:
            p.add_argument(
                "--as",
                dest="as_user",
                metavar="USERNAME",
                help="The staff member acting (audited).",
            )

        create = sub.add_parser("create", help="Create a release.")
        create.add_argument("--policy", required=True, help="Policy slug, e.g. school-saas.")
        create.add_argument(
            "--product", action="append", required=True, help="Product slug (repeatable)."
        )
        create.add_argument("--version", dest="release_version", required=True)
        create.add_argument("--title", default="")
        create.add_argument("--date", type=_date, required=True, help="Target date YYYY-MM-DD.")
        create.add_argument("--kind", choices=["regular", "hotfix"], default="regular")
        create.add_argument(
            "--reason",
            default=None,
            help="Hotfix reason: performance, functional, security, operational.",
        )
        create.add_argument(
            "--changes", type=Path, help="A changelog (Markdown) or JSON file of change items."
        )
        with_as(create)

        edit = sub.add_parser("edit", help="Edit a release (voids approvals when content changes).")
        edit.add_argument("release")
        edit.add_argument("--version", dest="release_version")
        edit.add_argument("--title")
        edit.add_argument("--date", type=_date)
        edit.add_argument("--product", action="append")
        edit.add_argument("--changes", type=Path, help="Replace all change items from this file.")
        with_as(edit)

        assess = sub.add_parser("assess", help="Assess the risk (a new assessment version).")
        assess.add_argument("release")
        assess.add_argument("--impact", type=_scale)
        assess.add_argument("--likelihood", type=_scale)
        assess.add_argument(
            "--stakeholder", action="append", default=[], help="A role slug consulted (repeatable)."
        )
        assess.add_argument("--rationale", default="")
        with_as(assess)

        approve = sub.add_parser("approve", help="Approve as one of your roles.")
        approve.add_argument("release")
        approve.add_argument("--role", required=True)
        approve.add_argument("--comment", default="")
        with_as(approve)

        revoke = sub.add_parser("revoke", help="Revoke an approval.")
        revoke.add_argument("release")
        revoke.add_argument(
            "--role",
            required=True,
            help="Revoke your (or, holding the role, the) approval for this role.",
        )
        revoke.add_argument("--comment", required=True)
        with_as(revoke)

        for verb in (
            "start",
            "cancel",
            "pause",
            "resume",
            "postpone",
            "complete",
            "fail",
            "revert",
        ):
            p = sub.add_parser(verb, help=f"{verb.capitalize()} a release.")
            p.add_argument("release")
            p.add_argument("--reason", default="")
            with_as(p)

        show = sub.add_parser(
            "show", help="Show a release: changes, risk and factors, approvals, missing roles."
        )
        show.add_argument("release")
        show.add_argument("--json", action="store_true")

        plan = sub.add_parser(
            "plan",
            help="Dry run: every step with its UTC and local time and the reason (writes nothing).",
        )
        plan.add_argument("release")
        plan.add_argument(
            "--at",
            metavar="DATETIME",
            help="A proposed release date (YYYY-MM-DD) or moment (YYYY-MM-DDTHH:MM+HH:MM).",
        )
        plan.add_argument("--customer", type=int, metavar="ID", help="Only this customer's steps.")
        plan.add_argument("--json", action="store_true")

        lst = sub.add_parser("list", help="List releases.")
        lst.add_argument("--status")
        lst.add_argument("--json", action="store_true")

    # --- plumbing ---------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, f"do_{action}")(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _user(self, options: dict[str, Any], *, required: bool = True) -> User | None:
        username = options.get("as_user")
        if not username:
            if required:
                raise CommandError("--as USERNAME is required: say which staff member acts")
            return None
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"no active staff member {username!r}")
        return user

    @staticmethod
    def _actor(user: User | None) -> Actor:
        return services.staff_actor(user) if user is not None else SYSTEM

    @staticmethod
    def _release(ref: str) -> Release:
        qs = Release.objects.select_related("policy", "policy_version", "created_by")
        found: Release | None = (
            qs.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 12 else None
        )
        if found is None:
            matches = list(qs.filter(version=ref)[:2])
            if len(matches) > 1:
                raise CommandError(
                    f"version {ref!r} exists under several policies; use the release id"
                )
            found = matches[0] if matches else None
        if found is None:
            raise CommandError(f"no release {ref!r} (give its id or version)")
        return found

    @staticmethod
    def _products(slugs: list[str]) -> list[Product]:
        found = {p.slug: p for p in Product.objects.filter(slug__in=slugs)}
        for slug in slugs:
            if slug not in found:
                raise CommandError(f"unknown product {slug!r}")
        return [found[s] for s in slugs]

    @staticmethod
    def _changes(path: Path | None) -> list[Any]:
        if path is None:
            return []
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        return parse_changes(text, filename=str(path))

    # --- actions ----------------------------------------------------------------------------

    def do_plan(self, o: dict[str, Any]) -> None:
        release = self._release(o["release"])
        run = plans.dry_run(release, at=plans.parse_at(o.get("at")))
        customer = o.get("customer")
        steps = plans.steps_for_customer(
            run.plan.steps, customer, customer_instance_ids(customer) if customer else set()
        )
        if o["json"]:
            body = {
                "release_id": release.pk,
                "planned_at": run.now.isoformat(),
                "proposed_date": run.proposed_date.isoformat() if run.proposed_date else None,
                "steps": [{**s.as_dict(), "local_text": s.local_text} for s in steps],
                "problems": [p.as_dict() for p in run.plan.problems],
                "warnings": [w.as_dict() for w in run.plan.warnings],
            }
            self.stdout.write(json.dumps(body, indent=2))
            return
        when = f" if released on {run.proposed_date}" if run.proposed_date else ""
        self.stdout.write(
            f"Plan for release {release.version}{when} (as of {run.now:%Y-%m-%d %H:%M} UTC): "
            f"{len(steps)} steps"
        )
        for step in steps:
            subject = step.label
            self.stdout.write(
                f"  {step.local_text}  = {step.due_at:%Y-%m-%d %H:%M} UTC  "
                f"{step.kind:<16} {subject}"
                + (f"  [{step.status}]" if step.status != "planned" else "")
            )
            self.stdout.write(f"      {step.reason}")
        for problem in run.plan.problems:
            self.stdout.write(self.style.ERROR(f"problem: {problem.message}"))
        for warning in run.plan.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning.message}"))

    def do_create(self, o: dict[str, Any]) -> None:
        user = self._user(o)
        policy = Policy.objects.filter(slug=o["policy"]).first()
        if policy is None:
            raise CommandError(f"unknown policy {o['policy']!r}")
        release = services.create_release(
            actor=self._actor(user),
            created_by=user,
            policy=policy,
            products=self._products(o["product"]),
            version=o["release_version"],
            title=o["title"],
            target_date=o["date"],
            kind=o["kind"],
            hotfix_reason=o["reason"],
            changes=self._changes(o["changes"]),
        )
        self.stdout.write(
            f"Created release {release.version} (id {release.pk}, {release.changes.count()} changes, status {release.status})"
        )

    def do_edit(self, o: dict[str, Any]) -> None:
        user = self._user(o)
        release = self._release(o["release"])
        notices: list[str] = []
        if any(o.get(k) is not None for k in ("release_version", "title", "date", "product")):
            outcome = services.edit_release(
                release=release,
                actor=self._actor(user),
                version=o.get("release_version"),
                title=o.get("title"),
                target_date=o.get("date"),
                products=self._products(o["product"]) if o.get("product") else None,
            )
            notices.append(outcome.notice)
        if o.get("changes") is not None:
            notices.append(
                services.replace_changes(
                    release=release, actor=self._actor(user), changes=self._changes(o["changes"])
                ).notice
            )
        release.refresh_from_db()
        self.stdout.write(f"Edited release {release.version} (status {release.status})")
        for notice in filter(None, notices):
            self.stdout.write(self.style.WARNING(notice))

    def do_assess(self, o: dict[str, Any]) -> None:
        user = self._user(o)
        release = self._release(o["release"])
        assessment = services.assess_release(
            release=release,
            actor=self._actor(user),
            assessor=user,
            impact=o["impact"],
            likelihood=o["likelihood"],
            stakeholders=services.Stakeholders(roles=tuple(o["stakeholder"])),
            rationale=o["rationale"],
        )
        self.stdout.write(
            f"Assessed release {release.version}: {assessment.level} (assessment v{assessment.version})"
        )
        for factor in assessment.factors:
            self.stdout.write(f"  - {factor['description']} — {factor['reason']}")
        if not assessment.releasable:
            self.stdout.write(
                self.style.WARNING(services.not_releasable_message(release, assessment))
            )

    def do_approve(self, o: dict[str, Any]) -> None:
        user = self._user(o)
        assert user is not None
        release = self._release(o["release"])
        services.approve_release(
            release=release,
            actor=self._actor(user),
            user=user,
            role=o["role"],
            comment=o["comment"],
        )
        release.refresh_from_db()
        self.stdout.write(
            f"Approved release {release.version} as {o['role']} (status {release.status})"
        )

    def do_revoke(self, o: dict[str, Any]) -> None:
        user = self._user(o)
        assert user is not None
        release = self._release(o["release"])
        approvals = [a for a in presenters.active_approvals(release) if a.role == o["role"]]
        mine = [a for a in approvals if a.user_id == user.pk] or approvals
        if not mine:
            raise CommandError(
                f"release {release.version} has no approval in force for role {o['role']!r}"
            )
        services.revoke_approval(
            release=release,
            approval_id=mine[0].pk,
            actor=self._actor(user),
            user=user,
            comment=o["comment"],
        )
        release.refresh_from_db()
        self.stdout.write(
            f"Revoked the {o['role']} approval of release {release.version} (status {release.status})"
        )

    def _transition(self, verb: str, o: dict[str, Any]) -> None:
        user = self._user(o)
        release = self._release(o["release"])
        service = services.TRANSITION_SERVICES[verb]
        if verb in ("start", "schedule"):
            release = service(release=release, actor=self._actor(user))
        else:
            release = service(release=release, actor=self._actor(user), reason=o.get("reason", ""))
        self.stdout.write(f"Release {release.version} is now {release.status}")

    def do_start(self, o: dict[str, Any]) -> None:
        self._transition("start", o)

    def do_cancel(self, o: dict[str, Any]) -> None:
        self._transition("cancel", o)

    def do_pause(self, o: dict[str, Any]) -> None:
        self._transition("pause", o)

    def do_resume(self, o: dict[str, Any]) -> None:
        self._transition("resume", o)

    def do_postpone(self, o: dict[str, Any]) -> None:
        self._transition("postpone", o)

    def do_complete(self, o: dict[str, Any]) -> None:
        self._transition("complete", o)

    def do_fail(self, o: dict[str, Any]) -> None:
        self._transition("fail", o)

    def do_revert(self, o: dict[str, Any]) -> None:
        self._transition("revert", o)

    def do_show(self, o: dict[str, Any]) -> None:
        data = presenters.detail(self._release(o["release"]))
        if o["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        w = self.stdout.write
        w(f"Release {data['version']} {data['title']}".rstrip())
        w(
            f"  id {data['id']} · policy {data['policy']} v{data['policy_version'] or '-'} · {', '.join(data['products'])}"
        )
        w(
            f"  status {data['status']} · target date {data['target_date']} · kind {data['kind']}{' (' + data['hotfix_reason'] + ')' if data['hotfix_reason'] else ''}"
        )
        if data["notice"]:
            w(self.style.WARNING(f"  {data['notice']}"))
        w("Changes:")
        for c in data["changes"]:
            flags = [
                f
                for f, on in (
                    ("significant", c["significant"]),
                    ("irreversible", not c["reversible"]),
                )
                if on
            ]
            w(f"  - [{c['kind']}] {c['title']}{' (' + ', '.join(flags) + ')' if flags else ''}")
        a = data["assessment"]
        if a is None:
            w("Risk: not assessed")
        else:
            scale = (
                f"impact {a['impact']} × likelihood {a['likelihood']}"  # noqa: RUF001
                if a["impact"] is not None
                else "policy default"
            )
            w(
                f"Risk: {a['level']} ({scale}, assessment v{a['version']}){'' if a['releasable'] else ' — NOT RELEASABLE: ' + a['advice']}"
            )
            for f in a["factors"]:
                w(f"  - {f['description']} — {f['reason']}")
        w("Approvals:")
        for ap in data["approvals"]:
            state = (
                "in force"
                if ap["in_force"]
                else (ap["decision"] if not ap["void_reason"] else f"void: {ap['void_reason']}")
            )
            w(
                f"  - {ap['role']} by {ap['username']} ({state}){': ' + ap['comment'] if ap['comment'] else ''}"
            )
        if data["missing_approvals"]:
            w(
                "Missing: "
                + ", ".join(
                    r["role"] if r["count"] == 1 else f"{r['role']} ({r['count']} more)"
                    for r in data["missing_approvals"]
                )
            )
        w(f"Allowed next: {', '.join(data['allowed_transitions']) or 'none'}")

    def do_list(self, o: dict[str, Any]) -> None:
        # The command line runs as the operator: every release is visible.
        qs = with_list_data(Release.objects.all())
        if o.get("status"):
            qs = qs.filter(status=o["status"])
        rows = [presenters.summary(r) for r in qs.order_by("target_date", "id")]
        if o["json"]:
            self.stdout.write(json.dumps(rows, indent=2, default=str))
            return
        for r in rows:
            self.stdout.write(
                f"{r['id']:>5}  {r['version']:<14} {r['status']:<12} {r['level'] or '-':<11} {r['target_date']}  {r['policy']}  {r['title']}"
            )
