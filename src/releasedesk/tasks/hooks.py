"""Where the tasks app joins the timeline: after a plan is stored, and when a release completes."""

from __future__ import annotations

import datetime as dt

from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.releases.models import Release
from releasedesk.timeline.persist import PlanDiff


def plan_stored(release: Release, diff: PlanDiff, actor: Actor) -> None:
    from releasedesk.tasks.services import sync_release_tasks

    sync_release_tasks(release.pk, now=clock.now(), actor=actor)


def release_completed(release: Release, now: dt.datetime) -> None:
    from releasedesk.tasks.services import EVENT_RELEASE_COMPLETED, event_happened

    event_happened(release=release, event=EVENT_RELEASE_COMPLETED, now=now)


def install() -> None:
    from releasedesk.timeline import execution, replan

    if plan_stored not in replan.PLAN_STORED_HOOKS:
        replan.PLAN_STORED_HOOKS.append(plan_stored)
    if release_completed not in execution.RELEASE_COMPLETED_HOOKS:
        execution.RELEASE_COMPLETED_HOOKS.append(release_completed)
