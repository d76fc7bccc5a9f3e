"""Plain-data views of a release, shared by the API, `release show --json` and the pages."""

from __future__ import annotations

from typing import Any

from releasedesk.audit.models import AuditEvent
from releasedesk.releases.lifecycle import allowed_targets
from releasedesk.releases.models import Approval, Release, RiskAssessment
from releasedesk.releases.selectors import active_approvals, current_assessment, missing_approvals


def summary(release: Release) -> dict[str, Any]:
    assessment = current_assessment(release)
    return {
        "id": release.pk,
        "version": release.version,
        "title": release.title,
        "target_date": release.target_date,
        "kind": release.kind,
        "hotfix_reason": release.hotfix_reason or None,
        "status": release.status,
        "policy": release.policy.slug,
        "products": [p.slug for p in release.products.all()],
        "level": assessment.level if assessment else None,
    }


def assessment_data(assessment: RiskAssessment) -> dict[str, Any]:
    return {
        "version": assessment.version,
        "impact": assessment.impact,
        "likelihood": assessment.likelihood,
        "base_level": assessment.base_level or None,
        "level": assessment.level,
        "releasable": assessment.releasable,
        "advice": assessment.advice,
        "factors": assessment.factors,
        "demands": assessment.demands,
        "required_approvals": assessment.required_approvals,
        "policy": assessment.policy_version.policy.slug,
        "policy_version": assessment.policy_version.number,
        "assessor_id": assessment.assessor_id,
        "stakeholders": {
            "roles": list(assessment.stakeholders.get("roles", [])),
            "users": list(assessment.stakeholders.get("users", [])),
        },
        "rationale": assessment.rationale,
        "created_at": assessment.created_at,
    }


def approval_data(approval: Approval, *, generation: int) -> dict[str, Any]:
    return {
        "id": approval.pk,
        "role": approval.role,
        "user_id": approval.user_id,
        "username": approval.user.username,
        "decision": approval.decision,
        "comment": approval.comment,
        "generation": approval.generation,
        "created_at": approval.created_at,
        "revoked_at": approval.revoked_at,
        "revoke_comment": approval.revoke_comment,
        "void_reason": approval.void_reason,
        "in_force": approval.decision == "approved"
        and not approval.void_reason
        and approval.generation == generation,
    }


def detail(release: Release) -> dict[str, Any]:
    assessments = list(
        release.assessments.select_related("policy_version__policy").order_by("-version")
    )
    approvals = list(release.approvals.select_related("user").order_by("created_at", "id"))
    in_force = [
        a
        for a in approvals
        if a.decision == "approved"
        and not a.void_reason
        and a.generation == release.approvals_generation
    ]
    release.assessment_list = assessments  # type: ignore[attr-defined]
    missing = missing_approvals(release, approvals=in_force)
    return summary(release) | {
        "created_by_id": release.created_by_id,
        "policy_version": release.policy_version.number if release.policy_version else None,
        "approvals_generation": release.approvals_generation,
        "notice": release.notice,
        "started_at": release.started_at,
        "changes": [
            {"id": c.pk, "position": c.position, **c.as_dict()} for c in release.changes.all()
        ],
        "assessment": assessment_data(assessments[0]) if assessments else None,
        "assessments": [assessment_data(a) for a in assessments],
        "approvals": [approval_data(a, generation=release.approvals_generation) for a in approvals],
        "missing_approvals": [{"role": r.role, "count": r.count} for r in missing],
        "allowed_transitions": [str(s) for s in allowed_targets(release.status)],
    }


def audit_data(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "action": event.action,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "before": event.before,
        "after": event.after,
    }


__all__ = [
    "active_approvals",
    "approval_data",
    "assessment_data",
    "audit_data",
    "detail",
    "summary",
]
