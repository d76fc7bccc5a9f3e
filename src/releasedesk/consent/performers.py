"""Performers of the communication steps (`notice`, `reminder`, `consent_deadline`,
`confirm`), registered with `timeline.execution` when the app is ready.

Each runs in one transaction with its messages (transactional outbox): a step performed
twice (after a crash) writes no second message, because message keys are deterministic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from releasedesk.audit.services import record
from releasedesk.catalog.models import Instance
from releasedesk.consent import notify, services
from releasedesk.consent.choices import ConsentMode, ConsentState
from releasedesk.consent.models import Consent
from releasedesk.core.context import SYSTEM
from releasedesk.core.queue import Outcome
from releasedesk.outbox.choices import MessageKind
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.timeline.execution import defer, register_performer
from releasedesk.timeline.models import RunStatus, ScheduledStep, StepKind, StepRun

AFTER_DEADLINE = dt.timedelta(seconds=1)


def _payload(step: ScheduledStep) -> dict[str, Any]:
    return step.payload if isinstance(step.payload, dict) else {}


def _instant(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _day_of(step: ScheduledStep) -> dt.date:
    return dt.date.fromisoformat(step.key.rsplit(":", 1)[1])


def _load(step: ScheduledStep) -> tuple[Release, Instance | None]:
    release = Release.objects.prefetch_related("products").get(pk=step.release_id)
    instance = (
        Instance.objects.select_related("owner", "product").get(pk=step.instance_id)
        if step.instance_id is not None
        else None
    )
    return release, instance


def _consent(release: Release, instance_id: int | None, day: dt.date) -> Consent | None:
    if instance_id is None:
        return None
    services.sync_consents(release)
    return (
        Consent.objects.select_related("release", "instance", "customer")
        .filter(release=release, instance_id=instance_id, slot_date=day)
        .first()
    )


def _audit(step: ScheduledStep, action: str, sent: notify.Sent, **extra: Any) -> None:
    record(
        actor=SYSTEM,
        action=action,
        obj=step,
        after={
            "key": step.key,
            "messages": sent.created,
            "recipients": sent.recipients,
            "skipped": sent.skipped,
            **extra,
        },
        scope=release_scope(step.release_id),
    )


def _nobody(step: ScheduledStep, sent: notify.Sent) -> Outcome | None:
    if sent.recipients:
        return None
    from releasedesk.core.alerts import raise_alert

    message = (
        f"Nobody could be told ({step.label}): no reachable recipient "
        f"({sent.skipped} skipped). Fix the contacts; the upgrade will not run without "
        "its notice."
    )
    raise_alert(kind="consent.no_recipient", title=message[:300], detail=message, obj=step)
    return Outcome.block(message)


@register_performer(StepKind.NOTICE)
def perform_notice(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """Advance notice (`…:notice:<date>`), the planner's "your date moved" after a carry
    (`…:notice:moved:<date>`) or the post-hotfix notice (`…:notice:afterwards`)."""
    payload = _payload(step)
    with transaction.atomic():
        release, instance = _load(step)
        to = str(payload.get("to") or step.audience or "instance_contacts")
        audience = notify.recipients_for(
            release, instance, to, [int(i) for i in payload.get("contact_ids") or []]
        )
        iid = step.instance_id or 0
        if ":notice:moved:" in step.key:
            new_start = _instant(payload.get("new_slot_start")) or step.due_at
            day = _day_of(step)
            consent = _consent(release, step.instance_id, day)
            moved_from = [str(d) for d in payload.get("moved_from") or []]
            ctx = notify.consent_context(
                notify.base_context(
                    release,
                    instance,
                    starts_at=new_start,
                    reason=services.moved_reason(release, step.instance_id, moved_from),
                ),
                consent,
            )
            sent = notify.send(
                release=release,
                audience=audience,
                kind=MessageKind.DATE_MOVED,
                context=ctx,
                subject=notify.ref(iid, "moved", day),
                due_at=now,
                consent=consent,
            )
            _audit(step, "consent.date_moved_sent", sent, moved_from=moved_from)
            return _nobody(step, sent) or Outcome.done()
        if step.key.endswith(":notice:afterwards"):
            ctx = notify.base_context(
                release, instance, starts_at=now, reason=release.hotfix_reason
            )
            sent = notify.send(
                release=release,
                audience=audience,
                kind=MessageKind.POST_HOTFIX,
                context=ctx,
                subject=notify.ref(iid, "afterwards"),
                due_at=now,
            )
            _audit(step, "consent.post_hotfix_sent", sent)
            return _nobody(step, sent) or Outcome.done()
        day = _day_of(step)
        start = _instant(payload.get("slot_start"))
        consent = _consent(release, step.instance_id, day)
        cannot = payload.get("opt_out_allowed") is False
        ctx = notify.consent_context(
            notify.base_context(release, instance, starts_at=start),
            consent if not cannot else None,
            cannot_opt_out=cannot,
        )
        sent = notify.send(
            release=release,
            audience=audience,
            kind=MessageKind.ADVANCE_NOTICE,
            context=ctx,
            subject=notify.ref(iid, "notice", day),
            due_at=now,
            consent=consent if not cannot else None,
            # Never delivered late: a notice that cannot keep its lead is missed, and the
            # notice gate replans the upgrade.
            late_after=step.late_after,
        )
        _audit(step, "consent.notice_sent", sent, deliver_by=payload.get("deliver_by"))
        return _nobody(step, sent) or Outcome.done()


@register_performer(StepKind.REMINDER)
def perform_reminder(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """Remind the people who must answer, unless the consent was answered meanwhile."""
    payload = _payload(step)
    with transaction.atomic():
        release, instance = _load(step)
        day = _day_of(step)
        # The reminder's key names the slot's date (…:reminder:<slot date>).
        consent = _consent(release, step.instance_id, day)
        if consent is not None and consent.state != ConsentState.PENDING:
            return Outcome.skip(f"already answered: {consent.state}")
        to = str(step.audience or payload.get("to") or "instance_contacts")
        audience = notify.recipients_for(
            release, instance, to, [int(i) for i in payload.get("contact_ids") or []]
        )
        start = consent.slot_start if consent is not None else None
        ctx = notify.consent_context(
            notify.base_context(release, instance, starts_at=start), consent
        )
        sent = notify.send(
            release=release,
            audience=audience,
            kind=MessageKind.REMINDER,
            context=ctx,
            subject=notify.ref(step.instance_id or 0, "reminder", day),
            due_at=now,
            consent=consent,
            late_after=consent.deadline if consent is not None else None,
        )
        _audit(step, "consent.reminder_sent", sent)
        return _nobody(step, sent) or Outcome.done()


@register_performer(StepKind.CONSENT_DEADLINE)
def perform_consent_deadline(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """The deadline passed: silence becomes `no_response`; where silence waits (OEM
    acceptance) the release is replanned, which carries the instance to the next cycle."""
    if step.instance_id is None:
        return Outcome.done()
    day = _day_of(step)
    deadline = (
        Consent.objects.filter(
            release_id=step.release_id, instance_id=step.instance_id, slot_date=day
        )
        .values_list("deadline", flat=True)
        .first()
    )
    if deadline is not None and now <= deadline:
        # Received at or before the deadline counts: decide just after it.
        with transaction.atomic():
            return defer(
                step,
                due_at=deadline + AFTER_DEADLINE,
                message="answers received at the deadline instant still count",
                now=now,
            )
    row = services.deadline_passed(
        release_id=step.release_id, instance_id=step.instance_id, slot_date=day
    )
    if (
        row is not None
        and row.state == ConsentState.NO_RESPONSE
        and row.mode == ConsentMode.APPROVE
    ):
        from releasedesk.timeline.replan import replan_release

        replan_release(row.release, actor=SYSTEM)
    return Outcome.done()


@register_performer(StepKind.CONFIRM)
def perform_confirm(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """After the (verified) upgrade: a confirmation with the time it completed."""
    payload = _payload(step)
    with transaction.atomic():
        release, instance = _load(step)
        upgrade_key = step.key.rsplit(":", 1)[0] + ":upgrade"
        finished = (
            StepRun.objects.filter(
                step__release_id=step.release_id,
                step__key=upgrade_key,
                status=RunStatus.SUCCEEDED,
            )
            .values_list("finished_at", flat=True)
            .first()
        )
        to = str(step.audience or payload.get("to") or "instance_contacts")
        audience = notify.recipients_for(
            release, instance, to, [int(i) for i in payload.get("contact_ids") or []]
        )
        ctx = notify.base_context(release, instance, starts_at=finished or now)
        sent = notify.send(
            release=release,
            audience=audience,
            kind=MessageKind.CONFIRMATION,
            context=ctx,
            subject=notify.ref(step.instance_id or 0, "confirm"),
            due_at=now,
        )
        _audit(step, "consent.confirmation_sent", sent)
        return _nobody(step, sent) or Outcome.done()
