"""Releases, their change items, risk assessments (versioned) and approvals."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from releasedesk.core import clock
from releasedesk.core.models import TimeStampedModel
from releasedesk.core.scoping import ScopedManager
from releasedesk.releases.choices import (
    ApprovalDecision,
    ChangeKind,
    HotfixReason,
    ReleaseKind,
    ReleaseStatus,
)


class Release(TimeStampedModel):
    products = models.ManyToManyField("catalog.Product", related_name="releases")
    version = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True)
    target_date = models.DateField(
        help_text="The intended release date; the planner finds the slot."
    )
    kind = models.CharField(max_length=16, choices=ReleaseKind.choices, default=ReleaseKind.REGULAR)
    hotfix_reason = models.CharField(max_length=16, choices=HotfixReason.choices, blank=True)
    status = models.CharField(
        max_length=16, choices=ReleaseStatus.choices, default=ReleaseStatus.DRAFT, db_index=True
    )
    # The policy is chosen when the release is created; the version it was assessed (and
    # later planned) under is recorded by each assessment and mirrored here.
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="releases")
    policy_version = models.ForeignKey(
        "policies.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="releases",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="created_releases",
    )
    # Bumped whenever approvals are voided; only approvals of the current generation count.
    approvals_generation = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last "approvals voided because …" notice, shown on the release page until the next approval.
    notice = models.CharField(max_length=500, blank=True)
    # A hotfix may be placed inside a blackout or freeze only with a recorded reason.
    blackout_override_reason = models.CharField(max_length=500, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["target_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=ReleaseKind.HOTFIX) & ~Q(hotfix_reason=""))
                | (Q(kind=ReleaseKind.REGULAR) & Q(hotfix_reason="")),
                name="%(app_label)s_%(class)s_hotfix_reason_iff_hotfix",
            ),
            models.CheckConstraint(
                condition=Q(approvals_generation__gte=1),
                name="%(app_label)s_%(class)s_generation_positive",
            ),
            models.UniqueConstraint(
                fields=["policy", "version"],
                name="%(app_label)s_%(class)s_unique_version_per_policy",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.title}".strip()

    @property
    def label(self) -> str:
        return self.version


class ChangeItem(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=32, choices=ChangeKind.choices)
    title = models.CharField(max_length=300)
    customer_note = models.TextField(blank=True)
    internal_note = models.TextField(blank=True)
    significant = models.BooleanField(default=False)
    reversible = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    objects = ScopedManager()

    class Meta:
        ordering = ["release", "position", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "customer_note": self.customer_note,
            "internal_note": self.internal_note,
            "significant": self.significant,
            "reversible": self.reversible,
        }


class RiskAssessment(models.Model):
    """One version of a release's risk assessment; re-assessing adds a version, history is kept."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="assessments")
    version = models.PositiveIntegerField()
    # Empty for policies without a risk model (their default level applies).
    impact = models.PositiveSmallIntegerField(null=True, blank=True)
    likelihood = models.PositiveSmallIntegerField(null=True, blank=True)
    base_level = models.CharField(max_length=32, blank=True)
    level = models.CharField(max_length=32)
    releasable = models.BooleanField(default=True)
    advice = models.CharField(max_length=500, blank=True)
    # [{"source", "description", "level", "reason"}] as computed by policies.risk.assess.
    factors = models.JSONField(default=list)
    # The level's demands (window, notice, approvals, verification) as the policy said then.
    demands = models.JSONField(default=dict)
    # [{"role", "count"}]: the approvals this assessment requires.
    required_approvals = models.JSONField(default=list)
    policy_version = models.ForeignKey(
        "policies.PolicyVersion", on_delete=models.PROTECT, related_name="assessments"
    )
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="risk_assessments",
    )
    # Roles (slugs) and people (user ids) consulted: {"roles": [...], "users": [...]}.
    stakeholders = models.JSONField(default=dict)
    rationale = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)

    objects = ScopedManager()

    class Meta:
        ordering = ["release", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "version"], name="%(app_label)s_%(class)s_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(impact__isnull=True) | Q(impact__gte=1, impact__lte=5),
                name="%(app_label)s_%(class)s_impact_1_5",
            ),
            models.CheckConstraint(
                condition=Q(likelihood__isnull=True) | Q(likelihood__gte=1, likelihood__lte=5),
                name="%(app_label)s_%(class)s_likelihood_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.release} v{self.version}: {self.level}"


class Approval(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="approvals")
    role = models.SlugField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals"
    )
    decision = models.CharField(
        max_length=16, choices=ApprovalDecision.choices, default=ApprovalDecision.APPROVED
    )
    comment = models.TextField(blank=True)
    generation = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=clock.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_comment = models.TextField(blank=True)
    # Set when an edit voided the approval ("Change items changed after approval").
    void_reason = models.CharField(max_length=300, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["release", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision=ApprovalDecision.APPROVED, revoked_at__isnull=True)
                | Q(decision=ApprovalDecision.REVOKED, revoked_at__isnull=False),
                name="%(app_label)s_%(class)s_revoked_has_time",
            ),
            models.UniqueConstraint(
                fields=["release", "role", "user", "generation"],
                condition=Q(decision=ApprovalDecision.APPROVED, void_reason=""),
                name="%(app_label)s_%(class)s_once_per_role_and_generation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} by {self.user_id}: {self.decision}"

    @property
    def is_active(self) -> bool:
        return (
            self.decision == ApprovalDecision.APPROVED
            and not self.void_reason
            and self.generation == self.release.approvals_generation
        )
