"""What the timeline panel shows (the release page's include and the timeline page)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from releasedesk.accounts.models import User
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.choices import ReleaseStatus as S
from releasedesk.releases.models import Release
from releasedesk.timeline import selectors
from releasedesk.timeline.models import ScheduledStep, StepKind

# The release page shows the first steps; the timeline page pages through all of them.
PANEL_LIMIT = 50
SKIPPABLE = {WorkState.PENDING, WorkState.BLOCKED, WorkState.FAILED, WorkState.MISSED}
RETRYABLE = {WorkState.BLOCKED, WorkState.FAILED, WorkState.MISSED, WorkState.SKIPPED}


def step_row(step: ScheduledStep) -> dict[str, Any]:
    waiting = bool(getattr(step, "waiting_for_person", False))
    is_task = step.kind == StepKind.TASK and step.state in (WorkState.PENDING, WorkState.BLOCKED)
    return {
        "step": step,
        "can_skip": step.state in SKIPPABLE,
        "can_retry": step.state in RETRYABLE,
        "can_mark": (step.kind == StepKind.UPGRADE and waiting) or is_task,
        "waiting": waiting,
    }


def panel_context(
    request: HttpRequest,
    release: Release,
    *,
    steps: list[ScheduledStep] | None = None,
    here: str = "",
) -> dict[str, Any]:
    user = request.user
    total = selectors.steps_for(user).filter(release=release).count()
    if steps is None:
        steps = list(selectors.steps_for(user).filter(release=release)[:PANEL_LIMIT])
    my_roles = user.role_slugs() if isinstance(user, User) else set()
    stages = [
        {"stage": s, "can_pass": s.passed is None and (not s.role or s.role in my_roles)}
        for s in selectors.stages_of(release)
    ]
    status = release.status
    return {
        "tl_release": release,
        "tl_rows": [step_row(s) for s in steps],
        "tl_total": total,
        "tl_shown": len(steps),
        "tl_stages": stages,
        "tl_can_pause": status in (S.SCHEDULED, S.IN_PROGRESS),
        "tl_can_resume": status == S.PAUSED,
        "tl_can_cancel": status
        in (S.DRAFT, S.ASSESSED, S.APPROVED, S.SCHEDULED, S.PAUSED, S.POSTPONED),
        "tl_here": here or request.get_full_path(),
        "tl_zone": getattr(user, "timezone", "") or "UTC",
    }
