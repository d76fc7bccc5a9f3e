"""Messages about upgrades: advance notices, reminders, "your date moved", cancellations,
confirmations — one outbox message per recipient, written in the transaction of the step
(or re-plan) that causes it, idempotent by key.

Each message shows the time in the recipient's zone with the zone's name and in UTC, the
deadline, signed consent links (one set per recipient: the link names the person who
answers), the cap on consecutive opt-outs, or that the upgrade cannot be opted out of.

Subjects (`Message.subject_ref`) tie messages to their step: `i30.notice.2027-02-09`
(advance notice), `i30.reminder.2027-02-07`, `i30.moved.2027-03-09` (one "your date
moved" per new date, whether the planner's carry notice or a re-plan sends it first),
`i30.cancelled.2027-02-09`, `i30.confirm`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from releasedesk.catalog.models import Contact, Instance
from releasedesk.consent import links
from releasedesk.consent.choices import Action, ConsentMode, ConsentState
from releasedesk.consent.models import Consent
from releasedesk.core.context import Actor
from releasedesk.core.timeutil import to_local
from releasedesk.outbox import audiences
from releasedesk.outbox.audiences import Audience
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.models import Message
from releasedesk.outbox.rendering import MessageContext, Rendered, change_lines
from releasedesk.outbox.services import cancel_pending, enqueue
from releasedesk.releases.models import Release

LINK_LABELS: dict[str, str] = {
    Action.OPT_OUT: "Opt out of this upgrade",
    Action.POSTPONE: "Propose another date",
    Action.ACCEPT: "Accept this release",
}


@dataclass(frozen=True, slots=True)
class Sent:
    created: int
    recipients: int
    skipped: int


def ref(instance_id: int, what: str, day: dt.date | str | None = None) -> str:
    return f"i{instance_id}.{what}" + (f".{day}" if day is not None else "")


def local_date(instant: dt.datetime, zone: str) -> dt.date:
    return to_local(instant, zone or "UTC").date()


def base_context(release: Release, instance: Instance | None, **extra: Any) -> MessageContext:
    products = tuple(sorted(p.name for p in release.products.all()))
    return MessageContext(
        release_version=release.version,
        release_title=release.title,
        products=products,
        customer_name=(instance.owner.name if instance and instance.owner else ""),
        instance_name=(instance.name if instance else ""),
        changes=change_lines(release.changes.order_by("position", "id")),
        **extra,
    )


def consent_context(
    ctx: MessageContext, consent: Consent | None, *, cannot_opt_out: bool = False
) -> MessageContext:
    """The deadline, mode and cap statements of a consent (links are added per recipient)."""
    if cannot_opt_out:
        return replace(ctx, cannot_opt_out=True)
    if consent is None:
        return ctx
    from releasedesk.consent.services import contact_text, opt_out_limit, opt_out_streak

    cap = used = None
    if consent.mode == ConsentMode.OPT_OUT:
        cap = opt_out_limit(consent)
        if cap is not None:
            used = opt_out_streak(
                consent.instance_id, before=consent.slot_start, exclude=consent.pk
            )
    return replace(
        ctx,
        deadline=consent.deadline,
        consent_mode=consent.mode,
        opt_out_cap=cap,
        opt_outs_used=used or 0,
        contact_text=ctx.contact_text or contact_text(),
    )


def actions_for(consent: Consent) -> tuple[str, ...]:
    if consent.mode == ConsentMode.APPROVE:
        return (Action.ACCEPT,)
    return (Action.OPT_OUT, Action.POSTPONE)


def recipients_for(
    release: Release, instance: Instance | None, to: str, contact_ids: Sequence[int]
) -> Audience:
    """The planner's recipients (`contact_ids` frozen into the step) with the audience's
    reasons; contacts that became unreachable or were erased since are skipped."""
    products = list(release.products.all())
    try:
        audience = audiences.resolve(
            to or "instance_contacts",
            products=products,
            instances=[instance] if instance is not None else None,
        )
    except Exception:  # an audience name the outbox does not know: the ids still count
        audience = Audience()
    restricted = audiences.restrict(audience, contact_ids)
    known = {r.contact.pk for r in restricted.recipients if r.contact is not None}
    known |= {s.contact.pk for s in restricted.skipped}
    missing = [i for i in contact_ids if i not in known]
    if missing:
        extra = Audience()
        for contact in Contact.objects.select_related("customer").filter(pk__in=missing):
            audiences._add_contact(extra, contact, f"contact of {contact.customer.name}")
        restricted = audiences.merge([restricted, extra])
    return restricted


def send(
    *,
    release: Release,
    audience: Audience,
    kind: str,
    context: MessageContext,
    subject: str,
    due_at: dt.datetime,
    consent: Consent | None = None,
    late_after: dt.datetime | None = None,
) -> Sent:
    """One message per recipient (in the caller's transaction), with that recipient's
    signed consent links when `consent` is still open."""
    created = 0
    open_consent = consent is not None and consent.state == ConsentState.PENDING
    for recipient in audience.recipients:
        ctx = context
        if open_consent and recipient.contact is not None:
            assert consent is not None
            ctx = replace(
                context,
                consent_links=tuple(
                    (LINK_LABELS[a], links.make_link(consent, recipient.contact, a))
                    for a in actions_for(consent)
                ),
            )
        before = Message.objects.filter(release=release, subject_ref=subject).count()
        enqueue(
            recipient=recipient,
            kind=kind,
            due_at=due_at,
            context=ctx,
            release=release,
            subject_ref=subject,
            late_after=late_after,
        )
        created += Message.objects.filter(release=release, subject_ref=subject).count() - before
    return Sent(created=created, recipients=len(audience.recipients), skipped=len(audience.skipped))


def told_contacts(release: Release, instance_id: int) -> list[Contact]:
    """Contacts who were sent (or are about to be sent) anything about this instance's upgrade."""
    ids = (
        Message.objects.filter(
            release=release,
            subject_ref__startswith=f"i{instance_id}.",
            kind__in=(MessageKind.ADVANCE_NOTICE, MessageKind.REMINDER, MessageKind.DATE_MOVED),
            contact__isnull=False,
        )
        .exclude(state="cancelled")
        .values_list("contact_id", flat=True)
        .distinct()
    )
    return list(Contact.objects.select_related("customer").filter(pk__in=list(ids)).order_by("pk"))


def audience_of(contacts: Iterable[Contact], why: str) -> Audience:
    audience = Audience()
    for contact in contacts:
        audiences._add_contact(audience, contact, why)
    return audience


def alert_customer_success(consent: Consent, message: str) -> int:
    """A staff message to customer success (role `customer_success`) about a refused opt-out."""
    audience = audiences.staff_by_role(["customer_success"])
    subject = f"Opt-out refused: {consent.customer.name}, {consent.instance.slug}"
    rendered = Rendered(subject=subject, text=message + "\n", html=f"<p>{message}</p>")
    for recipient in audience.recipients:
        enqueue(
            recipient=recipient,
            kind=MessageKind.STAFF_ALERT,
            due_at=consent.updated_at,
            rendered=rendered,
            release=consent.release,
            subject_ref=ref(consent.instance_id, "refused", consent.slot_date),
        )
    return len(audience.recipients)


def cancel_old_slot(release: Release, instance_id: int, day: dt.date, *, actor: Actor) -> int:
    """Messages about a slot that moved or went away and have not been sent yet are dropped."""
    count = 0
    for what in ("notice", "reminder"):
        count += cancel_pending(
            actor=actor,
            release=release,
            subject_ref=ref(instance_id, what, day),
            reason=f"the upgrade of {day.isoformat()} moved or was cancelled",
        )
    return count
