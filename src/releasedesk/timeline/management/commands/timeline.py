"""`releasedesk timeline show|run|pause|resume|cancel|skip|retry|mark|pass-stage`.

Anything that touches customer instances (run, pause, resume, cancel, skip, retry) is a dry
run unless `--execute` is given: it says what would happen and changes nothing. Long work
(`run`) shows a progress bar on stderr.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from releasedesk.accounts.models import User
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.queue_models import WorkState
from releasedesk.core.timeutil import format_local, format_utc, get_zone, is_valid_zone
from releasedesk.releases.choices import ReleaseStatus as S
from releasedesk.releases.models import Release
from releasedesk.timeline import services
from releasedesk.timeline.api import step_data
from releasedesk.timeline.execution import handle_one_timeline_steps
from releasedesk.timeline.gates import HELD_PREFIX
from releasedesk.timeline.models import ScheduledStep
from releasedesk.timeline.selectors import runs_of, stages_of

DRY_RUN_NOTE = "Dry run: nothing changed. Add --execute to act."


class Progress:
    """A text progress bar: redrawn in place on a terminal, a line every 10 % otherwise."""

    def __init__(self, total: int, *, label: str, out: Any, width: int = 30) -> None:
        # `out` is a Django OutputWrapper (or any stream with write() and isatty()).
        self.total, self.label, self.width, self.out = max(total, 0), label, width, out
        self.tty = bool(out.isatty())
        self.done = 0
        self._last_decile = -1

    def _write(self, text: str) -> None:
        try:
            self.out.write(text, ending="")
        except TypeError:  # a plain stream
            self.out.write(text)
        self.out.flush()

    def advance(self, n: int = 1) -> None:
        self.done += n
        fraction = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        decile = int(fraction * 10)
        if not self.tty and decile == self._last_decile and self.done < self.total:
            return
        self._last_decile = decile
        filled = int(fraction * self.width)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
        )
        self._write(("\r" + line) if self.tty else (line + "\n"))

    def finish(self) -> None:
        if self.tty:
            self._write("\n")


def _local(instant: Any, zone: str) -> str:
    return format_local(instant, get_zone(zone if is_valid_zone(zone) else "UTC"))


class Command(BaseCommand):
    help = "Show and control a release's timeline (dry run unless --execute)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        def with_as(p: Any, required: bool = True) -> None:
            p.add_argument(
                "--as",
                dest="as_user",
                metavar="USERNAME",
                required=required,
                help="The staff member acting (audited).",
            )

        def with_execute(p: Any) -> None:
            p.add_argument(
                "--execute",
                action="store_true",
                help="Act. Without it the command only says what it would do.",
            )

        show = sub.add_parser("show", help="A release's steps with UTC and local times.")
        show.add_argument("release", help="Release id or version.")
        show.add_argument("--state", choices=WorkState.values)
        show.add_argument("--json", action="store_true")

        run = sub.add_parser("run", help="Perform the due steps now (what the worker does).")
        run.add_argument("--release", help="Only this release (id or version).")
        run.add_argument(
            "--limit", type=int, default=1000, help="At most this many steps (1-100000)."
        )
        with_execute(run)

        for verb in ("pause", "resume", "cancel"):
            p = sub.add_parser(verb, help=f"{verb.capitalize()} a release's timeline.")
            p.add_argument("release")
            p.add_argument("--reason", default="")
            with_as(p)
            with_execute(p)

        skip = sub.add_parser("skip", help="Skip one step.")
        skip.add_argument("step", type=int, help="Step id.")
        skip.add_argument("--reason", required=True)
        with_as(skip)
        with_execute(skip)

        retry = sub.add_parser("retry", help="Run a blocked, failed, missed or skipped step again.")
        retry.add_argument("step", type=int)
        retry.add_argument("--reason", default="")
        with_as(retry)
        with_execute(retry)

        mark = sub.add_parser("mark", help="Mark a manual upgrade or a task done or failed.")
        mark.add_argument("step", type=int)
        mark.add_argument("outcome", choices=["done", "failed"])
        mark.add_argument("--comment", default="")
        with_as(mark)

        stage = sub.add_parser("pass-stage", help="Pass a policy stage (needs its approval role).")
        stage.add_argument("release")
        stage.add_argument("stage")
        stage.add_argument("--comment", default="")
        with_as(stage)

    # --- plumbing ---------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        action = str(options["action"]).replace("-", "_")
        try:
            getattr(self, f"do_{action}")(options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @staticmethod
    def _user(options: dict[str, Any]) -> User:
        username = options["as_user"]
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"no active staff member {username!r}")
        return user

    @staticmethod
    def _actor(user: User) -> Actor:
        return Actor(kind="staff", id=user.pk)

    @staticmethod
    def _release(ref: str) -> Release:
        qs = Release.objects.select_related("policy", "policy_version")
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
    def _step(pk: int) -> ScheduledStep:
        step = ScheduledStep.objects.select_related("release", "instance").filter(pk=pk).first()
        if step is None:
            raise CommandError(f"no step {pk}")
        return step

    def _describe(self, step: ScheduledStep) -> str:
        subject = f" on {step.instance.slug}" if step.instance is not None else ""
        return (
            f"#{step.pk} {step.kind}{subject} '{step.label}' due {format_utc(step.due_at)} = "
            f"{_local(step.due_at, step.zone)} [{step.state}]"
        )

    def _dry(self, lines: list[str]) -> None:
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(DRY_RUN_NOTE)

    # --- actions ----------------------------------------------------------------------------

    def do_show(self, o: dict[str, Any]) -> None:
        release = self._release(o["release"])
        steps = (
            ScheduledStep.objects.filter(release=release)
            .select_related("instance")
            .order_by("due_at", "id")
        )
        if o.get("state"):
            steps = steps.filter(state=o["state"])
        if o["json"]:
            body = {
                "release_id": release.pk,
                "status": release.status,
                "steps": [step_data(s, runs=runs_of(s)) for s in steps],
                "stages": [
                    {"name": st.name, "role": st.role, "passed": st.passed is not None}
                    for st in stages_of(release)
                ],
            }
            self.stdout.write(json.dumps(body, indent=2, default=str))
            return
        rows = list(steps)
        self.stdout.write(f"Release {release.version} ({release.status}): {len(rows)} steps")
        for st in stages_of(release):
            passed = f"passed {format_utc(st.passed.passed_at)}" if st.passed else "not passed"
            self.stdout.write(f"  stage {st.name} ({st.role or 'no role'}): {passed}")
        for step in rows:
            self.stdout.write("  " + self._describe(step))
            if step.last_error:
                self.stdout.write(f"      {step.last_error}")

    def do_run(self, o: dict[str, Any]) -> None:
        limit = int(o["limit"])
        if not 1 <= limit <= 100_000:
            raise CommandError("--limit must be from 1 to 100000")
        now = clock.now()
        only = Q()
        if o.get("release"):
            only = Q(release=self._release(o["release"]))
        due = list(
            ScheduledStep.objects.filter(only, state=WorkState.PENDING, due_at__lte=now)
            .select_related("instance")
            .order_by("due_at", "id")[:limit]
        )
        if not o["execute"]:
            self._dry(
                [f"Would perform {len(due)} due step(s) as of {format_utc(now)}:"]
                + ["  " + self._describe(s) for s in due]
            )
            return
        progress = Progress(len(due), label="Performing steps", out=self.stderr)
        handled = 0
        while handled < limit and handle_one_timeline_steps(owner="cli", filter=only):
            handled += 1
            progress.advance()
        progress.finish()
        states = dict.fromkeys(WorkState.values, 0)
        for state in ScheduledStep.objects.filter(pk__in=[s.pk for s in due]).values_list(
            "state", flat=True
        ):
            states[state] += 1
        summary = ", ".join(f"{n} {state}" for state, n in states.items() if n)
        self.stdout.write(f"Performed {handled} step(s): {summary or 'nothing due'}")

    def _control(self, o: dict[str, Any], verb: str) -> None:
        release = self._release(o["release"])
        user = self._user(o)
        if not o["execute"]:
            if verb == "pause":
                n = ScheduledStep.objects.filter(release=release, state=WorkState.PENDING).count()
                what = f"pause release {release.version} ({release.status}) and hold {n} pending step(s)"
            elif verb == "resume":
                n = ScheduledStep.objects.filter(
                    release=release, state=WorkState.BLOCKED, last_error__startswith=HELD_PREFIX
                ).count()
                what = f"resume release {release.version} ({release.status}) and release {n} held step(s)"
            else:
                n = ScheduledStep.objects.filter(release=release, state__in=services.OPEN).count()
                what = (
                    f"cancel release {release.version} ({release.status}) and its {n} open step(s)"
                )
            self._dry([f"Would {what}."])
            return
        service = {
            "pause": services.pause_timeline,
            "resume": services.resume_timeline,
            "cancel": services.cancel_timeline,
        }[verb]
        release = service(release=release, actor=self._actor(user), reason=o["reason"])
        self.stdout.write(f"Release {release.version} is now {S(release.status).label.lower()}.")

    def do_pause(self, o: dict[str, Any]) -> None:
        self._control(o, "pause")

    def do_resume(self, o: dict[str, Any]) -> None:
        self._control(o, "resume")

    def do_cancel(self, o: dict[str, Any]) -> None:
        self._control(o, "cancel")

    def do_skip(self, o: dict[str, Any]) -> None:
        step, user = self._step(o["step"]), self._user(o)
        if not o["execute"]:
            self._dry([f"Would skip {self._describe(step)}."])
            return
        step = services.skip_step(step=step, actor=self._actor(user), reason=o["reason"])
        self.stdout.write(f"Skipped {self._describe(step)}.")

    def do_retry(self, o: dict[str, Any]) -> None:
        step, user = self._step(o["step"]), self._user(o)
        if not o["execute"]:
            self._dry([f"Would run {self._describe(step)} again now."])
            return
        step = services.retry_step(step=step, actor=self._actor(user), reason=o["reason"])
        self.stdout.write(f"Queued again: {self._describe(step)}.")

    def do_mark(self, o: dict[str, Any]) -> None:
        step, user = self._step(o["step"]), self._user(o)
        step = services.mark_step(
            step=step,
            actor=self._actor(user),
            user=user,
            outcome=o["outcome"],
            comment=o["comment"],
        )
        self.stdout.write(f"Marked {o['outcome']}: {self._describe(step)}")
        if step.last_error:
            self.stdout.write(f"  {step.last_error}")

    def do_pass_stage(self, o: dict[str, Any]) -> None:
        release, user = self._release(o["release"]), self._user(o)
        passed = services.pass_stage(
            release=release,
            stage=o["stage"],
            actor=self._actor(user),
            user=user,
            comment=o["comment"],
        )
        self.stdout.write(
            f"Release {release.version} passed the stage {passed.stage} at {format_utc(passed.passed_at)} "
            f"(approved by {user.username} as {passed.role or 'staff'})."
        )
