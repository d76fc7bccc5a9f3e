"""The release state machine: every allowed transition, in one table.

draft → assessed → approved → scheduled → in_progress → completed | failed, with the side
states paused, postponed, cancelled and reverted. Going back (approved → assessed, … → draft)
happens when approvals are revoked or voided by an edit.
"""

from __future__ import annotations

from releasedesk.core.errors import InvalidTransition
from releasedesk.releases.choices import ReleaseStatus as S

TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.ASSESSED, S.POSTPONED, S.CANCELLED),
    S.ASSESSED: (S.DRAFT, S.APPROVED, S.POSTPONED, S.CANCELLED),
    S.APPROVED: (S.DRAFT, S.ASSESSED, S.SCHEDULED, S.IN_PROGRESS, S.POSTPONED, S.CANCELLED),
    S.SCHEDULED: (
        S.DRAFT,
        S.ASSESSED,
        S.APPROVED,
        S.IN_PROGRESS,
        S.PAUSED,
        S.POSTPONED,
        S.CANCELLED,
    ),
    S.IN_PROGRESS: (S.PAUSED, S.COMPLETED, S.FAILED),
    S.PAUSED: (S.IN_PROGRESS, S.SCHEDULED, S.FAILED, S.CANCELLED),
    S.POSTPONED: (S.DRAFT, S.ASSESSED, S.APPROVED, S.CANCELLED),
    S.FAILED: (S.IN_PROGRESS, S.REVERTED),
    S.COMPLETED: (S.REVERTED,),
    S.CANCELLED: (),
    S.REVERTED: (),
}


def allowed_targets(current: str) -> tuple[str, ...]:
    return TRANSITIONS.get(current, ())


def can_transition(current: str, target: str) -> bool:
    return target in allowed_targets(current)


def ensure_transition(current: str, target: str) -> None:
    """Raise InvalidTransition naming the current state and the allowed ones."""
    current, target = str(current), str(target)
    if not can_transition(current, target):
        raise InvalidTransition(
            current=current, target=target, allowed=[str(s) for s in allowed_targets(current)]
        )
