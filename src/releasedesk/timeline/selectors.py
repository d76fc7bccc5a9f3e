"""Read side of the timeline: a release's steps (scoped), their runs, the stages and passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from releasedesk.core.errors import NotFound
from releasedesk.releases.models import Release
from releasedesk.timeline.gates import policy_stages
from releasedesk.timeline.models import RunStatus, ScheduledStep, StagePass, StepRun


def releases_visible(principal: Any) -> QuerySet[Release]:
    return Release.objects.for_user(principal)


def release_for(principal: Any, release_id: int) -> Release:
    """The release if `principal` may see it; NotFound (404) otherwise, whoever asks."""
    release: Release | None = (
        releases_visible(principal)
        .select_related("policy", "policy_version")
        .filter(pk=release_id)
        .first()
    )
    if release is None:
        raise NotFound(f"Release {release_id} not found.")
    return release


def steps_for(principal: Any) -> QuerySet[ScheduledStep]:
    """Steps of the releases `principal` may see, with what lists show, in a fixed number of
    queries (the instance and whether a person is awaited are joined, not fetched per row)."""
    waiting = StepRun.objects.filter(step=OuterRef("pk"), status=RunStatus.WAITING)
    return (
        ScheduledStep.objects.filter(release__in=releases_visible(principal))
        .select_related("instance", "release")
        .annotate(waiting_for_person=Exists(waiting))
        .order_by("due_at", "id")
    )


def step_for(principal: Any, step_id: int) -> ScheduledStep:
    step = steps_for(principal).filter(pk=step_id).first()
    if step is None:
        raise NotFound(f"Step {step_id} not found.")
    return step


def runs_of(step: ScheduledStep) -> list[StepRun]:
    return list(StepRun.objects.filter(step=step).select_related("decided_by").order_by("number"))


@dataclass(frozen=True, slots=True)
class StageState:
    name: str
    role: str
    gates_customers: bool
    passed: StagePass | None


def stages_of(release: Release) -> list[StageState]:
    passes = {
        p.stage: p for p in StagePass.objects.filter(release=release).select_related("approved_by")
    }
    return [
        StageState(
            name=s.name, role=s.role, gates_customers=s.gates_customers, passed=passes.get(s.name)
        )
        for s in policy_stages(release)
    ]
