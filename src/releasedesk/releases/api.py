"""/api/v1/releases: releases, change items, risk assessments, approvals and transitions.

Staff only (a customer contact signed in to the portal sees no release: 404). Writes need a
write-scoped token or a staff session; approvals are given as the token's (or session's) user.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import (
    actor_for,
    api_auth_with_contacts,
    require_write,
    staff_user,
)
from releasedesk.accounts.models import User
from releasedesk.catalog.models import Customer, Product
from releasedesk.catalog.selectors import customer_instance_ids
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied, ValidationFailed
from releasedesk.policies.models import Policy
from releasedesk.portal.auth import current_contact
from releasedesk.releases import plans, presenters, services
from releasedesk.releases.choices import HotfixReason, ReleaseKind, ReleaseStatus
from releasedesk.releases.models import Release
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.releases.selectors import audit_trail, current_assessment, releases_for

MAX_ID = 2_147_483_647
Slug = str


router = Router(tags=["releases"], auth=api_auth_with_contacts)

ReleaseId = param_functions.Path(..., ge=1, le=MAX_ID, description="The release id.")


# --- schemas ---------------------------------------------------------------------------------


class ChangeItemOut(Schema):
    id: int
    position: int
    kind: str
    title: str
    customer_note: str
    internal_note: str
    significant: bool
    reversible: bool


class FactorOut(Schema):
    source: str
    description: str
    level: str
    reason: str


class RequirementOut(Schema):
    role: str
    count: int


class StakeholdersOut(Schema):
    roles: list[str]
    users: list[int]


class AssessmentOut(Schema):
    version: int
    impact: int | None
    likelihood: int | None
    base_level: str | None
    level: str
    releasable: bool
    advice: str
    factors: list[FactorOut]
    demands: dict[str, Any]
    required_approvals: list[RequirementOut]
    policy: str
    policy_version: int
    assessor_id: int | None
    stakeholders: StakeholdersOut
    rationale: str
    created_at: dt.datetime


class ApprovalOut(Schema):
    id: int
    role: str
    user_id: int
    username: str
    decision: str
    comment: str
    generation: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_comment: str
    void_reason: str
    in_force: bool


class ReleaseSummaryOut(Schema):
    id: int
    version: str
    title: str
    target_date: dt.date
    kind: str
    hotfix_reason: str | None
    status: str
    policy: str
    products: list[str]
    level: str | None

    # The list endpoint hands over model instances (paginated queryset), the others dicts.
    @staticmethod
    def resolve_policy(obj: Any) -> str:
        return str(obj.policy.slug) if isinstance(obj, Release) else str(obj["policy"])

    @staticmethod
    def resolve_products(obj: Any) -> list[str]:
        return (
            [p.slug for p in obj.products.all()]
            if isinstance(obj, Release)
            else list(obj["products"])
        )

    @staticmethod
    def resolve_level(obj: Any) -> str | None:
        if isinstance(obj, Release):
            assessment = current_assessment(obj)
            return assessment.level if assessment else None
        level = obj.get("level")
        return str(level) if level is not None else None

    @staticmethod
    def resolve_hotfix_reason(obj: Any) -> str | None:
        value = obj.hotfix_reason if isinstance(obj, Release) else obj.get("hotfix_reason")
        return str(value) if value else None


class ReleaseOut(ReleaseSummaryOut):
    created_by_id: int | None
    policy_version: int | None
    approvals_generation: int
    notice: str
    started_at: dt.datetime | None
    changes: list[ChangeItemOut]
    assessment: AssessmentOut | None
    assessments: list[AssessmentOut]
    approvals: list[ApprovalOut]
    missing_approvals: list[RequirementOut]
    allowed_transitions: list[str]


class EditOut(Schema):
    release: ReleaseOut
    notice: str = Field(
        description="Non-empty when the edit voided approvals: what happened and what to do."
    )


class AuditEventOut(Schema):
    seq: int
    at: dt.datetime
    action: str
    actor_kind: str
    actor_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


ProductSlug = Field(..., min_length=1, max_length=64)


class ReleaseCreateIn(Schema):
    policy: str = Field(
        ..., min_length=1, max_length=64, description="The policy slug, e.g. school-saas."
    )
    products: list[str] = Field(..., min_length=1, max_length=50, description="Product slugs.")
    version: str = Field(..., min_length=1, max_length=64)
    title: str = Field("", max_length=200)
    target_date: dt.date
    kind: Literal["regular", "hotfix"] = "regular"
    hotfix_reason: Literal["performance", "functional", "security", "operational"] | None = None
    changes: list[ChangeItemData] = Field([], max_length=500)


class ReleasePatchIn(Schema):
    version: str | None = Field(None, min_length=1, max_length=64)
    title: str | None = Field(None, max_length=200)
    target_date: dt.date | None = None
    products: list[str] | None = Field(None, min_length=1, max_length=50)
    kind: Literal["regular", "hotfix"] | None = None
    hotfix_reason: Literal["performance", "functional", "security", "operational", ""] | None = None


class AssessIn(Schema):
    impact: int | None = Field(
        None, ge=1, le=5, description="1..5; omit for a policy without a risk matrix."
    )
    likelihood: int | None = Field(None, ge=1, le=5)
    stakeholder_roles: list[str] = Field([], max_length=50)
    stakeholder_users: list[int] = Field([], max_length=50)
    rationale: str = Field("", max_length=4000)


class ApproveIn(Schema):
    role: str = Field(..., min_length=1, max_length=64)
    comment: str = Field("", max_length=2000)


class RevokeIn(Schema):
    approval_id: int = Field(..., ge=1, le=MAX_ID)
    comment: str = Field(..., min_length=1, max_length=2000)


class TransitionIn(Schema):
    reason: str = Field("", max_length=2000)


class OverrideIn(Schema):
    reason: str = Field(
        ...,
        max_length=500,
        description="Why this hotfix may run in a blackout; empty withdraws it.",
    )


class PlanStepOut(Schema):
    key: str
    kind: str
    status: str
    due_at: dt.datetime
    local_due: str = Field(description="The local wall-clock time with its offset, in `zone`.")
    local_text: str
    zone: str
    label: str
    reason: str
    target: str
    instance_id: int | None
    customer_id: int | None
    audience: str
    ends_at: dt.datetime | None
    late_after: dt.datetime | None
    payload: dict[str, Any]


class PlanProblemOut(Schema):
    code: str
    message: str
    key: str | None


class PlanOut(Schema):
    release_id: int
    planned_at: dt.datetime = Field(description="The moment the dry run planned from (UTC).")
    proposed_date: dt.date | None
    total: int = Field(description="Steps matching the filter (the page holds at most `limit`).")
    steps: list[PlanStepOut]
    problems: list[PlanProblemOut]
    warnings: list[PlanProblemOut]


# --- helpers ---------------------------------------------------------------------------------


def _principal(request: HttpRequest) -> Any:
    return staff_user(request) or current_contact(request)


def _get(request: HttpRequest, release_id: int) -> Release:
    release: Release | None = (
        Release.objects.for_user(_principal(request))
        .select_related("policy", "policy_version", "created_by")
        .filter(pk=release_id)
        .first()
    )
    if release is None:
        raise NotFound(f"Release {release_id} not found.")
    return release


def _staff_writer(request: HttpRequest) -> User:
    require_write(request)
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only the vendor's staff can change releases.")
    return user


def _out(release_id: int) -> dict[str, Any]:
    release = Release.objects.select_related("policy", "policy_version").get(pk=release_id)
    return presenters.detail(release)


def _products(slugs: list[str]) -> list[Product]:
    found = {p.slug: p for p in Product.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise ValidationFailed(
            f"unknown product {unknown[0]!r}",
            fields={"products": f"unknown product {unknown[0]!r}"},
        )
    return [found[s] for s in slugs]


# --- endpoints -------------------------------------------------------------------------------


@router.get("", response={200: list[ReleaseSummaryOut], **ERROR_RESPONSES}, summary="List releases")
@paginate(BoundedPagination)
def list_releases(
    request: HttpRequest,
    status: str | None = param_functions.Query(
        None,
        max_length=16,
        description="Only releases in this status (draft, assessed, approved, …).",
    ),
    product: str | None = param_functions.Query(
        None, max_length=64, description="Only releases of this product (slug)."
    ),
) -> QuerySet[Release]:
    qs = releases_for(_principal(request))
    if status is not None and status not in ReleaseStatus.values:
        raise ValidationFailed(
            f"unknown status {status!r} (allowed: {', '.join(ReleaseStatus.values)})",
            fields={"status": "unknown status"},
        )
    if status:
        qs = qs.filter(status=status)
    if product:
        qs = qs.filter(products__slug=product)
    return qs.order_by("-target_date", "-id")


@router.post("", response={201: ReleaseOut, **ERROR_RESPONSES}, summary="Create a release")
def create_release(request: HttpRequest, payload: ReleaseCreateIn) -> Status[Any]:
    user = _staff_writer(request)
    policy = Policy.objects.filter(slug=payload.policy).first()
    if policy is None:
        raise ValidationFailed(
            f"unknown policy {payload.policy!r}", fields={"policy": "unknown policy"}
        )
    release = services.create_release(
        actor=actor_for(request),
        created_by=user,
        policy=policy,
        products=_products(payload.products),
        version=payload.version,
        title=payload.title,
        target_date=payload.target_date,
        kind=payload.kind,
        hotfix_reason=payload.hotfix_reason,
        changes=payload.changes,
    )
    return Status(201, _out(release.pk))


@router.get(
    "/{release_id}",
    response={200: ReleaseOut, **ERROR_RESPONSES},
    summary="A release with changes, risk and approvals",
)
def get_release(request: HttpRequest, release_id: int = ReleaseId) -> dict[str, Any]:
    return presenters.detail(_get(request, release_id))


@router.patch(
    "/{release_id}",
    response={200: EditOut, **ERROR_RESPONSES},
    summary="Edit version, title, date, products or kind",
)
def patch_release(
    request: HttpRequest, payload: ReleasePatchIn, release_id: int = ReleaseId
) -> dict[str, Any]:
    release = _get(request, release_id)
    _staff_writer(request)
    outcome = services.edit_release(
        release=release,
        actor=actor_for(request),
        version=payload.version,
        title=payload.title,
        target_date=payload.target_date,
        products=_products(payload.products) if payload.products is not None else None,
        kind=payload.kind,
        hotfix_reason=payload.hotfix_reason,
    )
    return {"release": _out(release.pk), "notice": outcome.notice}


@router.post(
    "/{release_id}/changes", response={201: EditOut, **ERROR_RESPONSES}, summary="Add a change item"
)
def add_change(
    request: HttpRequest, payload: ChangeItemData, release_id: int = ReleaseId
) -> Status[Any]:
    release = _get(request, release_id)
    _staff_writer(request)
    outcome = services.add_change(release=release, actor=actor_for(request), data=payload)
    return Status(201, {"release": _out(release.pk), "notice": outcome.notice})


@router.put(
    "/{release_id}/changes/{change_id}",
    response={200: EditOut, **ERROR_RESPONSES},
    summary="Replace a change item",
)
def edit_change(
    request: HttpRequest,
    payload: ChangeItemData,
    release_id: int = ReleaseId,
    change_id: int = param_functions.Path(..., ge=1, le=MAX_ID),
) -> dict[str, Any]:
    release = _get(request, release_id)
    _staff_writer(request)
    outcome = services.edit_change(
        release=release, change_id=change_id, actor=actor_for(request), data=payload
    )
    return {"release": _out(release.pk), "notice": outcome.notice}


@router.delete(
    "/{release_id}/changes/{change_id}",
    response={200: EditOut, **ERROR_RESPONSES},
    summary="Remove a change item",
)
def remove_change(
    request: HttpRequest,
    release_id: int = ReleaseId,
    change_id: int = param_functions.Path(..., ge=1, le=MAX_ID),
) -> dict[str, Any]:
    release = _get(request, release_id)
    _staff_writer(request)
    outcome = services.remove_change(release=release, change_id=change_id, actor=actor_for(request))
    return {"release": _out(release.pk), "notice": outcome.notice}


@router.post(
    "/{release_id}/assess",
    response={201: AssessmentOut, **ERROR_RESPONSES},
    summary="Assess the risk (adds a version)",
)
def assess(request: HttpRequest, payload: AssessIn, release_id: int = ReleaseId) -> Status[Any]:
    release = _get(request, release_id)
    user = _staff_writer(request)
    assessment = services.assess_release(
        release=release,
        actor=actor_for(request),
        assessor=user,
        impact=payload.impact,
        likelihood=payload.likelihood,
        stakeholders=services.Stakeholders(
            roles=tuple(s[:64] for s in payload.stakeholder_roles),
            users=tuple(payload.stakeholder_users),
        ),
        rationale=payload.rationale,
    )
    return Status(201, presenters.assessment_data(assessment))


@router.post(
    "/{release_id}/approve",
    response={201: ApprovalOut, **ERROR_RESPONSES},
    summary="Approve as one of your roles",
)
def approve(request: HttpRequest, payload: ApproveIn, release_id: int = ReleaseId) -> Status[Any]:
    release = _get(request, release_id)
    user = _staff_writer(request)
    approval = services.approve_release(
        release=release,
        actor=actor_for(request),
        user=user,
        role=payload.role,
        comment=payload.comment,
    )
    generation = Release.objects.values_list("approvals_generation", flat=True).get(pk=release.pk)
    return Status(201, presenters.approval_data(approval, generation=generation))


@router.post(
    "/{release_id}/revoke",
    response={200: ApprovalOut, **ERROR_RESPONSES},
    summary="Revoke an approval (until the release starts)",
)
def revoke(request: HttpRequest, payload: RevokeIn, release_id: int = ReleaseId) -> dict[str, Any]:
    release = _get(request, release_id)
    user = _staff_writer(request)
    approval = services.revoke_approval(
        release=release,
        approval_id=payload.approval_id,
        actor=actor_for(request),
        user=user,
        comment=payload.comment,
    )
    return presenters.approval_data(approval, generation=release.approvals_generation)


@router.get(
    "/{release_id}/audit",
    response={200: list[AuditEventOut], **ERROR_RESPONSES},
    summary="The release's audit trail",
)
@paginate(BoundedPagination)
def release_audit(request: HttpRequest, release_id: int = ReleaseId) -> Any:
    return audit_trail(_get(request, release_id))


@router.get(
    "/{release_id}/plan",
    response={200: PlanOut, **ERROR_RESPONSES},
    summary="Dry run: every step with its UTC and local time and the reason",
    description=(
        "What the planner would do now, or for a proposed release date (`at=2027-04-08`) or "
        "moment (`at=2027-04-08T16:00+02:00`). Nothing is written. `customer` keeps the steps "
        "concerning one customer (theirs or on an instance they use)."
    ),
)
def release_plan(
    request: HttpRequest,
    release_id: int = ReleaseId,
    at: str | None = param_functions.Query(None, max_length=40),
    customer: int | None = param_functions.Query(None, ge=1, le=MAX_ID),
    kind: str | None = param_functions.Query(None, max_length=32),
    limit: int = param_functions.Query(200, ge=1, le=1000),
    offset: int = param_functions.Query(0, ge=0, le=10_000_000),
) -> dict[str, Any]:
    release = _get(request, release_id)
    run = plans.dry_run(release, at=plans.parse_at(at))
    instance_ids: set[int] = set()
    if customer is not None:
        if not Customer.objects.filter(pk=customer).exists():
            raise NotFound(f"Customer {customer} not found.")
        instance_ids = customer_instance_ids(customer)
    steps = plans.steps_for_customer(run.plan.steps, customer, instance_ids)
    if kind:
        steps = [s for s in steps if s.kind == kind]
    page = steps[offset : offset + limit]
    return {
        "release_id": release.pk,
        "planned_at": run.now,
        "proposed_date": run.proposed_date,
        "total": len(steps),
        "steps": [{**s.as_dict(), "local_text": s.local_text} for s in page],
        "problems": [p.as_dict() for p in run.plan.problems],
        "warnings": [w.as_dict() for w in run.plan.warnings],
    }


@router.post(
    "/{release_id}/blackout-override",
    response={200: ReleaseOut, **ERROR_RESPONSES},
    summary="Record why a hotfix may run inside a blackout or change freeze",
)
def blackout_override(
    request: HttpRequest, payload: OverrideIn, release_id: int = ReleaseId
) -> dict[str, Any]:
    release = _get(request, release_id)
    _staff_writer(request)
    services.override_blackout(release=release, actor=actor_for(request), reason=payload.reason)
    return _out(release.pk)


def _transition_endpoint(verb: str) -> None:
    service = services.TRANSITION_SERVICES[verb]

    def endpoint(
        request: HttpRequest, payload: TransitionIn, release_id: int = ReleaseId
    ) -> dict[str, Any]:
        release = _get(request, release_id)
        _staff_writer(request)
        if verb in ("start", "schedule"):
            service(release=release, actor=actor_for(request))
        else:
            service(release=release, actor=actor_for(request), reason=payload.reason)
        return _out(release.pk)

    endpoint.__name__ = f"{verb}_release"
    router.post(
        f"/{{release_id}}/{verb}",
        response={200: ReleaseOut, **ERROR_RESPONSES},
        summary=f"{verb.capitalize()} the release",
        operation_id=f"releases_{verb}",
    )(endpoint)


for _verb in services.TRANSITION_SERVICES:
    _transition_endpoint(_verb)

__all__ = ["HotfixReason", "ReleaseKind", "ReleaseStatus", "router"]
