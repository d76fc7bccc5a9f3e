"""Gates re-checked at the moment of acting (DESIGN.md §1 "the worker acts, never decides alone").

`check_gates(ctx)` runs every gate registered for the step's kind, in order, inside the
caller's transaction (the release row is locked there), and returns the failures. The
caller fails closed: any failure blocks the step with the reason, asks for a re-plan, or
cancels/skips it — it never proceeds.

Built-in gates (`release_state` for every kind of step, the others for `upgrade` steps):

- `release_state` — the release is not paused, postponed, cancelled or finished;
- `approvals`     — the current assessment is releasable and the approvals of the current
  generation are still complete (`releases.selectors.missing_approvals`);
- `stages`        — every stage of the policy that gates customer steps has been passed
  (`StagePass`);
- `window`        — the step's window (`ends_at`) has not closed.

Hooks for the communication issue: register `notice_delivered` (the notice to the step's
recipients was *delivered* by `start - lead`; else `replan`) and `consent` (no opt-out before
the deadline, acceptance given where required; else `skip`/`replan`) with

    @register_gate("notice_delivered", kinds=("upgrade",))
    def notice_delivered(ctx: GateContext) -> GateFailure | None: ...

Gates run in registration order; the built-ins come first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from releasedesk.core.timeutil import format_local, format_utc, get_zone
from releasedesk.releases.choices import ReleaseStatus as S
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import current_assessment, describe_missing, missing_approvals
from releasedesk.timeline.models import ScheduledStep, StagePass

GateAction = Literal["block", "replan", "skip", "cancel"]


@dataclass(frozen=True, slots=True)
class GateContext:
    step: ScheduledStep
    release: Release  # re-read and locked in the acting transaction
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class GateFailure:
    gate: str
    message: str
    action: GateAction = "block"


Gate = Callable[[GateContext], GateFailure | None]


@dataclass(frozen=True, slots=True)
class RegisteredGate:
    name: str
    check: Gate
    kinds: frozenset[str]


GATES: list[RegisteredGate] = []

# Steps blocked because their release is paused carry this prefix in `last_error`; resuming
# the release returns exactly those to pending (never a step blocked for another reason).
HELD_PREFIX = "Held: "

# Kinds that act on customer instances.
INSTANCE_KINDS: frozenset[str] = frozenset({"upgrade", "verify"})
# The release states in which customer steps may act.
ACTING: frozenset[str] = frozenset({S.APPROVED, S.SCHEDULED, S.IN_PROGRESS})


ALL_KINDS = "*"


def register_gate(name: str, *, kinds: tuple[str, ...] = ("upgrade",)) -> Callable[[Gate], Gate]:
    """Decorator: run `check` for steps of `kinds` (`"*"`: every kind) at the moment of acting
    (replaces a gate of the same name)."""

    def deco(check: Gate) -> Gate:
        GATES[:] = [g for g in GATES if g.name != name]
        GATES.append(RegisteredGate(name=name, check=check, kinds=frozenset(kinds)))
        return check

    return deco


def check_gates(ctx: GateContext) -> list[GateFailure]:
    """Every failing gate for the step, in order (empty: it may act)."""
    failures: list[GateFailure] = []
    for gate in GATES:
        if ctx.step.kind in gate.kinds or ALL_KINDS in gate.kinds:
            failure = gate.check(ctx)
            if failure is not None:
                failures.append(failure)
    return failures


def decisive(failures: list[GateFailure]) -> GateFailure:
    """The failure that decides what happens: cancel > skip > block > replan (most cautious
    first: a block waits for a person, a re-plan moves the step)."""
    order = {"cancel": 0, "skip": 1, "block": 2, "replan": 3}
    return sorted(failures, key=lambda f: order[f.action])[0]


# --- policy helpers ---------------------------------------------------------------------------


def policy_document(release: Release) -> dict[str, Any]:
    """The policy document the release was assessed under (else the policy's latest)."""
    version = release.policy_version or release.policy.latest_version()
    doc = version.document if version is not None else {}
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    role: str  # the role whose member passes the stage ("" when the policy names none)
    gates_customers: bool


def _role_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("role", ""))
    if isinstance(value, list) and value:
        return _role_of(value[0])
    return ""


def policy_stages(release: Release) -> list[StageSpec]:
    """The stages of the release's policy (`stages: [{name, approval, gates}]`)."""
    stages: list[StageSpec] = []
    for raw in policy_document(release).get("stages") or []:
        if not isinstance(raw, dict) or not raw.get("name"):
            continue
        # `gates: customers` (the default) and `gates: everything` both hold upgrades.
        gates = raw.get("gates") or "customers"
        gated = gates in ("customers", "everything", "upgrades")
        stages.append(
            StageSpec(
                name=str(raw["name"]), role=_role_of(raw.get("approval")), gates_customers=gated
            )
        )
    return stages


# --- built-in gates ---------------------------------------------------------------------------


@register_gate("release_state", kinds=(ALL_KINDS,))
def release_state(ctx: GateContext) -> GateFailure | None:
    release, status = ctx.release, ctx.release.status
    label = S(status).label.lower()
    if status == S.PAUSED:
        return GateFailure("release_state", f"{HELD_PREFIX}release {release.version} is paused")
    if status == S.CANCELLED:
        return GateFailure("release_state", f"Release {release.version} was cancelled", "cancel")
    if status == S.POSTPONED:
        return GateFailure(
            "release_state",
            f"Release {release.version} was postponed: it needs a new plan",
            "replan",
        )
    if status in (S.COMPLETED, S.FAILED, S.REVERTED) and ctx.step.kind in INSTANCE_KINDS:
        # Tasks, hypercare and messages after the release (e.g. "update the lending shop"
        # once it is completed) still happen; touching instances does not.
        return GateFailure("release_state", f"Release {release.version} is {label}")
    return None


@register_gate("approvals", kinds=("upgrade",))
def approvals(ctx: GateContext) -> GateFailure | None:
    release = ctx.release
    assessment = current_assessment(release)
    if assessment is None:
        return GateFailure("approvals", f"Release {release.version} has not been assessed")
    if not assessment.releasable:
        return GateFailure(
            "approvals",
            f"Release {release.version} is not releasable at risk level {assessment.level}",
        )
    missing = missing_approvals(release)
    if missing:
        return GateFailure(
            "approvals",
            f"Approvals of release {release.version} are no longer complete: missing {describe_missing(missing)}",
        )
    if release.status not in ACTING and release.status in (S.DRAFT, S.ASSESSED):
        return GateFailure(
            "approvals",
            f"Release {release.version} is {S(release.status).label.lower()}, not approved",
        )
    return None


@register_gate("stages", kinds=("upgrade",))
def stages(ctx: GateContext) -> GateFailure | None:
    required = [s for s in policy_stages(ctx.release) if s.gates_customers]
    if not required:
        return None
    passed = set(
        StagePass.objects.filter(release=ctx.release, passed_at__lte=ctx.now).values_list(
            "stage", flat=True
        )
    )
    open_ = [s for s in required if s.name not in passed]
    if not open_:
        return None
    names = ", ".join(f"{s.name} (approved by {s.role})" if s.role else s.name for s in open_)
    return GateFailure("stages", f"Stage not passed yet: {names}")


@register_gate("window", kinds=("upgrade",))
def window(ctx: GateContext) -> GateFailure | None:
    ends_at = ctx.step.ends_at
    if ends_at is None or ctx.now < ends_at:
        return None
    zone = get_zone(ctx.step.zone or "UTC")
    return GateFailure(
        "window",
        f"The window closed at {format_local(ends_at, zone)} = {format_utc(ends_at)}: the step needs a new slot",
        "replan",
    )
