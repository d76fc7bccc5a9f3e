"""Keep a release's stored timeline equal to its plan (DESIGN.md §1: one planner).

Called in the transaction of every change that can move a step: the release's approvals
completing or being revoked, its date or content changing, its policy being re-applied, a
customer's zone or contract changing, a consent being recorded. Only a release whose
approvals are complete has a timeline; otherwise its pending steps are superseded (steps that
already ran stay as they are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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

# Called in the same transaction after a release's plan was stored, with the difference
# (e.g. the tasks app keeps its Task rows equal to the stored `task` steps).
PLAN_STORED_HOOKS: list[Callable[[Release, PlanDiff, Actor], None]] = []


def replan_release(release: Release, *, actor: Actor) -> PlanDiff:
    """Plan the release from the database as it is now and store the difference."""
    now = clock.now()
    with transaction.atomic():
        release = Release.objects.select_related("policy", "policy_version").get(pk=release.pk)
        steps = plan_for_release(release, now=now).steps if release.status in LIVE else ()
        diff = persist_plan(
            release_id=release.pk,
            steps=steps,
            now=now,
            actor=actor,
            generation=release.approvals_generation,
        )
        for hook in list(PLAN_STORED_HOOKS):
            hook(release, diff, actor)
        return diff


def replan_releases(releases: list[Release] | None = None, *, actor: Actor) -> dict[int, PlanDiff]:
    """Replan every live release (or the given ones), e.g. after a catalogue change."""
    todo = releases if releases is not None else list(Release.objects.filter(status__in=LIVE))
    return {r.pk: replan_release(r, actor=actor) for r in todo}


# --- changes outside the release: the catalogue, the policy --------------------------------

ALL = 0  # "every live release" in the deferred set
_deferred: ContextVar[set[int] | None] = ContextVar("releasedesk_replans_deferred", default=None)


def something_changed(*, actor: Actor, policy_id: int | None = None) -> None:
    """A change that can move steps of live releases (all of them, or one policy's).

    Inside `replans_deferred()` (bulk imports) the replans run once, at its end.
    """
    pending = _deferred.get()
    if pending is not None:
        pending.add(policy_id or ALL)
        return
    _replan_live(actor=actor, policy_ids={policy_id or ALL})


def _replan_live(*, actor: Actor, policy_ids: set[int]) -> None:
    live = Release.objects.filter(status__in=LIVE)
    if ALL not in policy_ids:
        live = live.filter(policy_id__in=policy_ids)
    for release in live:
        replan_release(release, actor=actor)


@contextmanager
def replans_deferred(*, actor: Actor) -> Iterator[None]:
    """Collect replans requested inside the block and run each once when it ends."""
    token = _deferred.set(set())
    try:
        yield
        pending = _deferred.get() or set()
    finally:
        _deferred.reset(token)
    if pending:
        _replan_live(actor=actor, policy_ids=pending)


# --- audience health: staff hear about customers nobody can tell, when the plan is made -----

AUDIENCE_ALERT = "outbox.no_reachable_admin"


def check_audience(release: Release, diff: PlanDiff, actor: Actor) -> None:
    """Alert staff about affected customers with no reachable admin (one open alert each),
    when a live release's plan is made or moves — long before a notice is due."""
    from releasedesk.core.alerts import raise_alert
    from releasedesk.core.queue_models import StaffAlert
    from releasedesk.outbox.audiences import audience_health

    if release.status not in LIVE or not diff.changed:
        return
    for problem in audience_health(release=release):
        customer = problem.customer
        already = StaffAlert.objects.filter(
            kind=AUDIENCE_ALERT,
            object_type=customer._meta.label_lower,
            object_id=str(customer.pk),
            acknowledged_at__isnull=True,
        ).exists()
        if not already:
            raise_alert(
                kind=AUDIENCE_ALERT,
                title=f"Release {release.version}: {problem.message}",
                detail="Add or fix an admin contact before the notice is due.",
                obj=customer,
            )


PLAN_STORED_HOOKS.append(check_audience)


# --- carry-over: a newer release takes instances over from older ones (DESIGN.md §4b) --------

_following: ContextVar[frozenset[int]] = ContextVar(
    "releasedesk_older_following", default=frozenset()
)


def older_releases_follow(release: Release, diff: PlanDiff, actor: Actor) -> None:
    """When a release's plan changes, older live releases of the same products that plan
    upgrades on the same instances are re-planned: where the newer release now upgrades an
    instance at or before their slot, their upgrade is superseded (and comes back when the
    newer release moves away or is cancelled). An in-progress release left with nothing to
    do is completed."""
    from releasedesk.core.versions import version_key
    from releasedesk.timeline.execution import maybe_complete_release
    from releasedesk.timeline.models import ScheduledStep

    if not diff.changed or release.pk in _following.get():
        return
    own = version_key(release.version)
    products = list(release.products.values_list("pk", flat=True))
    candidates = [
        other
        for other in Release.objects.filter(status__in=LIVE, products__in=products)
        .exclude(pk=release.pk)
        .distinct()
        if version_key(other.version) < own
    ]
    if not candidates:
        return
    instances = ScheduledStep.objects.filter(
        release=release, kind="upgrade", instance__isnull=False
    ).values("instance_id")
    touched = set(
        ScheduledStep.objects.filter(
            release__in=candidates, kind="upgrade", instance_id__in=instances
        )
        .values_list("release_id", flat=True)
        .distinct()
    )
    token = _following.set(_following.get() | {release.pk})
    try:
        # newest first, so each older release sees the final plans of the newer ones
        for other in sorted(candidates, key=lambda r: version_key(r.version), reverse=True):
            if other.pk not in touched:
                continue
            replan_release(other, actor=actor)
            other.refresh_from_db(fields=["status"])
            maybe_complete_release(other, now=clock.now())
    finally:
        _following.reset(token)


PLAN_STORED_HOOKS.append(older_releases_follow)
