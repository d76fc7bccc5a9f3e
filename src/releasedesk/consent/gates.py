"""The notice guarantee and the consent gate, re-checked by the worker at the moment an
upgrade acts (registered with `timeline.gates` when the app is ready).

- `notice_delivered`: an upgrade whose plan requires a notice (`requires: notice:<date>`)
  runs only if that notice was *delivered* (outbox `delivered_at`, SMTP 250) at or before
  the notice step's `late_after` (start - lead). Otherwise: replan — the planner, told the
  notice was not delivered in time, picks the next slot, and the customer is re-notified.
- `consent`: an opt-out (or a postponement staff confirmed) received by the deadline, or a
  missing acceptance where acceptance is required, replans; a proposed date staff have not
  answered yet blocks the upgrade for a person.
"""

from __future__ import annotations

import datetime as dt
import threading

from releasedesk.consent.choices import ConsentMode, ConsentState, PostponeStatus
from releasedesk.consent.facts import notice_delivery
from releasedesk.consent.models import Consent
from releasedesk.core.timeutil import format_local, format_utc
from releasedesk.timeline.gates import GateContext, GateFailure, register_gate
from releasedesk.timeline.models import ScheduledStep, StepKind

# The step each thread last checked per release: a gate's "replan" is carried out for
# exactly that step once its transaction commits (see `hooks.replan_after_gate`).
_checked = threading.local()


def checked_step(release_id: int) -> tuple[int, str] | None:
    steps: dict[int, tuple[int, str]] = getattr(_checked, "steps", {})
    return steps.pop(release_id, None)


def _requires(step: ScheduledStep) -> list[str]:
    payload = step.payload if isinstance(step.payload, dict) else {}
    return [str(r) for r in payload.get("requires") or []]


def _when(instant: dt.datetime, zone: str) -> str:
    return f"{format_local(instant, zone or 'UTC')} = {format_utc(instant)}"


@register_gate("notice_delivered", kinds=(StepKind.UPGRADE,))
def notice_delivered(ctx: GateContext) -> GateFailure | None:
    step = ctx.step
    steps: dict[int, tuple[int, str]] = getattr(_checked, "steps", None) or {}
    steps[step.release_id] = (step.pk, step.lease_owner)
    _checked.steps = steps
    for need in _requires(step):
        if not need.startswith("notice:"):
            continue
        day = need.removeprefix("notice:")
        key = f"r{step.release_id}:i{step.instance_id}:notice:{day}"
        notice = ScheduledStep.objects.filter(release_id=step.release_id, key=key).first()
        if notice is None or notice.late_after is None:
            return GateFailure(
                "notice_delivered", f"The notice {key} is not in the timeline", "replan"
            )
        delivered = notice_delivery(step.release_id, key)
        deliver_by = notice.late_after
        if delivered is None:
            return GateFailure(
                "notice_delivered",
                f"The notice for this upgrade was not delivered (it had to arrive by "
                f"{_when(deliver_by, step.zone)}): the upgrade needs a new slot and a new notice",
                "replan",
            )
        if delivered > deliver_by:
            return GateFailure(
                "notice_delivered",
                f"The notice was delivered {_when(delivered, step.zone)}, after "
                f"{_when(deliver_by, step.zone)}: less than the required notice; the "
                "upgrade needs a new slot and a new notice",
                "replan",
            )
    return None


@register_gate("consent", kinds=(StepKind.UPGRADE,))
def consent(ctx: GateContext) -> GateFailure | None:
    step = ctx.step
    if step.instance_id is None:
        return None
    payload = step.payload if isinstance(step.payload, dict) else {}
    day = payload.get("slot_date")
    if not day:
        return None
    row = Consent.objects.filter(
        release_id=step.release_id, instance_id=step.instance_id, slot_date=day
    ).first()
    required = f"consent:{day}" in _requires(step)
    if row is None:
        if required:
            return GateFailure(
                "consent", f"No acceptance was recorded for the slot of {day}", "replan"
            )
        return None
    decided_in_time = row.decided_at is not None and row.decided_at <= row.deadline
    if row.state == ConsentState.OPTED_OUT and decided_in_time:
        return GateFailure(
            "consent",
            f"The customer opted out {_when(row.decided_at, row.zone)}, before the deadline "
            f"{_when(row.deadline, row.zone)}",
            "replan",
        )
    if row.state == ConsentState.POSTPONED and decided_in_time:
        if row.postpone_status == PostponeStatus.PROPOSED:
            return GateFailure(
                "consent",
                "The customer proposed another date: staff must confirm or refuse it first",
                "block",
            )
        if row.postpone_status == PostponeStatus.CONFIRMED:
            return GateFailure("consent", "Staff confirmed the customer's postponement", "replan")
    if row.mode == ConsentMode.APPROVE or required:
        if row.state == ConsentState.APPROVED and decided_in_time:
            return None
        return GateFailure(
            "consent",
            f"Not accepted by the deadline {_when(row.deadline, row.zone)}",
            "replan",
        )
    return None
