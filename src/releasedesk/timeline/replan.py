"""Keep a release's stored timeline equal to its plan (DESIGN.md §1: one planner).

Called in the transaction of every change that can move a step: the release's approvals
completing or being revoked, its date or content changing, its policy being re-applied, a
customer's zone or contract changing, a consent being recorded. Only a release whose
approvals are complete has a timeline; otherwise its pending steps are superseded (steps that
already ran stay as they are).
"""

from __future__ import annotations

from django.db import transaction

from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.planning.snapshot import plan_for_release
from releasedesk.releases.choices import ReleaseStatus
from releasedesk.releases.models import Release
from releasedesk.timeline.persist import PlanDiff, persist_plan

# Releases whose plan is carried out by the worker.
LIVE = frozenset(
    {
        ReleaseStatus.APPROVED,
        ReleaseStatus.SCHEDULED,
        ReleaseStatus.IN_PROGRESS,
        ReleaseStatus.PAUSED,
    }
)


def replan_release(release: Release, *, actor: Actor) -> PlanDiff:
    """Plan the release from the database as it is now and store the difference."""
    now = clock.now()
    with transaction.atomic():
        release = Release.objects.select_related("policy", "policy_version").get(pk=release.pk)
        steps = plan_for_release(release, now=now).steps if release.status in LIVE else ()
        return persist_plan(
            release_id=release.pk,
            steps=steps,
            now=now,
            actor=actor,
            generation=release.approvals_generation,
        )


def replan_releases(releases: list[Release] | None = None, *, actor: Actor) -> dict[int, PlanDiff]:
    """Replan every live release (or the given ones), e.g. after a catalogue change."""
    todo = releases if releases is not None else list(Release.objects.filter(status__in=LIVE))
    return {r.pk: replan_release(r, actor=actor) for r in todo}
