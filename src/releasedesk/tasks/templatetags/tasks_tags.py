"""`{% release_tasks release %}`: the release page's task list and hypercare periods."""

from __future__ import annotations

from typing import Any

from django import template

from releasedesk.accounts.models import User
from releasedesk.core import clock
from releasedesk.core.timeutil import is_valid_zone
from releasedesk.releases.models import Release
from releasedesk.tasks import selectors
from releasedesk.tasks.rows import task_rows
from releasedesk.timeline.models import ScheduledStep, StepKind

register = template.Library()

HIDDEN = ("superseded", "cancelled")


@register.inclusion_tag("tasks/_release_panel.html", takes_context=True)
def release_tasks(context: template.Context, release: Release) -> dict[str, Any]:
    request = context["request"]
    user = request.user if isinstance(request.user, User) else None
    zone = getattr(user, "timezone", "") or "UTC"
    zone = zone if is_valid_zone(zone) else "UTC"
    now = clock.now()
    tasks = list(selectors.release_tasks(request.user, release))
    hypercare = [
        {
            "first_day": (s.payload or {}).get("first_day", ""),
            "last_day": (s.payload or {}).get("last_day", ""),
            "note": (s.payload or {}).get("note", ""),
            "zone": s.zone,
            "current": s.due_at <= now < (s.ends_at or s.due_at),
        }
        for s in ScheduledStep.objects.filter(release=release, kind=StepKind.HYPERCARE)
        .exclude(state__in=HIDDEN)
        .order_by("due_at")
    ]
    return {
        "rows": task_rows(tasks, user=user, zone=zone, now=now),
        "hypercare": hypercare,
        "zone": zone,
        "here": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
