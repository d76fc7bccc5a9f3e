"""`releasedesk task list|done|skip`: timeline tasks from the command line.

    releasedesk task list --as alice              # alice's open tasks (her roles and teams)
    releasedesk task list --release 12 [--status open] [--json]
    releasedesk task done 7 --as alice [--comment "…"]
    releasedesk task skip 7 --as alice --comment "not needed this time"

Times are shown in UTC and in the policy zone (and in the acting person's zone with --as).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releasedesk.accounts.models import User
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import format_local, format_utc, is_valid_zone
from releasedesk.releases.models import Release
from releasedesk.tasks import selectors, services
from releasedesk.tasks.choices import TaskStatus
from releasedesk.tasks.models import Task


class Command(BaseCommand):
    help = "List timeline tasks, mark one done or skip it (with a comment)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        ls = sub.add_parser("list", help="Tasks: mine (--as), or a release's (--release).")
        ls.add_argument(
            "--as", dest="as_user", metavar="USERNAME", help="List this person's tasks."
        )
        ls.add_argument("--release", help="Only this release (id or version).")
        ls.add_argument("--status", choices=TaskStatus.values)
        ls.add_argument("--all", action="store_true", help="With --as: include finished tasks.")
        ls.add_argument("--json", action="store_true")
        for verb, needs in (("done", False), ("skip", True)):
            p = sub.add_parser(verb, help=f"Mark a task {'done' if verb == 'done' else 'skipped'}.")
            p.add_argument("task", type=int, help="Task id.")
            p.add_argument("--as", dest="as_user", metavar="USERNAME", required=True)
            p.add_argument("--comment", default="", required=needs)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @staticmethod
    def _user(username: str) -> User:
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"no active staff member {username!r}")
        return user

    @staticmethod
    def _release(ref: str) -> Release:
        found = (
            Release.objects.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 12 else None
        )
        if found is None:
            matches = list(Release.objects.filter(version=ref)[:2])
            if len(matches) > 1:
                raise CommandError(
                    f"version {ref!r} exists under several policies; use the release id"
                )
            found = matches[0] if matches else None
        if found is None:
            raise CommandError(f"no release {ref!r} (give its id or version)")
        release: Release = found
        return release

    def _line(self, task: Task, zone: str | None) -> str:
        policy_zone = task.zone if is_valid_zone(task.zone) else "UTC"
        status = task.status
        if status == TaskStatus.WAITING:
            when = f"waits for {task.event.replace('_', ' ')}"
        else:
            when = f"due {format_utc(task.due_at)} = {format_local(task.due_at, policy_zone)}"
            if zone and zone != policy_zone:
                when += f" = {format_local(task.due_at, zone)}"
        overdue = " OVERDUE" if task.is_overdue(clock.now()) else ""
        return (
            f"#{task.pk} [{status}{overdue}] {task.release.version}: {task.title} "
            f"({', '.join(task.owners)}) {when}"
        )

    def do_list(self, o: dict[str, Any]) -> None:
        user = self._user(o["as_user"]) if o["as_user"] else None
        if user is None and not o["release"]:
            raise CommandError("give --as USERNAME (that person's tasks) or --release")
        system = User(is_staff=True, is_active=True)  # an unsaved staff principal: sees all
        qs = (
            selectors.my_tasks(user, include_finished=o["all"] or bool(o["status"]))
            if user is not None
            else selectors.tasks_for(system)
        )
        if o["release"]:
            qs = qs.filter(release=self._release(o["release"]))
        qs = selectors.with_status(qs, o["status"])
        zone = user.timezone if user is not None and is_valid_zone(user.timezone or "") else None
        tasks = list(qs)
        if o["json"]:
            now = clock.now()
            rows = [
                {
                    "id": t.pk,
                    "release": t.release.version,
                    "title": t.title,
                    "status": t.status,
                    "overdue": t.is_overdue(now),
                    "owners": t.owners,
                    "due_at": t.due_at.isoformat(),
                    "due_local": format_local(t.due_at, t.zone if is_valid_zone(t.zone) else "UTC"),
                    "event": t.event,
                    "comment": t.comment,
                }
                for t in tasks
            ]
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for task in tasks:
            self.stdout.write(self._line(task, zone))
        if not tasks:
            self.stdout.write("No tasks.")

    def do_done(self, o: dict[str, Any]) -> None:
        user = self._user(o["as_user"])
        task = services.complete_task(
            task=o["task"], user=user, actor=Actor(kind="staff", id=user.pk), comment=o["comment"]
        )
        self.stdout.write(f"Task #{task.pk} {task.title!r} done.")

    def do_skip(self, o: dict[str, Any]) -> None:
        user = self._user(o["as_user"])
        task = services.skip_task(
            task=o["task"], user=user, actor=Actor(kind="staff", id=user.pk), comment=o["comment"]
        )
        self.stdout.write(f"Task #{task.pk} {task.title!r} skipped.")
