"""Read-side helpers for releases: current assessment, active approvals, what is missing."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from releasedesk.audit.models import AuditEvent
from releasedesk.policies.schema import ApprovalRequirement
from releasedesk.releases.choices import ApprovalDecision
from releasedesk.releases.models import Approval, Release, RiskAssessment


def release_scope(release: Release | int) -> str:
    """The audit scope (and chain) of one release."""
    pk = release if isinstance(release, int) else release.pk
    return f"release:{pk}"


def releases_for(principal: Any) -> QuerySet[Release]:
    """Releases `principal` may see, with what lists and boards show, in a fixed number of queries."""
    return with_list_data(Release.objects.for_user(principal))


def with_list_data(qs: QuerySet[Release]) -> QuerySet[Release]:
    """Load what lists show (policy, products, latest assessment) in a fixed number of queries."""
    return qs.select_related("policy", "policy_version", "created_by").prefetch_related(
        "products",
        Prefetch(
            "assessments",
            queryset=RiskAssessment.objects.order_by("-version"),
            to_attr="assessment_list",
        ),
    )


def current_assessment(release: Release) -> RiskAssessment | None:
    cached: list[RiskAssessment] | None = getattr(release, "assessment_list", None)
    if cached is not None:
        return cached[0] if cached else None
    return release.assessments.order_by("-version").first()


def active_approvals(release: Release) -> list[Approval]:
    """Approvals that count: given, not revoked, not voided, of the current generation."""
    return list(
        release.approvals.filter(
            decision=ApprovalDecision.APPROVED,
            void_reason="",
            generation=release.approvals_generation,
        )
        .select_related("user")
        .order_by("created_at", "id")
    )


def requirements_of(assessment: RiskAssessment | None) -> list[ApprovalRequirement]:
    if assessment is None:
        return []
    return [
        ApprovalRequirement(role=str(r["role"]), count=int(r.get("count", 1)))
        for r in assessment.required_approvals
    ]


def missing_approvals(
    release: Release, *, approvals: list[Approval] | None = None
) -> list[ApprovalRequirement]:
    """What the current assessment demands and the current generation's approvals lack.

    Each requirement carries the number of approvals still missing for its role. A release
    that has not been assessed misses everything (an empty list then means nothing *known*).
    """
    assessment = current_assessment(release)
    given = active_approvals(release) if approvals is None else approvals
    missing: list[ApprovalRequirement] = []
    for req in requirements_of(assessment):
        have = sum(1 for a in given if a.role == req.role)
        if have < req.count:
            missing.append(ApprovalRequirement(role=req.role, count=req.count - have))
    return missing


def describe_missing(missing: list[ApprovalRequirement]) -> str:
    """'cto' / 'product_manager, cto' / 'cto (2 more)'."""
    return ", ".join(r.role if r.count == 1 else f"{r.role} ({r.count} more)" for r in missing)


def audit_trail(release: Release) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(scope=release_scope(release)).order_by("seq")
