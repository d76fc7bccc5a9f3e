"""Consent state changes: keeping consent rows in step with the plan, decisions (portal,
e-mail link, staff by phone, API), postponements confirmed or refused by staff, silence at
the deadline. Every decision is audited and followed by a re-plan of the release (the
planner turns an opt-out into the next cycle, an acceptance into the upgrade).

A decision counts when it is received at or before the deadline instant (DESIGN.md §4);
a consent is decided once. The policy may cap consecutive opt-outs: the next one is refused
(`OptOutRefused`) and customer success is alerted — the refusal and the alert are committed
even though the decision is not.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.db import transaction

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.catalog.models import Contact, Customer
from releasedesk.consent.choices import (
    DECIDED,
    ConsentMode,
    ConsentState,
    DecisionChannel,
    PostponeStatus,
)
from releasedesk.consent.models import Consent
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import Conflict, ValidationFailed
from releasedesk.core.queue_models import AlertSeverity, WorkState
from releasedesk.core.timeutil import format_local, format_utc
from releasedesk.policies.timeschema import ConsentSpec
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.timeline.models import ScheduledStep, StepKind

log = logging.getLogger("releasedesk.consent")

# A decision is about this many days ahead at most when it proposes another date.
MAX_POSTPONE = dt.timedelta(days=92)


class DeadlinePassed(Conflict):
    code = "deadline_passed"


class AlreadyDecided(Conflict):
    code = "already_decided"


class OptOutRefused(Conflict):
    code = "opt_out_refused"


def contact_text() -> str:
    """Whom a customer contacts when the deadline has passed (setting or the From address)."""
    configured = getattr(settings, "RELEASEDESK_CONSENT_CONTACT", "")
    if configured:
        return str(configured)
    address = parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1] or "the release team"
    return f"Please contact your customer success manager, or write to {address}."


def when(instant: dt.datetime, zone: str) -> str:
    return f"{format_local(instant, zone)} = {format_utc(instant)}"


# --- the policy's consent rule for a consent -----------------------------------------------


def consent_spec(release: Release, target: str) -> ConsentSpec | None:
    from releasedesk.planning.snapshot import policy_for

    try:
        doc = policy_for(release)
    except ValueError:
        return None
    for spec in doc.targets:
        if spec.name == target:
            return spec.consent
    return None


def opt_out_limit(consent: Consent) -> int | None:
    """The stricter of the policy's and the customer's contract cap (None: no cap)."""
    from releasedesk.planning.snapshot import _contract

    limits: list[int] = []
    spec = consent_spec(consent.release, consent.target)
    if spec is not None and spec.max_consecutive_opt_outs is not None:
        limits.append(spec.max_consecutive_opt_outs)
    contract = Customer.objects.filter(pk=consent.customer_id).values_list(
        "contract_overrides", flat=True
    )
    terms = _contract(contract.first())
    if terms.max_consecutive_opt_outs is not None:
        limits.append(terms.max_consecutive_opt_outs)
    return min(limits) if limits else None


def counts_as_opt_out(row: Consent) -> bool:
    return row.state == ConsentState.OPTED_OUT or (
        row.state == ConsentState.POSTPONED and row.postpone_status == PostponeStatus.CONFIRMED
    )


def opt_out_streak(instance_id: int, *, before: dt.datetime, exclude: int | None = None) -> int:
    """Consecutive opt-outs of this instance on slots before `before`, newest first, until
    a slot that went ahead (approved or silent)."""
    rows = (
        Consent.objects.filter(instance_id=instance_id, slot_start__lt=before)
        .exclude(pk=exclude)
        .order_by("-slot_start", "-id")
    )
    streak = 0
    for row in rows:
        if counts_as_opt_out(row):
            streak += 1
        elif row.state in (ConsentState.APPROVED, ConsentState.NO_RESPONSE):
            break
    return streak


# --- keeping consent rows in step with the plan ----------------------------------------------

LIVE_STEP_STATES = (WorkState.PENDING, WorkState.BLOCKED, WorkState.RUNNING, WorkState.DONE)


def sync_consents(release: Release, *, now: dt.datetime | None = None) -> int:
    """Create a pending consent for every planned consent deadline that has none (in the
    caller's transaction); drop undecided placeholders whose slot left the plan. Returns
    how many were created."""
    now = now or clock.now()
    steps = list(
        ScheduledStep.objects.filter(release=release, kind=StepKind.CONSENT_DEADLINE)
        .exclude(instance__isnull=True)
        .values("key", "state", "due_at", "zone", "target", "instance_id", "customer_id", "payload")
    )
    existing = {
        (row.instance_id, row.slot_date): row for row in Consent.objects.filter(release=release)
    }
    owners = dict(
        ScheduledStep.objects.filter(release=release, kind=StepKind.CONSENT_DEADLINE)
        .exclude(instance__isnull=True)
        .values_list("instance_id", "instance__owner_id")
    )
    created = 0
    live: set[tuple[int, dt.date]] = set()
    for step in steps:
        payload = step["payload"] if isinstance(step["payload"], dict) else {}
        day = dt.date.fromisoformat(step["key"].rsplit(":", 1)[1])
        slot_start = payload.get("slot_start")
        customer_id = step["customer_id"] or owners.get(step["instance_id"])
        if not slot_start or customer_id is None:
            continue
        ident = (step["instance_id"], day)
        if step["state"] in LIVE_STEP_STATES:
            live.add(ident)
        if ident in existing or step["state"] not in LIVE_STEP_STATES:
            continue
        row = Consent.objects.create(
            release=release,
            target=step["target"],
            instance_id=step["instance_id"],
            customer_id=customer_id,
            slot_date=day,
            slot_start=dt.datetime.fromisoformat(slot_start),
            deadline=step["due_at"],
            zone=step["zone"],
            mode=str(payload.get("mode") or ConsentMode.OPT_OUT),
            state=ConsentState.PENDING,
            created_at=now,
            updated_at=now,
        )
        existing[ident] = row
        created += 1
    stale = [
        row.pk
        for ident, row in existing.items()
        if ident not in live and row.state == ConsentState.PENDING
    ]
    if stale:
        Consent.objects.filter(pk__in=stale, state=ConsentState.PENDING).delete()
    if created or stale:
        record(
            actor=SYSTEM,
            action="consent.synced",
            obj=release,
            after={"created": created, "dropped": len(stale)},
            scope=release_scope(release.pk),
        )
    return created


# --- decisions ---------------------------------------------------------------------------------

ALLOWED: dict[str, tuple[str, ...]] = {
    ConsentMode.OPT_OUT: (ConsentState.OPTED_OUT, ConsentState.POSTPONED),
    ConsentMode.APPROVE: (ConsentState.APPROVED,),
}


@dataclass(frozen=True, slots=True)
class _Refusal:
    message: str
    streak: int
    limit: int


def _lock(consent: Consent | int) -> Consent:
    pk = consent if isinstance(consent, int) else consent.pk
    found: Consent = (
        Consent.objects.select_for_update()
        .select_related("release", "instance", "customer")
        .get(pk=pk)
    )
    return found


def _check_open(row: Consent, received_at: dt.datetime) -> None:
    if row.state in DECIDED:
        by = "by phone (recorded by staff)" if row.channel == DecisionChannel.STAFF_PHONE else ""
        raise AlreadyDecided(
            f"This upgrade was already answered: {ConsentState(row.state).label.lower()} "
            f"{when(row.decided_at, row.zone) if row.decided_at else ''} {by}".strip()
            + ". A decision is made once; "
            + contact_text(),
            fields={"state": row.state},
        )
    if received_at > row.deadline or row.state == ConsentState.NO_RESPONSE:
        raise DeadlinePassed(
            f"The deadline for this upgrade was {when(row.deadline, row.zone)}; answers "
            f"received after it no longer count. {contact_text()}",
            fields={"deadline": row.deadline.isoformat()},
        )


def decide(
    *,
    consent: Consent | int,
    decision: str,
    actor: Actor,
    channel: str,
    contact: Contact | None = None,
    user: User | None = None,
    proposed_start: dt.datetime | None = None,
    comment: str = "",
    received_at: dt.datetime | None = None,
) -> Consent:
    """Record a customer's decision on one slot (see the module docstring).

    `received_at` (staff recording a phone call) defaults to now and may not be in the future.
    Raises DeadlinePassed, AlreadyDecided, ValidationFailed, or OptOutRefused (committed:
    audit + alert).
    """
    now = clock.now()
    received = received_at or now
    if received > now:
        raise ValidationFailed(
            "received_at lies in the future", fields={"received_at": "not after now"}
        )
    if channel not in DecisionChannel.values:
        raise ValidationFailed(
            f"unknown channel {channel!r}",
            fields={"channel": f"allowed: {', '.join(DecisionChannel.values)}"},
        )
    refusal: _Refusal | None = None
    with transaction.atomic():
        row = _lock(consent)
        allowed = ALLOWED.get(row.mode, ())
        if decision not in allowed:
            raise ValidationFailed(
                f"{decision!r} is not an answer to this {ConsentMode(row.mode).label.lower()} "
                f"request (allowed: {', '.join(allowed)})",
                fields={"decision": f"allowed: {', '.join(allowed)}"},
            )
        _check_open(row, received)
        if decision == ConsentState.POSTPONED:
            _check_proposal(row, proposed_start)
        if decision in (ConsentState.OPTED_OUT, ConsentState.POSTPONED):
            refusal = _cap_refusal(row)
        if refusal is not None:
            _record_refusal(row, actor=actor, refusal=refusal, channel=channel, now=now)
        else:
            before = row.as_audit()
            row.state = decision
            row.decided_at = received
            row.decided_by_contact = contact
            row.decided_by_user = user
            row.channel = channel
            row.comment = comment[:2000]
            if decision == ConsentState.POSTPONED:
                row.proposed_start = proposed_start
                row.postpone_status = PostponeStatus.PROPOSED
            row.updated_at = now
            row.save()
            record(
                actor=actor,
                action="consent.decided",
                obj=row,
                before=before,
                after=row.as_audit(),
                scope=release_scope(row.release_id),
            )
            if decision != ConsentState.POSTPONED:
                _replan(row.release, actor)
    if refusal is not None:
        raise OptOutRefused(refusal.message, fields={"limit": str(refusal.limit)})
    return row


def _check_proposal(row: Consent, proposed: dt.datetime | None) -> None:
    if proposed is None:
        raise ValidationFailed(
            "Propose the date and time you would like instead.",
            fields={"proposed_start": "required"},
        )
    if proposed <= row.slot_start:
        raise ValidationFailed(
            f"The proposed date must be after the planned upgrade ({when(row.slot_start, row.zone)}).",
            fields={"proposed_start": "after the planned upgrade"},
        )
    if proposed > row.slot_start + MAX_POSTPONE:
        raise ValidationFailed(
            f"The proposed date must be within {MAX_POSTPONE.days} days of the planned upgrade.",
            fields={"proposed_start": f"within {MAX_POSTPONE.days} days"},
        )


def _cap_refusal(row: Consent) -> _Refusal | None:
    limit = opt_out_limit(row)
    if limit is None:
        return None
    streak = opt_out_streak(row.instance_id, before=row.slot_start, exclude=row.pk)
    if streak < limit:
        return None
    return _Refusal(
        message=(
            f"This opt-out cannot be accepted: {row.instance.name} has already been opted out "
            f"{streak} time{'s' if streak != 1 else ''} in a row, the most the agreement "
            f"allows ({limit}). The upgrade goes ahead as planned on "
            f"{when(row.slot_start, row.zone)}. Customer success has been told and will "
            "contact you."
        ),
        streak=streak,
        limit=limit,
    )


def _record_refusal(
    row: Consent, *, actor: Actor, refusal: _Refusal, channel: str, now: dt.datetime
) -> None:
    from releasedesk.core.alerts import raise_alert

    record(
        actor=actor,
        action="consent.opt_out_refused",
        obj=row,
        after={
            **row.as_audit(),
            "channel": channel,
            "streak": refusal.streak,
            "limit": refusal.limit,
        },
        scope=release_scope(row.release_id),
    )
    raise_alert(
        kind="consent.opt_out_refused",
        severity=AlertSeverity.WARNING,
        title=(
            f"Customer success: {row.customer.name} asked to opt {row.instance.slug} out of "
            f"{row.release.version} a {refusal.streak + 1}. time (limit {refusal.limit})"
        ),
        detail=refusal.message,
        obj=row,
        now=now,
    )
    from releasedesk.consent.notify import alert_customer_success

    alert_customer_success(row, refusal.message)


def _replan(release: Release, actor: Actor) -> None:
    from releasedesk.timeline.replan import replan_release

    replan_release(release, actor=actor)


@transaction.atomic
def decide_postponement(
    *, consent: Consent | int, confirm: bool, user: User, actor: Actor, comment: str = ""
) -> Consent:
    """Staff confirm (the slot moves to the next cycle) or refuse (the upgrade goes ahead)
    a postponement the customer proposed before the deadline."""
    row = _lock(consent)
    if row.state != ConsentState.POSTPONED or row.postpone_status != PostponeStatus.PROPOSED:
        raise Conflict(
            "There is no proposed date waiting for a decision on this consent.",
            fields={"postpone_status": row.postpone_status or "none"},
        )
    now = clock.now()
    before = row.as_audit()
    row.postpone_status = PostponeStatus.CONFIRMED if confirm else PostponeStatus.REFUSED
    row.postpone_decided_by = user
    row.postpone_decided_at = now
    if comment:
        row.comment = (row.comment + "\n" + comment).strip()[:2000]
    row.updated_at = now
    row.save()
    record(
        actor=actor,
        action="consent.postponement_confirmed" if confirm else "consent.postponement_refused",
        obj=row,
        before=before,
        after=row.as_audit(),
        scope=release_scope(row.release_id),
    )
    _replan(row.release, actor)
    return row


@transaction.atomic
def deadline_passed(*, release_id: int, instance_id: int, slot_date: dt.date) -> Consent | None:
    """The deadline of a slot passed (strictly: an answer at the deadline instant counts): a
    pending consent becomes `no_response` (audited)."""
    row: Consent | None = (
        Consent.objects.select_for_update()
        .filter(release_id=release_id, instance_id=instance_id, slot_date=slot_date)
        .first()
    )
    if row is None or row.state != ConsentState.PENDING:
        return row
    now = clock.now()
    if now <= row.deadline:  # an answer received at the deadline instant still counts
        return row
    before = row.as_audit()
    row.state = ConsentState.NO_RESPONSE
    row.updated_at = now
    row.save(update_fields=["state", "updated_at"])
    record(
        actor=SYSTEM,
        action="consent.no_response",
        obj=row,
        before=before,
        after=row.as_audit(),
        scope=release_scope(row.release_id),
    )
    return row


def moved_reason(release: Release, instance_id: int | None, old_days: list[str]) -> str:
    """Why an upgrade moved, in the customer's words (no planning internals)."""
    if instance_id is None or not old_days:
        return ""
    try:
        day = dt.date.fromisoformat(old_days[-1])
    except ValueError:
        return ""
    row = Consent.objects.filter(release=release, instance_id=instance_id, slot_date=day).first()
    if row is not None:
        if row.state == ConsentState.OPTED_OUT:
            return f"You opted out of the upgrade planned for {day.isoformat()}."
        if row.state == ConsentState.POSTPONED and row.postpone_status == PostponeStatus.CONFIRMED:
            return f"Your request to postpone the upgrade of {day.isoformat()} was confirmed."
        if row.mode == ConsentMode.APPROVE and row.state != ConsentState.APPROVED:
            return (
                f"The release was not accepted by the deadline {when(row.deadline, row.zone)}, "
                "so your instance moves to the next cycle."
            )
    return (
        f"Our notice for the upgrade planned for {day.isoformat()} could not be delivered "
        "early enough, so the upgrade moves to the next possible date."
    )
