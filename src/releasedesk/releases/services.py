"""Every state change of a release: one transaction, one audit event (scope `release:<id>`).

Views, the API, the CLI and the demo call these functions; nothing else writes release rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from releasedesk.accounts.models import Role, User
from releasedesk.audit.services import record
from releasedesk.catalog.models import Product
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from releasedesk.policies.models import Policy, PolicyVersion
from releasedesk.policies.risk import ChangeFacts, assess, required_approvals
from releasedesk.releases.choices import (
    APPROVABLE,
    ASSESSABLE,
    EDITABLE,
    REVOCABLE,
    TERMINAL,
    ApprovalDecision,
    HotfixReason,
    ReleaseKind,
    ReleaseStatus,
)
from releasedesk.releases.lifecycle import allowed_targets, ensure_transition
from releasedesk.releases.models import Approval, ChangeItem, Release, RiskAssessment
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.releases.selectors import (
    active_approvals,
    current_assessment,
    describe_missing,
    missing_approvals,
    release_scope,
)

VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
MAX_TITLE = 200
MAX_COMMENT = 2000
MAX_RATIONALE = 4000
MAX_CHANGES = 500
S = ReleaseStatus


def staff_actor(user: User) -> Actor:
    return Actor(kind="staff", id=user.pk)


@dataclass(frozen=True)
class EditOutcome:
    """The result of an edit: the release and, when approvals were voided, the notice to show."""

    release: Release
    notice: str = ""
    change: ChangeItem | None = None


@dataclass(frozen=True)
class Stakeholders:
    roles: tuple[str, ...] = ()
    users: tuple[int, ...] = ()

    def as_json(self) -> dict[str, list[Any]]:
        return {"roles": list(self.roles), "users": list(self.users)}


# --- helpers -------------------------------------------------------------------------------


def _lock(release: Release | int) -> Release:
    """The release re-read inside the transaction (row-locked where the database can)."""
    pk = release if isinstance(release, int) else release.pk
    try:
        found: Release = (
            Release.objects.select_for_update(of=("self",))
            .select_related("policy", "created_by")
            .get(pk=pk)
        )
    except Release.DoesNotExist as exc:
        raise NotFound(f"Release {pk} does not exist") from exc
    return found


def _snapshot(release: Release) -> dict[str, Any]:
    return {
        "version": release.version,
        "title": release.title,
        "target_date": release.target_date.isoformat() if release.target_date else None,
        "kind": release.kind,
        "hotfix_reason": release.hotfix_reason,
        "status": release.status,
        "products": sorted(p.slug for p in release.products.all()),
        "policy": release.policy.slug,
        "approvals_generation": release.approvals_generation,
    }


def _audit(
    release: Release,
    *,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record(
        actor=actor,
        action=action,
        obj=release,
        before=before,
        after=after,
        scope=release_scope(release),
    )


def _move(release: Release, target: str, **extra: Any) -> None:
    """Compare-and-set the status: refused when illegal, a Conflict when someone else won the race."""
    current = release.status
    ensure_transition(current, target)
    updated = Release.objects.filter(pk=release.pk, status=current).update(
        status=target, updated_at=clock.now(), **extra
    )
    if updated != 1:
        raise Conflict(
            f"Release {release.version} changed meanwhile (it is no longer {current!r}); reload and try again"
        )
    release.status = target
    for key, value in extra.items():
        setattr(release, key, value)


def _validate_version(version: str) -> str:
    version = (version or "").strip()
    if not VERSION_RE.match(version):
        raise ValidationFailed(
            f"version {version!r} is not valid: use letters, digits, '.', '-', '+' or '_' (at most 64 characters, e.g. 5.4.0)",
            fields={"version": "letters, digits, . - + _ (max 64)"},
        )
    return version


def _validate_title(title: str) -> str:
    title = (title or "").strip()
    if len(title) > MAX_TITLE:
        raise ValidationFailed(
            f"title is longer than {MAX_TITLE} characters",
            fields={"title": f"at most {MAX_TITLE} characters"},
        )
    return title


def _validate_kind(kind: str, hotfix_reason: str | None) -> tuple[str, str]:
    if kind not in ReleaseKind.values:
        raise ValidationFailed(
            f"kind must be one of {', '.join(ReleaseKind.values)}, not {kind!r}",
            fields={"kind": f"allowed: {', '.join(ReleaseKind.values)}"},
        )
    reason = (hotfix_reason or "").strip()
    if kind == ReleaseKind.HOTFIX:
        if reason not in HotfixReason.values:
            raise ValidationFailed(
                f"a hotfix needs a reason ({', '.join(HotfixReason.values)}), not {reason or 'none'!r}",
                fields={
                    "hotfix_reason": f"required for a hotfix; allowed: {', '.join(HotfixReason.values)}"
                },
            )
    elif reason:
        raise ValidationFailed(
            "only a hotfix has a hotfix reason", fields={"hotfix_reason": "only for kind 'hotfix'"}
        )
    return kind, reason


def _validate_products(products: Sequence[Product]) -> list[Product]:
    unique = list({p.pk: p for p in products}.values())
    if not unique:
        raise ValidationFailed(
            "a release needs at least one product", fields={"products": "at least one product"}
        )
    return unique


def _ensure_editable(release: Release) -> None:
    if release.status not in EDITABLE:
        allowed = ", ".join(s for s in S.values if s in EDITABLE)
        raise Conflict(
            f"Release {release.version} is {release.status}: it can only be edited while {allowed}",
            fields={"status": release.status},
        )


def _void_after_change(release: Release, *, reason: str, needs_reassessment: bool) -> str:
    """Void the current approvals after an edit and step the status back; returns the notice."""
    voided = active_approvals(release)
    target: str | None = None
    if needs_reassessment and release.status in (S.ASSESSED, S.APPROVED, S.SCHEDULED, S.POSTPONED):
        target = S.DRAFT
    elif release.status in (S.APPROVED, S.SCHEDULED):
        target = S.ASSESSED
    if not voided and target is None:
        return ""
    roles = sorted({a.role for a in voided})
    if voided:
        Approval.objects.filter(pk__in=[a.pk for a in voided]).update(void_reason=reason[:300])
        notice = f"Approvals voided because {reason}"
        notice += f" ({', '.join(roles)} must approve again)." if roles else "."
    else:
        notice = f"Status reset because {reason}."
    if target == S.DRAFT:
        notice += " Re-assess the risk before asking for approvals."
    extra: dict[str, Any] = {
        "approvals_generation": release.approvals_generation + 1,
        "notice": notice[:500],
    }
    if target is not None:
        _move(release, target, **extra)
    else:
        Release.objects.filter(pk=release.pk).update(**extra)
        for key, value in extra.items():
            setattr(release, key, value)
    _replan(release, SYSTEM)
    return notice


def _replan(release: Release, actor: Actor) -> None:
    """Keep the stored timeline equal to the plan (in this transaction)."""
    from releasedesk.timeline.replan import replan_release

    replan_release(release, actor=actor)


def _latest_version(policy: Policy) -> PolicyVersion:
    version = policy.latest_version()
    if version is None:
        raise ValidationFailed(
            f"policy {policy.slug} has no applied version yet",
            fields={"policy": "no version applied"},
        )
    return version


def _write_changes(
    release: Release, changes: Sequence[ChangeItemData], *, start: int = 0
) -> list[ChangeItem]:
    if len(changes) > MAX_CHANGES:
        raise ValidationFailed(
            f"at most {MAX_CHANGES} change items per release",
            fields={"changes": f"at most {MAX_CHANGES}"},
        )
    return ChangeItem.objects.bulk_create(
        [
            ChangeItem(release=release, position=start + i, **c.model_dump())
            for i, c in enumerate(changes)
        ]
    )


# --- create and edit -----------------------------------------------------------------------


@transaction.atomic
def create_release(
    *,
    actor: Actor,
    created_by: User | None,
    policy: Policy,
    products: Sequence[Product],
    version: str,
    target_date: dt.date,
    title: str = "",
    kind: str = ReleaseKind.REGULAR,
    hotfix_reason: str | None = None,
    changes: Sequence[ChangeItemData] = (),
) -> Release:
    version = _validate_version(version)
    title = _validate_title(title)
    kind, reason = _validate_kind(kind, hotfix_reason)
    product_list = _validate_products(products)
    if not isinstance(target_date, dt.date):
        raise ValidationFailed(
            "target_date must be a date (YYYY-MM-DD)", fields={"target_date": "a date"}
        )
    _latest_version(policy)
    if Release.objects.filter(policy=policy, version=version).exists():
        raise Conflict(
            f"release {version} already exists under policy {policy.slug}",
            fields={"version": "already exists"},
        )
    try:
        with transaction.atomic():
            release = Release.objects.create(
                policy=policy,
                version=version,
                title=title,
                target_date=target_date,
                kind=kind,
                hotfix_reason=reason,
                created_by=created_by,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"release {version} already exists under policy {policy.slug}",
            fields={"version": "already exists"},
        ) from exc
    release.products.set(product_list)
    _write_changes(release, changes)
    after = _snapshot(release) | {"changes": [c.model_dump() for c in changes]}
    _audit(release, actor=actor, action="release.created", after=after)
    return release


@transaction.atomic
def edit_release(
    *,
    release: Release,
    actor: Actor,
    version: str | None = None,
    title: str | None = None,
    target_date: dt.date | None = None,
    products: Sequence[Product] | None = None,
    kind: str | None = None,
    hotfix_reason: str | None = None,
) -> EditOutcome:
    release = _lock(release)
    _ensure_editable(release)
    before = _snapshot(release)
    reasons: list[str] = []
    reassess = False
    if version is not None:
        new = _validate_version(version)
        if new != release.version:
            if (
                Release.objects.filter(policy=release.policy, version=new)
                .exclude(pk=release.pk)
                .exists()
            ):
                raise Conflict(
                    f"release {new} already exists under policy {release.policy.slug}",
                    fields={"version": "already exists"},
                )
            reasons.append(f"the version changed ({release.version} → {new})")
            release.version = new
    if title is not None:
        release.title = _validate_title(title)
    if target_date is not None and target_date != release.target_date:
        reasons.append(
            f"the target date changed ({release.target_date.isoformat()} → {target_date.isoformat()})"
        )
        release.target_date = target_date
    if kind is not None or hotfix_reason is not None:
        wanted_kind = kind or release.kind
        wanted_reason = (
            hotfix_reason
            if hotfix_reason is not None
            else (release.hotfix_reason if wanted_kind == ReleaseKind.HOTFIX else "")
        )
        new_kind, new_reason = _validate_kind(wanted_kind, wanted_reason)
        if (new_kind, new_reason) != (release.kind, release.hotfix_reason):
            reasons.append(f"the release kind changed ({release.kind} → {new_kind})")
            reassess = True
            release.kind, release.hotfix_reason = new_kind, new_reason
    if products is not None:
        product_list = _validate_products(products)
        if {p.pk for p in product_list} != {p.pk for p in release.products.all()}:
            reasons.append("the products changed")
            reassess = True
            release.products.set(product_list)
    release.save(
        update_fields=["version", "title", "target_date", "kind", "hotfix_reason", "updated_at"]
    )
    notice = ""
    if reasons:
        notice = _void_after_change(
            release, reason=" and ".join(reasons), needs_reassessment=reassess
        )
    _audit(
        release,
        actor=actor,
        action="release.edited",
        before=before,
        after=_snapshot(release) | {"notice": notice},
    )
    return EditOutcome(release=release, notice=notice)


@transaction.atomic
def add_change(*, release: Release, actor: Actor, data: ChangeItemData) -> EditOutcome:
    release = _lock(release)
    _ensure_editable(release)
    if release.changes.count() >= MAX_CHANGES:
        raise ValidationFailed(
            f"at most {MAX_CHANGES} change items per release",
            fields={"changes": f"at most {MAX_CHANGES}"},
        )
    position = (release.changes.aggregate(m=Max("position"))["m"] or 0) + 1
    change = ChangeItem.objects.create(release=release, position=position, **data.model_dump())
    notice = _void_after_change(
        release, reason=f"a change item was added ({change.title!r})", needs_reassessment=True
    )
    _audit(
        release,
        actor=actor,
        action="release.change_added",
        after={"change_id": change.pk, **change.as_dict(), "notice": notice},
    )
    return EditOutcome(release=release, notice=notice, change=change)


def _get_change(release: Release, change_id: int) -> ChangeItem:
    try:
        return release.changes.get(pk=change_id)
    except ChangeItem.DoesNotExist as exc:
        raise NotFound(
            f"Change item {change_id} does not belong to release {release.version}"
        ) from exc


@transaction.atomic
def edit_change(
    *, release: Release, change_id: int, actor: Actor, data: ChangeItemData
) -> EditOutcome:
    release = _lock(release)
    _ensure_editable(release)
    change = _get_change(release, change_id)
    before = change.as_dict()
    for key, value in data.model_dump().items():
        setattr(change, key, value)
    change.save()
    notice = ""
    if change.as_dict() != before:
        notice = _void_after_change(
            release, reason=f"a change item was edited ({change.title!r})", needs_reassessment=True
        )
    _audit(
        release,
        actor=actor,
        action="release.change_edited",
        before={"change_id": change.pk, **before},
        after={"change_id": change.pk, **change.as_dict(), "notice": notice},
    )
    return EditOutcome(release=release, notice=notice, change=change)


@transaction.atomic
def remove_change(*, release: Release, change_id: int, actor: Actor) -> EditOutcome:
    release = _lock(release)
    _ensure_editable(release)
    change = _get_change(release, change_id)
    before = {"change_id": change.pk, **change.as_dict()}
    change.delete()
    notice = _void_after_change(
        release, reason=f"a change item was removed ({before['title']!r})", needs_reassessment=True
    )
    _audit(
        release,
        actor=actor,
        action="release.change_removed",
        before=before,
        after={"notice": notice},
    )
    return EditOutcome(release=release, notice=notice)


@transaction.atomic
def replace_changes(
    *, release: Release, actor: Actor, changes: Sequence[ChangeItemData]
) -> EditOutcome:
    """Replace all change items at once (the edit form's changelog textarea)."""
    release = _lock(release)
    _ensure_editable(release)
    before = [c.as_dict() for c in release.changes.all()]
    after = [c.model_dump() for c in changes]
    if before == after:
        return EditOutcome(release=release)
    release.changes.all().delete()
    _write_changes(release, changes)
    notice = _void_after_change(release, reason="the change items changed", needs_reassessment=True)
    _audit(
        release,
        actor=actor,
        action="release.changes_replaced",
        before={"changes": before},
        after={"changes": after, "notice": notice},
    )
    return EditOutcome(release=release, notice=notice)


# --- risk ----------------------------------------------------------------------------------


def _validate_stakeholders(stakeholders: Stakeholders, known_roles: Sequence[str]) -> Stakeholders:
    roles = tuple(dict.fromkeys(r.strip() for r in stakeholders.roles if r.strip()))
    allowed = set(known_roles) | set(Role.objects.values_list("slug", flat=True))
    unknown = [r for r in roles if r not in allowed]
    if unknown:
        raise ValidationFailed(
            f"unknown stakeholder role {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})",
            fields={"stakeholders": f"unknown role {unknown[0]!r}"},
        )
    users = tuple(dict.fromkeys(stakeholders.users))
    found = set(User.objects.filter(pk__in=users, is_staff=True).values_list("pk", flat=True))
    missing = [u for u in users if u not in found]
    if missing:
        raise ValidationFailed(
            f"stakeholder user {missing[0]} is not a member of staff",
            fields={"stakeholders": f"unknown user {missing[0]}"},
        )
    if len(roles) + len(users) > 50:
        raise ValidationFailed("at most 50 stakeholders", fields={"stakeholders": "at most 50"})
    return Stakeholders(roles=roles, users=users)


@transaction.atomic
def assess_release(
    *,
    release: Release,
    actor: Actor,
    assessor: User | None,
    impact: int | None,
    likelihood: int | None,
    stakeholders: Stakeholders = Stakeholders(),
    rationale: str = "",
) -> RiskAssessment:
    """Record a new assessment version; the status becomes assessed (approvals start over)."""
    release = _lock(release)
    if release.status not in ASSESSABLE:
        allowed = ", ".join(s for s in S.values if s in ASSESSABLE)
        raise Conflict(
            f"Release {release.version} is {release.status}: risk can only be assessed while {allowed}",
            fields={"status": release.status},
        )
    rationale = (rationale or "").strip()
    if len(rationale) > MAX_RATIONALE:
        raise ValidationFailed(
            f"rationale is longer than {MAX_RATIONALE} characters",
            fields={"rationale": f"at most {MAX_RATIONALE} characters"},
        )
    policy_version = _latest_version(release.policy)
    doc = policy_version.document_model()
    facts = [
        ChangeFacts(kind=c.kind, significant=c.significant, reversible=c.reversible, title=c.title)
        for c in release.changes.all()
    ]
    outcome = assess(
        doc,
        impact=impact,
        likelihood=likelihood,
        changes=facts,
        kind=release.kind,
        hotfix_reason=release.hotfix_reason or None,
    )
    people = _validate_stakeholders(stakeholders, doc.known_roles())
    previous = current_assessment(release)
    number = (previous.version + 1) if previous else 1
    requirements = required_approvals(outcome)
    assessment = RiskAssessment.objects.create(
        release=release,
        version=number,
        impact=impact,
        likelihood=likelihood,
        base_level=outcome.base_level or "",
        level=outcome.level,
        releasable=outcome.releasable,
        advice=outcome.advice[:500],
        factors=[
            {"source": f.source, "description": f.description, "level": f.level, "reason": f.reason}
            for f in outcome.factors
        ],
        demands=outcome.demands.model_dump(mode="json"),
        required_approvals=[{"role": r.role, "count": r.count} for r in requirements],
        policy_version=policy_version,
        assessor=assessor,
        stakeholders=people.as_json(),
        rationale=rationale,
    )
    notice = ""
    if previous is not None:
        notice = _void_after_change(
            release,
            reason=f"the risk was re-assessed (v{number}: {outcome.level})",
            needs_reassessment=False,
        )
    Release.objects.filter(pk=release.pk).update(policy_version=policy_version)
    release.policy_version = policy_version
    if release.status != S.ASSESSED:
        _move(release, S.ASSESSED)
    auto_approved = outcome.releasable and not requirements
    if auto_approved:
        # A level that demands no approval is approved by its assessment.
        _move(release, S.APPROVED, notice="")
    _audit(
        release,
        actor=actor,
        action="release.assessed",
        after={
            "assessment": number,
            "impact": impact,
            "likelihood": likelihood,
            "level": outcome.level,
            "releasable": outcome.releasable,
            "required_approvals": assessment.required_approvals,
            "policy_version": policy_version.number,
            "stakeholders": people.as_json(),
            "status": release.status,
            "notice": notice,
        },
    )
    return assessment


# --- approvals -----------------------------------------------------------------------------


def not_releasable_message(release: Release, assessment: RiskAssessment) -> str:
    advice = assessment.advice or "Reduce the risk and re-assess."
    return f"Risk level {assessment.level!r} is not releasable under policy {release.policy.slug}: {advice}"


@transaction.atomic
def approve_release(
    *, release: Release, actor: Actor, user: User, role: str, comment: str = ""
) -> Approval:
    release = _lock(release)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            fields={"comment": f"at most {MAX_COMMENT} characters"},
        )
    assessment = current_assessment(release)
    if assessment is None or release.status == S.DRAFT:
        raise Conflict(
            f"Release {release.version} has not been assessed: assess its risk before approving",
            fields={"status": release.status},
            code="not_assessed",
        )
    if not assessment.releasable:
        raise Conflict(
            not_releasable_message(release, assessment),
            fields={"level": assessment.level},
            code="not_releasable",
        )
    if release.status not in APPROVABLE:
        if release.status in (S.APPROVED, S.SCHEDULED):
            raise Conflict(
                f"Release {release.version} already has every approval its risk level demands",
                fields={"status": release.status},
            )
        raise Conflict(
            f"Release {release.version} is {release.status}: approvals are given while it is assessed",
            fields={"status": release.status},
        )
    required = {r["role"]: int(r.get("count", 1)) for r in assessment.required_approvals}
    if role not in required:
        raise ValidationFailed(
            f"role {role!r} is not required for release {release.version} at level {assessment.level} (required: {', '.join(required) or 'none'})",
            fields={"role": f"allowed: {', '.join(required) or 'none'}"},
        )
    if not user.is_active or not user.is_staff or not user.roles.filter(slug=role).exists():
        raise PermissionDenied(
            f"{user.username} does not hold the role {role!r} and cannot approve as {role}",
            fields={"role": "not held by the approver"},
        )
    if release.created_by_id is not None and release.created_by_id == user.pk:
        raise PermissionDenied(
            f"Nobody approves their own release: {release.version} was created by {user.username}",
            fields={"user": "created the release"},
        )
    current = active_approvals(release)
    if any(a.user_id == user.pk and a.role == role for a in current):
        raise Conflict(
            f"{user.username} already approved release {release.version} as {role}",
            fields={"role": "already approved by this person"},
        )
    have = sum(1 for a in current if a.role == role)
    if have >= required[role]:
        raise Conflict(
            f"The {role} approval of release {release.version} is already complete ({have} of {required[role]})",
            fields={"role": "complete"},
        )
    approval = Approval.objects.create(
        release=release,
        role=role,
        user=user,
        comment=comment,
        generation=release.approvals_generation,
    )
    missing = missing_approvals(release, approvals=[*current, approval])
    if not missing:
        _move(release, S.APPROVED, notice="")
    _audit(
        release,
        actor=actor,
        action="release.approved",
        after={
            "approval_id": approval.pk,
            "role": role,
            "user_id": user.pk,
            "generation": approval.generation,
            "comment": comment,
            "missing": [r.role for r in missing],
            "status": release.status,
        },
    )
    if release.status == S.APPROVED:
        _replan(release, actor)
    return approval


@transaction.atomic
def revoke_approval(
    *, release: Release, approval_id: int, actor: Actor, user: User, comment: str
) -> Approval:
    release = _lock(release)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(
            "say why the approval is revoked", fields={"comment": "required when revoking"}
        )
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            fields={"comment": f"at most {MAX_COMMENT} characters"},
        )
    try:
        approval = release.approvals.get(pk=approval_id)
    except Approval.DoesNotExist as exc:
        raise NotFound(
            f"Approval {approval_id} does not belong to release {release.version}"
        ) from exc
    if (
        approval.decision != ApprovalDecision.APPROVED
        or approval.void_reason
        or approval.generation != release.approvals_generation
    ):
        raise Conflict(
            f"Approval {approval_id} is no longer in force (revoked or voided)",
            fields={"approval": "not in force"},
        )
    if release.status not in REVOCABLE:
        raise Conflict(
            f"Approvals can be revoked until the release starts; release {release.version} is {release.status}",
            fields={"status": release.status},
        )
    if (
        approval.user_id != user.pk
        and not user.is_superuser
        and not user.roles.filter(slug=approval.role).exists()
    ):
        raise PermissionDenied(
            f"only the approver or someone holding the role {approval.role!r} can revoke this approval",
            fields={"user": "may not revoke"},
        )
    now = clock.now()
    Approval.objects.filter(pk=approval.pk).update(
        decision=ApprovalDecision.REVOKED, revoked_at=now, revoked_by=user, revoke_comment=comment
    )
    approval.decision, approval.revoked_at, approval.revoked_by, approval.revoke_comment = (
        ApprovalDecision.REVOKED,
        now,
        user,
        comment,
    )
    if release.status in (S.APPROVED, S.SCHEDULED):
        _move(release, S.ASSESSED)
    _audit(
        release,
        actor=actor,
        action="release.approval_revoked",
        after={
            "approval_id": approval.pk,
            "role": approval.role,
            "user_id": user.pk,
            "comment": comment,
            "status": release.status,
        },
    )
    _replan(release, actor)
    return approval


# --- lifecycle -----------------------------------------------------------------------------


def _ensure_ready(release: Release, verb: str) -> None:
    """Refuse to schedule or start without a releasable assessment and every approval."""
    assessment = current_assessment(release)
    if assessment is None or release.status == S.DRAFT:
        raise Conflict(
            f"Cannot {verb} {release.version}: its risk has not been assessed",
            fields={"status": release.status},
            code="not_assessed",
        )
    if not assessment.releasable:
        raise Conflict(
            f"Cannot {verb} {release.version}: {not_releasable_message(release, assessment)}",
            fields={"level": assessment.level},
            code="not_releasable",
        )
    missing = missing_approvals(release)
    if missing:
        noun = "approval" if len(missing) == 1 and missing[0].count == 1 else "approvals"
        raise Conflict(
            f"Cannot {verb} {release.version}: missing {noun} from {describe_missing(missing)}",
            fields={"approvals": describe_missing(missing)},
            code="approvals_missing",
        )


@transaction.atomic
def schedule_release(*, release: Release, actor: Actor) -> Release:
    release = _lock(release)
    if release.status in (S.DRAFT, S.ASSESSED):
        _ensure_ready(release, "schedule")
    before = release.status
    _move(release, S.SCHEDULED)
    _audit(
        release,
        actor=actor,
        action="release.scheduled",
        before={"status": before},
        after={"status": release.status},
    )
    return release


@transaction.atomic
def start_release(*, release: Release, actor: Actor) -> Release:
    """Check the approvals and move to in progress (the worker does the rest, later)."""
    release = _lock(release)
    if release.status in (S.DRAFT, S.ASSESSED, S.APPROVED, S.SCHEDULED):
        _ensure_ready(release, "start")
    before = release.status
    _move(release, S.IN_PROGRESS, started_at=release.started_at or clock.now())
    _audit(
        release,
        actor=actor,
        action="release.started",
        before={"status": before},
        after={"status": release.status},
    )
    return release


@transaction.atomic
def override_blackout(*, release: Release, actor: Actor, reason: str) -> Release:
    """Record why a hotfix may run inside a blackout or change freeze (empty: withdraw)."""
    release = _lock(release)
    reason = _reason(reason)
    if reason and release.kind != ReleaseKind.HOTFIX:
        raise ValidationFailed(
            f"Only a hotfix may override a blackout; {release.version} is a regular release",
            fields={"reason": "only for hotfix releases"},
            code="not_a_hotfix",
        )
    if release.status in TERMINAL:
        raise Conflict(f"Release {release.version} is {release.status}", code="finished")
    before = release.blackout_override_reason
    Release.objects.filter(pk=release.pk).update(
        blackout_override_reason=reason[:500], updated_at=clock.now()
    )
    release.blackout_override_reason = reason[:500]
    _audit(
        release,
        actor=actor,
        action="release.blackout_override" if reason else "release.blackout_override_withdrawn",
        before={"reason": before},
        after={"reason": release.blackout_override_reason},
    )
    return release


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_COMMENT:
        raise ValidationFailed(
            f"reason is longer than {MAX_COMMENT} characters",
            fields={"reason": f"at most {MAX_COMMENT} characters"},
        )
    return reason


def _simple(
    release: Release, *, actor: Actor, target: str, action: str, reason: str = "", **extra: Any
) -> Release:
    release = _lock(release)
    reason = _reason(reason)
    before = release.status
    _move(release, target, **extra)
    _audit(
        release,
        actor=actor,
        action=action,
        before={"status": before},
        after={"status": release.status, "reason": reason},
    )
    return release


@transaction.atomic
def pause_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    from releasedesk.timeline.services import hold_steps

    paused = _simple(release, actor=actor, target=S.PAUSED, action="release.paused", reason=reason)
    hold_steps(paused, actor=actor, reason=_reason(reason), now=clock.now())
    return paused


@transaction.atomic
def resume_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    """Paused → where it was (in progress once started, else scheduled); postponed → back in line."""
    locked = _lock(release)
    if locked.status == S.PAUSED:
        target = S.IN_PROGRESS if locked.started_at else S.SCHEDULED
    elif locked.status == S.POSTPONED:
        assessment = current_assessment(locked)
        if assessment is None:
            target = S.DRAFT
        elif assessment.releasable and not missing_approvals(locked):
            target = S.APPROVED
        else:
            target = S.ASSESSED
    else:
        raise Conflict(
            f"Release {locked.version} is {locked.status}: only a paused or postponed release can be resumed",
            fields={"status": locked.status},
            code="invalid_transition",
        )
    resumed = _simple(locked, actor=actor, target=target, action="release.resumed", reason=reason)
    if target in (S.IN_PROGRESS, S.SCHEDULED):
        from releasedesk.timeline.services import release_held_steps

        release_held_steps(resumed, actor=actor, now=clock.now())
    return resumed


@transaction.atomic
def postpone_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    return _simple(
        release, actor=actor, target=S.POSTPONED, action="release.postponed", reason=reason
    )


@transaction.atomic
def cancel_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    from releasedesk.timeline.services import cancel_steps

    cancelled = _simple(
        release,
        actor=actor,
        target=S.CANCELLED,
        action="release.cancelled",
        reason=reason,
        finished_at=clock.now(),
    )
    from releasedesk.core.queue_models import WorkState
    from releasedesk.timeline.models import ScheduledStep, StepKind
    from releasedesk.timeline.persist import PlanDiff
    from releasedesk.timeline.replan import PLAN_STORED_HOOKS

    upgrades = ScheduledStep.objects.filter(
        release=cancelled,
        kind=StepKind.UPGRADE,
        state__in=(WorkState.PENDING, WorkState.BLOCKED),
    )
    removed = sorted(upgrades.values_list("key", flat=True))
    cancel_steps(cancelled, actor=actor, reason=_reason(reason), now=clock.now())
    # the people told about an upgrade hear that it is off (consent.hooks.tell_about)
    diff = PlanDiff(removed=removed)
    for hook in list(PLAN_STORED_HOOKS):
        hook(cancelled, diff, actor)
    return cancelled


@transaction.atomic
def complete_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    """Completed by the worker (every target done) or by hand: event steps wake up either way."""
    now = clock.now()
    release = _simple(
        release,
        actor=actor,
        target=S.COMPLETED,
        action="release.completed",
        reason=reason,
        finished_at=now,
    )
    from releasedesk.timeline.execution import RELEASE_COMPLETED_HOOKS, release_waiting_steps

    release_waiting_steps(release, now=now)  # e.g. "update the lending shop" after the release
    for hook in list(RELEASE_COMPLETED_HOOKS):
        hook(release, now)
    return release


@transaction.atomic
def fail_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    return _simple(release, actor=actor, target=S.FAILED, action="release.failed", reason=reason)


@transaction.atomic
def revert_release(*, release: Release, actor: Actor, reason: str = "") -> Release:
    return _simple(
        release,
        actor=actor,
        target=S.REVERTED,
        action="release.reverted",
        reason=reason,
        finished_at=clock.now(),
    )


TRANSITION_SERVICES: dict[str, Callable[..., Release]] = {
    "start": start_release,
    "schedule": schedule_release,
    "pause": pause_release,
    "resume": resume_release,
    "postpone": postpone_release,
    "cancel": cancel_release,
    "complete": complete_release,
    "fail": fail_release,
    "revert": revert_release,
}


def next_actions(release: Release) -> list[str]:
    """The transition verbs that the state machine allows from the release's status."""
    targets = set(allowed_targets(release.status))
    verbs = {
        "schedule": S.SCHEDULED,
        "start": S.IN_PROGRESS,
        "pause": S.PAUSED,
        "postpone": S.POSTPONED,
        "cancel": S.CANCELLED,
        "complete": S.COMPLETED,
        "fail": S.FAILED,
        "revert": S.REVERTED,
    }
    actions = [verb for verb, target in verbs.items() if target in targets]
    if release.status in (S.PAUSED, S.POSTPONED):
        actions.insert(0, "resume")
    return actions
