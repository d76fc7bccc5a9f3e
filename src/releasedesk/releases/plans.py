"""The plan of a release as the API, the CLI and the release page show it (a dry run).

`dry_run(release, at=…)` asks the planner what would happen — for the release as it is, or
for a proposed release moment ("what if we release on 2027-04-08?") — without writing
anything. `timeline_days(...)` groups steps by local day for people reading them in a zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from releasedesk.core import clock
from releasedesk.core.errors import ValidationFailed
from releasedesk.core.timeutil import format_local, to_local
from releasedesk.planning.snapshot import plan_for_release
from releasedesk.planning.types import Plan, Step
from releasedesk.releases.models import Release


@dataclass(frozen=True)
class DryRun:
    plan: Plan
    now: dt.datetime
    proposed_date: dt.date | None


def parse_at(value: str | None) -> dt.date | dt.datetime | None:
    """'2027-04-08' or '2027-04-08T16:00+02:00' (a datetime needs its offset)."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed(
            f"at: {value!r} is neither a date (YYYY-MM-DD) nor a datetime with offset",
            fields={"at": "YYYY-MM-DD or YYYY-MM-DDTHH:MM+HH:MM"},
        ) from exc
    if parsed.tzinfo is None:
        raise ValidationFailed(
            f"at: {value!r} has no UTC offset; say e.g. {text}+00:00",
            fields={"at": "a datetime needs its UTC offset"},
        )
    return parsed.astimezone(dt.UTC)


def dry_run(release: Release, *, at: dt.date | dt.datetime | None = None) -> DryRun:
    """The plan as it would be now, or for a proposed release date/moment."""
    now = clock.now()
    proposed: dt.date | None = None
    if isinstance(at, dt.datetime):
        proposed = at.date()
        now = max(now, at)
    elif isinstance(at, dt.date):
        proposed = at
    plan = plan_for_release(release, at=proposed, now=now)
    return DryRun(plan=plan, now=now, proposed_date=proposed)


def steps_for_customer(
    steps: Iterable[Step], customer_id: int | None, instance_ids: set[int]
) -> list[Step]:
    """The steps concerning one customer: theirs, or on an instance they use."""
    if customer_id is None:
        return list(steps)
    return [
        s
        for s in steps
        if s.customer_id == customer_id
        or (s.instance_id is not None and s.instance_id in instance_ids)
    ]


@dataclass(frozen=True)
class DayGroup:
    day: dt.date
    zone: str
    steps: list[dict[str, Any]]


def step_row(step: Step, zone: str | None = None) -> dict[str, Any]:
    """A step for a page: UTC, the step's own local time and zone, and the viewer's time."""
    row = step.as_dict()
    row["local_text"] = format_local(step.due_at, step.zone)
    row["utc_text"] = step.due_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if zone:
        row["viewer_text"] = format_local(step.due_at, zone)
    if step.ends_at is not None:
        row["ends_text"] = format_local(step.ends_at, step.zone)
    return row


def timeline_days(
    steps: Sequence[Step], zone: str, *, limit: int = 500
) -> tuple[list[DayGroup], int]:
    """Steps grouped by their local day in `zone` (the viewer's), at most `limit` steps."""
    groups: list[DayGroup] = []
    for step in steps[:limit]:
        day = to_local(step.due_at, zone).date()
        if not groups or groups[-1].day != day:
            groups.append(DayGroup(day=day, zone=zone, steps=[]))
        groups[-1].steps.append(step_row(step, zone))
    return groups, max(0, len(steps) - limit)


def page_context(
    release: Release, *, zone: str, customer: str | None, at: str | None
) -> dict[str, Any]:
    """The release page's timeline: the dry-run plan grouped by day, with stored step states."""
    from releasedesk.catalog.models import Customer
    from releasedesk.catalog.selectors import customer_instance_ids
    from releasedesk.timeline.models import ScheduledStep

    error = ""
    try:
        run = dry_run(release, at=parse_at(at))
    except ValidationFailed as exc:
        error = exc.message
        run = dry_run(release)
    customer_id = int(customer) if customer and customer.isdigit() and len(customer) < 10 else None
    ids = customer_instance_ids(customer_id) if customer_id else set()
    steps = steps_for_customer(run.plan.steps, customer_id, ids)
    days, hidden = timeline_days(steps, zone)
    states = dict(ScheduledStep.objects.filter(release=release).values_list("key", "state"))
    for group in days:
        for row in group.steps:
            row["state"] = states.get(row["key"], "")
    customer_ids = {s.customer_id for s in run.plan.steps if s.customer_id is not None}
    return {
        "plan_days": days,
        "plan_hidden": hidden,
        "plan_total": len(steps),
        "plan_problems": run.plan.problems,
        "plan_warnings": run.plan.warnings,
        "plan_now": run.now,
        "plan_proposed": run.proposed_date,
        "plan_error": error,
        "plan_customers": list(Customer.objects.filter(pk__in=customer_ids).order_by("name")),
        "plan_customer": customer_id,
        "plan_at": at or "",
        "plan_persisted": bool(states),
    }
