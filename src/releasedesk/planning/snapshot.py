"""Build the planner's inputs from the database (the only Django-aware planning module).

`plan_for_release(release, at=None, now=…)` loads the release, the policy version it is
planned under, the catalogue of its products and the facts recorded so far, and calls the
pure `planner.plan`. `at` answers "what if we release on …": the release's target date is
replaced for this plan only.

Facts loaded today: approvals (`releases.Approval`, the time the last required approval
arrived), stage passes (`timeline.StagePass`), steps already carried out
(`timeline.ScheduledStep` in a settled state: frozen), notices delivered (done notice
messages' SMTP 250 times, `consent.facts`), consents and opt-out streaks (`consent.facts`),
other releases' pending upgrade slots on the same instances (for
conflicts; a newer release's upgrades also for carry-over), staff change freezes and the ICS calendars the policy names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q
from pydantic import ValidationError

from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.catalog.schemas import ContractOverrides, WindowOverride
from releasedesk.core.versions import version_key
from releasedesk.planning.planner import plan
from releasedesk.planning.types import (
    FROZEN_STATES,
    CatalogueSnapshot,
    ChangeSnapshot,
    ContactSnapshot,
    ContractTerms,
    CustomerSnapshot,
    Facts,
    FreezeFact,
    InstanceSnapshot,
    OwnWindow,
    Plan,
    ProductSnapshot,
    ReleaseSnapshot,
    SlotFact,
    StepFact,
    SubscriptionSnapshot,
)
from releasedesk.policies.models import PolicyVersion
from releasedesk.policies.schema import LevelDemands, PolicyDocument
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import (
    active_approvals,
    current_assessment,
    requirements_of,
)

__all__ = [
    "catalogue_snapshot",
    "facts_for",
    "load_calendars",
    "plan_for_release",
    "policy_for",
    "release_snapshot",
]

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples" / "policies"


def policy_version_for(release: Release) -> PolicyVersion | None:
    return release.policy_version or release.policy.latest_version()


def policy_for(release: Release) -> PolicyDocument:
    version = policy_version_for(release)
    if version is None:
        raise ValueError(f"release {release.version}: its policy has no applied version")
    return version.document_model()


def release_snapshot(release: Release, *, at: dt.date | None = None) -> ReleaseSnapshot:
    assessment = current_assessment(release)
    demands = (
        LevelDemands.model_validate(assessment.demands)
        if assessment is not None and assessment.demands
        else None
    )
    changes = tuple(
        ChangeSnapshot(c.kind, c.significant, c.reversible, c.title)
        for c in release.changes.order_by("position", "id")
    )
    return ReleaseSnapshot(
        id=release.pk,
        version=release.version,
        target_date=at or release.target_date,
        product_ids=tuple(sorted(release.products.values_list("pk", flat=True))),
        kind=release.kind,
        hotfix_reason=release.hotfix_reason,
        level=assessment.level if assessment is not None else None,
        demands=demands,
        changes=changes,
        blackout_override_reason=getattr(release, "blackout_override_reason", "") or "",
        title=release.title,
    )


def _own_window(data: Any) -> OwnWindow | None:
    if not data:
        return None
    try:
        window = WindowOverride.model_validate(data)
    except ValidationError:
        return None
    return OwnWindow(window.weekday, window.from_, window.to, window.zone)


def _contract(data: Any) -> ContractTerms:
    if not data:
        return ContractTerms()
    try:
        terms = ContractOverrides.model_validate(data)
    except ValidationError:
        return ContractTerms()
    return ContractTerms(
        notice_lead=(
            dt.timedelta(hours=terms.notice_lead_hours)
            if terms.notice_lead_hours is not None
            else None
        ),
        window=(
            OwnWindow(terms.window.weekday, terms.window.from_, terms.window.to, terms.window.zone)
            if terms.window is not None
            else None
        ),
        max_consecutive_opt_outs=terms.max_consecutive_opt_outs,
        docs_responsibility=(
            str(terms.docs_responsibility) if terms.docs_responsibility is not None else None
        ),
    )


def catalogue_snapshot(product_ids: tuple[int, ...]) -> CatalogueSnapshot:
    """The instances of these products, every customer and reachable-or-not contact (the
    recipient rules need resellers and OEM partners too), and the subscriptions."""
    products = tuple(
        ProductSnapshot(p["pk"], p["slug"], p["name"])
        for p in Product.objects.filter(pk__in=product_ids).values("pk", "slug", "name")
    )
    instances = tuple(
        InstanceSnapshot(
            id=row["pk"],
            slug=row["slug"],
            kind=row["kind"],
            product_id=row["product_id"],
            owner_id=row["owner_id"],
            zone=row["timezone"] or "",
            ring=row["ring"],
            window=_own_window(row["window_override"]),
            name=row["name"],
        )
        for row in Instance.objects.filter(product_id__in=product_ids)
        .order_by("pk")
        .values(
            "pk",
            "slug",
            "kind",
            "product_id",
            "owner_id",
            "timezone",
            "ring",
            "window_override",
            "name",
        )
    )
    customers = tuple(
        CustomerSnapshot(
            id=row["pk"],
            name=row["name"],
            kind=row["kind"],
            zone=row["timezone"] or "UTC",
            locale=row["locale"] or "en",
            parent_id=row["parent_id"],
            contract=_contract(row["contract_overrides"]),
            slug=row["slug"],
        )
        for row in Customer.objects.order_by("pk").values(
            "pk", "name", "kind", "timezone", "locale", "parent_id", "contract_overrides", "slug"
        )
    )
    contacts = tuple(
        ContactSnapshot(
            id=row["pk"],
            customer_id=row["customer_id"],
            roles=tuple(row["roles"] or ()),
            locale=row["locale"] or "",
            zone=row["timezone"] or "",
            reachable=bool(row["reachable"]),
        )
        for row in Contact.objects.filter(erased_at__isnull=True)
        .order_by("pk")
        .values("pk", "customer_id", "roles", "locale", "timezone", "reachable")
    )
    subscriptions = tuple(
        SubscriptionSnapshot(row["customer_id"], row["product_id"], row["instance_id"])
        for row in Subscription.objects.filter(product_id__in=product_ids)
        .order_by("pk")
        .values("customer_id", "product_id", "instance_id")
    )
    return CatalogueSnapshot(instances, customers, contacts, subscriptions, products)


def approvals_complete_at(release: Release) -> dt.datetime | None:
    """When the last required approval of the current generation arrived, or None while
    any is missing (or the release is not assessed)."""
    requirements = requirements_of(current_assessment(release))
    if not requirements:
        return None
    approvals = active_approvals(release)
    latest: dt.datetime | None = None
    for req in requirements:
        times = sorted(a.created_at for a in approvals if a.role == req.role)
        if len(times) < req.count:
            return None
        reached = times[req.count - 1]
        latest = reached if latest is None or reached > latest else latest
    return latest


def calendars_dirs(version: PolicyVersion | None) -> list[Path]:
    """Where `ics:` paths are looked up: RELEASEDESK_CALENDARS_DIR (setting or environment),
    the directory of the policy file if it was applied from a path, then the examples."""
    dirs: list[Path] = []
    configured = getattr(settings, "RELEASEDESK_CALENDARS_DIR", None) or os.environ.get(
        "RELEASEDESK_CALENDARS_DIR"
    )
    if configured:
        dirs.append(Path(configured))
    if version is not None and version.filename:
        parent = Path(version.filename).parent
        if parent.is_absolute():
            dirs.append(parent)
    dirs.append(EXAMPLES_DIR)
    return dirs


def load_calendars(doc: PolicyDocument, version: PolicyVersion | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for spec in doc.blackouts:
        if spec.ics is None or spec.ics in found:
            continue
        for base in calendars_dirs(version):
            path = (base / spec.ics).resolve()
            if base.resolve() in path.parents and path.is_file():
                found[spec.ics] = path.read_text(encoding="utf-8")
                break
    return found


def facts_for(
    release: Release, doc: PolicyDocument, version: PolicyVersion | None, instance_ids: set[int]
) -> Facts:
    from releasedesk.timeline.models import ScheduledStep, StagePass

    stage_passes = {
        row["stage"]: row["passed_at"]
        for row in StagePass.objects.filter(release=release).values("stage", "passed_at")
    }
    steps: dict[str, StepFact] = {}
    delivered: dict[str, dt.datetime] = {}
    for row in ScheduledStep.objects.filter(release=release, state__in=FROZEN_STATES).values():
        steps[row["key"]] = StepFact(
            key=row["key"],
            state=row["state"],
            due_at=row["due_at"],
            finished_at=row["finished_at"],
            kind=row["kind"],
            label=row["label"],
            zone=row["zone"],
            target=row["target"],
            instance_id=row["instance_id"],
            customer_id=row["customer_id"],
            audience=row["audience"],
            reason=row["reason"],
            ends_at=row["ends_at"],
            payload=row["payload"] or {},
        )
    other_slots = _other_slots(release, instance_ids)
    # Consents and notice deliveries (outbox SMTP 250 times) come from the consent app.
    from releasedesk.consent.facts import consent_facts, notices_delivered, opt_out_streaks

    delivered.update(notices_delivered(release))
    return Facts(
        approvals_complete_at=approvals_complete_at(release),
        stage_passes=stage_passes,
        steps=steps,
        consents=consent_facts(release),
        opt_out_streaks=opt_out_streaks(release, instance_ids),
        notices_delivered=delivered,
        other_slots=other_slots,
        calendars=load_calendars(doc, version),
        freezes=_freezes(release),
        release_completed_at=release.finished_at if release.status == "completed" else None,
    )


def _other_slots(release: Release, instance_ids: set[int]) -> tuple[SlotFact, ...]:
    """Other releases' upgrades on this release's instances: pending or running ones (for
    conflicts), and those of newer releases of the same products that take an instance over
    (`supersedes`, DESIGN.md §4b carry-over) — pending, running or already done, but not
    while they still wait for the customer's acceptance."""
    from releasedesk.timeline.models import ScheduledStep

    own = version_key(release.version)
    products = list(release.products.values_list("pk", flat=True))
    newer = {
        pk
        for pk, version in Release.objects.filter(products__in=products)
        .exclude(pk=release.pk)
        .values_list("pk", "version")
        .distinct()
        if version_key(version) > own
    }
    rows = (
        ScheduledStep.objects.filter(kind="upgrade", instance__isnull=False)
        .filter(
            Q(state__in=("pending", "running"))
            | Q(release_id__in=newer, state__in=("pending", "running", "done"))
        )
        .exclude(release=release)
        .values("release_id", "release__version", "instance_id", "due_at", "ends_at", "state")
    )
    found: list[SlotFact] = []
    for row in rows:
        if row["instance_id"] not in instance_ids:
            continue
        takes_over = row["release_id"] in newer
        if row["state"] == "done" and not takes_over:
            continue
        found.append(
            SlotFact(
                row["release_id"],
                row["release__version"],
                row["instance_id"],
                row["due_at"],
                row["ends_at"],
                supersedes=takes_over,
            )
        )
    if not any(slot.supersedes for slot in found):
        return tuple(found)
    # A newer release's upgrade that still needs the customer's acceptance does not take
    # the instance over (yet): its payload lists `consent:<date>` among its requirements.
    waiting = {
        (row["release_id"], row["instance_id"])
        for row in ScheduledStep.objects.filter(
            kind="upgrade", release_id__in=newer, state="pending"
        ).values("release_id", "instance_id", "payload")
        if any(str(r).startswith("consent:") for r in (row["payload"] or {}).get("requires", ()))
    }
    return tuple(
        dataclasses.replace(slot, supersedes=False)
        if slot.supersedes and (slot.release_id, slot.instance_id) in waiting
        else slot
        for slot in found
    )


def _freezes(release: Release) -> tuple[FreezeFact, ...]:
    """Staff change freezes over the planning horizon that cover the release's products."""
    from releasedesk.calendars.selectors import freeze_facts

    start = dt.datetime.combine(release.target_date, dt.time(), tzinfo=dt.UTC)
    return freeze_facts(
        start - dt.timedelta(days=31),
        start + dt.timedelta(days=400),
        products=list(release.products.values_list("pk", flat=True)),
    )


def plan_for_release(release: Release, *, at: dt.date | None = None, now: dt.datetime) -> Plan:
    """The plan of `release` as the database says now (`at`: what if it released then)."""
    version = policy_version_for(release)
    doc = policy_for(release)
    snapshot = release_snapshot(release, at=at)
    catalogue = catalogue_snapshot(snapshot.product_ids)
    facts = facts_for(release, doc, version, {i.id for i in catalogue.instances})
    return plan(snapshot, doc, catalogue, facts, now)
