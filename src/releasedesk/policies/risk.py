"""Risk assessment through a policy: pure functions, no I/O.

`assess()` turns impact x likelihood and the release's change items into a level, the
factors that decided it (each with its reason) and what that level demands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from releasedesk.core.errors import ValidationFailed
from releasedesk.policies.choices import HotfixReason, ReleaseKind
from releasedesk.policies.schema import (
    ApprovalRequirement,
    Floor,
    LevelDemands,
    NoticeSpec,
    PolicyDocument,
)


@dataclass(frozen=True)
class ChangeFacts:
    """What the assessment needs to know about one change item."""

    kind: str
    significant: bool = False
    reversible: bool = True
    title: str = ""


@dataclass(frozen=True)
class RiskFactor:
    source: str  # "matrix" | "floor" | "default" | "hotfix"
    description: str
    level: str
    reason: str


@dataclass(frozen=True)
class RiskOutcome:
    level: str
    base_level: str | None
    factors: list[RiskFactor]
    demands: LevelDemands
    releasable: bool
    advice: str


def _check_scale(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationFailed(
            f"{name} must be a whole number from 1 to 5, not {value!r}",
            fields={name: "must be 1..5"},
        )
    return value


def floor_applies(floor: Floor, change: ChangeFacts) -> bool:
    cond = floor.when
    if cond.change_kind is not None:
        return change.kind == cond.change_kind.value
    if cond.flag == "significant":
        return change.significant
    if cond.flag == "irreversible":
        return not change.reversible
    return False


def stricter_notice(a: NoticeSpec | None, b: NoticeSpec | None) -> NoticeSpec | None:
    """The notice with the longer lead; on a tie keep `a`, widened by `b`'s urgent lead/margin."""
    if a is None:
        return b
    if b is None:
        return a
    if b.lead > a.lead:
        return b
    if a.lead > b.lead:
        return a
    urgent = [n for n in (a.urgent_lead, b.urgent_lead) if n is not None]
    return a.model_copy(
        update={
            "to": a.to or b.to,
            "urgent_lead": max(urgent) if urgent else None,
            "margin": max(a.margin, b.margin),
            "afterwards": a.afterwards or b.afterwards,
        }
    )


def assess(
    doc: PolicyDocument,
    *,
    impact: int | None,
    likelihood: int | None,
    changes: Sequence[ChangeFacts],
    kind: str = "regular",
    hotfix_reason: str | None = None,
) -> RiskOutcome:
    impact = _check_scale("impact", impact)
    likelihood = _check_scale("likelihood", likelihood)
    if kind not in ReleaseKind.values:
        raise ValidationFailed(
            f"kind must be one of {', '.join(ReleaseKind.values)}, not {kind!r}",
            fields={"kind": "unknown release kind"},
        )

    factors: list[RiskFactor] = []
    notice: NoticeSpec | None = None
    if doc.risk is None:
        level = base_level = doc.default_level or doc.level_order()[0]
        factors.append(
            RiskFactor(
                "default",
                f"policy {doc.policy} has no risk matrix → {level}",
                level,
                "Every release of this policy gets the default level.",
            )
        )
    else:
        if impact is None or likelihood is None:
            missing = [n for n, v in (("impact", impact), ("likelihood", likelihood)) if v is None]
            raise ValidationFailed(
                f"policy {doc.policy} assesses risk by impact x likelihood: give {' and '.join(missing)} (1..5)",
                fields={n: "required (1..5)" for n in missing},
            )
        order = doc.risk.order
        level = base_level = doc.risk.cell(impact, likelihood)
        factors.append(
            RiskFactor(
                "matrix",
                f"impact {impact} × likelihood {likelihood} → {level}",  # noqa: RUF001
                level,
                "The policy's risk matrix.",
            )
        )
        for floor in doc.risk.floors:
            hits = [c for c in changes if floor_applies(floor, c)]
            if not hits:
                continue
            titles = ", ".join(repr(c.title) for c in hits if c.title)
            raised = order.index(floor.at_least) > order.index(level)
            effect = (
                f"raises the level to {floor.at_least}"
                if raised
                else f"at least {floor.at_least} (already {level})"
            )
            factors.append(
                RiskFactor(
                    "floor",
                    f"{floor.when.describe()}{f' ({titles})' if titles else ''}: {effect}",
                    floor.at_least,
                    floor.reason,
                )
            )
            if raised:
                level = floor.at_least
            notice = stricter_notice(notice, floor.notice)

    level_demands = doc.demands_for(level)
    demands = level_demands.model_copy(
        update={"notice": stricter_notice(level_demands.notice, notice)}
    )

    if kind == ReleaseKind.HOTFIX:
        lane = doc.hotfix
        if lane is None:
            raise ValidationFailed(
                f"policy {doc.policy} has no hotfix lane; release it as a regular release",
                fields={"kind": "no hotfix lane"},
            )
        allowed = [r.value for r in lane.reasons]
        if hotfix_reason not in allowed:
            raise ValidationFailed(
                f"a hotfix needs a reason the policy allows ({', '.join(allowed)}), not {hotfix_reason!r}",
                fields={"hotfix_reason": f"allowed: {', '.join(allowed)}"},
            )
        update: dict[str, object] = {"window": lane.window}
        if lane.approvers is not None:
            update["approvals"] = list(lane.approvers)
        if lane.notice is not None or "notice" in lane.waives:
            update["notice"] = lane.notice
        demands = demands.model_copy(update=update)
        factors.append(
            RiskFactor(
                "hotfix",
                f"{HotfixReason(hotfix_reason).label.lower()} hotfix: window {lane.window}, notice {'per hotfix lane' if 'notice' in update else 'per level'}",
                level,
                "The policy's hotfix lane.",
            )
        )

    releasable = demands.releasable
    advice = demands.advice if not releasable else ""
    if not releasable and not advice:
        advice = "Reduce the risk and re-assess."
    return RiskOutcome(
        level=level,
        base_level=base_level,
        factors=factors,
        demands=demands,
        releasable=releasable,
        advice=advice,
    )


def required_approvals(outcome: RiskOutcome) -> list[ApprovalRequirement]:
    """The approvals the outcome demands. Check `outcome.releasable` first: a level that is
    not releasable (Extreme) cannot be approved whatever its approvals say."""
    return list(outcome.demands.approvals)
