"""Release vocabulary: kinds, hotfix reasons, statuses (with groups) and approval decisions."""

from __future__ import annotations

from django.db import models

# Shared with the policies app (a policy's hotfix lane names the same reasons).
from releasedesk.policies.choices import ChangeKind, HotfixReason, ReleaseKind

__all__ = [
    "ACTIVE",
    "ApprovalDecision",
    "ChangeKind",
    "HotfixReason",
    "ReleaseKind",
    "ReleaseStatus",
]


class ReleaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ASSESSED = "assessed", "Assessed"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    PAUSED = "paused", "Paused"
    POSTPONED = "postponed", "Postponed"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    REVERTED = "reverted", "Reverted"


# Named groups (STYLE.md): what a status means for the rest of the system.
PREPARING: frozenset[str] = frozenset(
    {
        ReleaseStatus.DRAFT,
        ReleaseStatus.ASSESSED,
        ReleaseStatus.APPROVED,
        ReleaseStatus.SCHEDULED,
        ReleaseStatus.POSTPONED,
    }
)
RUNNING: frozenset[str] = frozenset({ReleaseStatus.IN_PROGRESS, ReleaseStatus.PAUSED})
TERMINAL: frozenset[str] = frozenset(
    {ReleaseStatus.COMPLETED, ReleaseStatus.CANCELLED, ReleaseStatus.REVERTED}
)
ACTIVE: frozenset[str] = frozenset(s for s in ReleaseStatus.values if s not in TERMINAL)
# Content (change items, version, products, date) may change only before the release starts.
EDITABLE: frozenset[str] = PREPARING
# Approvals may be given or revoked until the release starts.
APPROVABLE: frozenset[str] = frozenset({ReleaseStatus.ASSESSED})
REVOCABLE: frozenset[str] = frozenset(
    {ReleaseStatus.ASSESSED, ReleaseStatus.APPROVED, ReleaseStatus.SCHEDULED}
)
ASSESSABLE: frozenset[str] = frozenset(
    {
        ReleaseStatus.DRAFT,
        ReleaseStatus.ASSESSED,
        ReleaseStatus.APPROVED,
        ReleaseStatus.SCHEDULED,
        ReleaseStatus.POSTPONED,
    }
)

# Board columns, in reading order.
BOARD_ORDER: tuple[str, ...] = tuple(ReleaseStatus.values)


class ApprovalDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REVOKED = "revoked", "Revoked"
