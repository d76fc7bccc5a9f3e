"""Performers for the timeline's people-and-publication steps (`timeline.execution.PERFORMERS`).

- `task`: makes sure the step has its Task, then waits for a person (the timeline's own
  task performer: a waiting run, the step blocked until someone marks it done or skips it).
- `publish`: `notes.services.publish_audience` — fails closed: until every locale of the
  audience's notes is signed off the step is blocked with the reason (retry it once signed).
- `send`: a newsletter (`send: {newsletter: [...]}`, `notes.selectors.newsletter_messages`),
  a target's release notes to the planner's recipients (e.g. partner notes on release day),
  or the white-label documentation notice to an OEM that updates its own documentation
  (`notes.selectors.oem_docs_notice`, per the OEM's `documentation_decision`) — one outbox
  message per recipient, written in one transaction, idempotent by key.
- `digest`: the policy's periodic digest (`notes.services.publish_digest`) of the period
  that ended the day before the step's cycle day, in every notes locale.
- `hypercare`: informational; the period is on the release page and the calendar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db import transaction

from releasedesk.audit.services import record
from releasedesk.catalog.models import Contact, Customer, Instance
from releasedesk.core.context import SYSTEM
from releasedesk.core.errors import DomainError
from releasedesk.core.queue import Outcome
from releasedesk.core.queue_models import WorkState
from releasedesk.notes import selectors as notes
from releasedesk.notes import services as notes_services
from releasedesk.notes.choices import Channel, DocsAction, NoteState
from releasedesk.notes.models import ReleaseNote
from releasedesk.notes.rendering import lang
from releasedesk.outbox import services as outbox
from releasedesk.outbox.audiences import contact_recipient
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.rendering import Rendered
from releasedesk.releases.models import Release
from releasedesk.releases.selectors import release_scope
from releasedesk.scheduling.cadence import cycle_on_or_before
from releasedesk.tasks.models import Task
from releasedesk.timeline import execution
from releasedesk.timeline.execution import register_performer
from releasedesk.timeline.models import ScheduledStep, StepKind


def _payload(step: ScheduledStep) -> dict[str, Any]:
    return step.payload if isinstance(step.payload, dict) else {}


def _audit(step: ScheduledStep, action: str, after: dict[str, Any]) -> None:
    record(
        actor=SYSTEM,
        action=action,
        obj=step,
        after={"key": step.key, "kind": step.kind, **after},
        scope=release_scope(step.release_id),
    )


def _still_ours(step: ScheduledStep) -> bool:
    """The claimed row is still ours (same lease, same attempt): a worker that lost its lease
    writes nothing."""
    return ScheduledStep.objects.filter(
        pk=step.pk, state=WorkState.RUNNING, lease_owner=step.lease_owner, attempts=step.attempts
    ).exists()


def _blocked(step: ScheduledStep, message: str) -> Outcome:
    with transaction.atomic():
        _audit(step, "step.blocked", {"message": message})
    return Outcome.block(message)


def _release(step: ScheduledStep) -> Release:
    found: Release = (
        Release.objects.select_related("policy", "policy_version")
        .prefetch_related("products")
        .get(pk=step.release_id)
    )
    return found


# --- task ------------------------------------------------------------------------------------


@register_performer(StepKind.TASK)
def perform_task(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """A task waits for a person; its Task row exists from the moment the plan was stored
    (made here too if the step was stored some other way)."""
    if step.key.endswith(":docs"):
        owner = _docs_owner(step)
        decision = notes.documentation_decision(owner) if owner is not None else None
        if decision is not None and decision.action != DocsAction.VENDOR_TASK:
            return _blocked(
                step,
                f"Not the vendor's task any more: {decision.reason}; the plan is out of date — "
                "re-plan the release",
            )
    if not Task.objects.filter(step_id=step.pk).exists():
        from releasedesk.tasks.services import sync_release_tasks

        sync_release_tasks(step.release_id, now=now)
    return execution.perform_task(step, now)


def _docs_owner(step: ScheduledStep) -> Customer | None:
    """The OEM owning the white-label instance of a documentation step."""
    if step.instance_id is not None:
        instance = Instance.objects.select_related("owner").filter(pk=step.instance_id).first()
        owner: Customer | None = instance.owner if instance is not None else None
        if owner is not None:
            return owner
    if step.customer_id is not None:
        return Customer.objects.filter(pk=step.customer_id).first()
    return None


# --- publish ---------------------------------------------------------------------------------


@register_performer(StepKind.PUBLISH)
def perform_publish(step: ScheduledStep, now: dt.datetime) -> Outcome:
    payload = _payload(step)
    audience = str(payload.get("notes") or step.audience)
    channel = str(payload.get("channel") or "")
    release = _release(step)
    try:
        created = notes_services.publish_audience(
            release=release,
            audience=audience,
            actor=SYSTEM,
            channels=[channel] if channel else None,
        )
    except DomainError as exc:
        return _blocked(step, f"Not published (fails closed): {exc.message}")
    published = ReleaseNote.objects.filter(
        release=release, audience=audience, state=NoteState.PUBLISHED
    ).values_list("locale", flat=True)
    with transaction.atomic():
        _audit(
            step,
            "step.published",
            {
                "audience": audience,
                "channel": channel,
                "locales": sorted(published),
                "publications": [
                    {"id": p.pk, "channel": p.channel, "state": p.state} for p in created
                ],
            },
        )
    return Outcome.done()


# --- send ------------------------------------------------------------------------------------


def _contacts(ids: list[int]) -> dict[int, Contact]:
    return Contact.objects.select_related("customer").in_bulk(ids)


def _publication_due(step: ScheduledStep, names: list[str], now: dt.datetime) -> bool:
    """A publish step of one of these audiences is due now but has not run yet (the newsletter
    goes out after the notes it announces are published)."""
    return (
        ScheduledStep.objects.filter(
            release_id=step.release_id,
            kind=StepKind.PUBLISH,
            state__in=(WorkState.PENDING, WorkState.RUNNING),
            due_at__lte=now,
            payload__notes__in=names,
        )
        .exclude(pk=step.pk)
        .exists()
    )


def _newsletter(
    step: ScheduledStep, release: Release, names: list[str], now: dt.datetime
) -> Outcome:
    if _publication_due(step, names, now):
        with transaction.atomic():
            return execution.defer(
                step,
                due_at=now + execution.DEPENDENCY_POLL,
                message="Waits for the publication of the notes it announces",
                now=now,
            )
    # Everything is composed before anything is written: one missing audience blocks all.
    batches: list[tuple[str, list[tuple[int, str, str, str]]]] = []
    for audience in names:
        try:
            batches.append((audience, notes.newsletter_messages(release, audience)))
        except DomainError as exc:
            return _blocked(step, f"Newsletter not sent (fails closed): {exc.message}")
    contacts = _contacts([cid for _, rows in batches for cid, *_ in rows])
    products = notes.default_brand(release)
    counts: dict[str, int] = {}
    with transaction.atomic():
        if not _still_ours(step):
            return Outcome.block("the step changed while it was being performed")
        for audience, rows in batches:
            for cid, subject, text, html in rows:
                contact = contacts[cid]
                why = (
                    f"the {audience} newsletter of {release.version}: contact of "
                    f"{contact.customer.name}, which uses {products}"
                )
                outbox.enqueue(
                    recipient=contact_recipient(contact, why),
                    kind=MessageKind.NEWSLETTER,
                    due_at=now,
                    rendered=Rendered(subject=subject, text=text, html=html),
                    release=release,
                    subject_ref=f"newsletter-{audience}"[:64],
                )
            counts[audience] = len(rows)
        _audit(step, "step.sent", {"newsletter": counts})
    return Outcome.done()


def _notes_for(release: Release, audience: str) -> dict[str, ReleaseNote]:
    return {
        n.locale: n
        for n in ReleaseNote.objects.filter(
            release=release, audience=audience, state=NoteState.PUBLISHED
        ).select_related("release")
    }


def _release_notes(
    step: ScheduledStep, release: Release, audience: str, now: dt.datetime
) -> Outcome:
    """A target's release notes (e.g. partner notes to OEM partner contacts on release day)."""
    found = _notes_for(release, audience)
    if not found:
        return _blocked(
            step,
            f"Release notes not sent (fails closed): release {release.version} has no published "
            f"{audience!r} notes; publish them, then retry this step",
        )
    contacts = _contacts([int(c) for c in _payload(step).get("contact_ids", [])])
    brand = notes.default_brand(release)
    rendered: dict[str, Rendered] = {}
    with transaction.atomic():
        if not _still_ours(step):
            return Outcome.block("the step changed while it was being performed")
        for contact in sorted(contacts.values(), key=lambda c: c.pk):
            if contact.erased_at is not None or not contact.reachable:
                continue
            locale = notes.pick_locale(list(found), contact.effective_locale)
            assert locale is not None
            if locale not in rendered:
                note = notes.render_note(found[locale], brand=brand)
                subject = notes.NEWSLETTER_SUBJECT[lang(locale)].format(title=note.title)
                rendered[locale] = Rendered(
                    subject=subject,
                    text=f"{note.title}\n\n{note.markdown}",
                    html=f"<h1>{note.title}</h1>\n{note.html}",
                )
            recipient = contact_recipient(
                contact, f"{step.audience.replace('_', ' ')}: contact of {contact.customer.name}"
            )
            outbox.enqueue(
                # The message's locale is the notes' (a contact may get the English fallback).
                recipient=dataclasses.replace(recipient, locale=locale),
                kind=MessageKind.RELEASE_NOTES,
                due_at=now,
                rendered=rendered[locale],
                release=release,
                subject_ref=f"notes-{audience}"[:64],
            )
        _audit(step, "step.sent", {"notes": audience, "recipients": sorted(contacts)})
    return Outcome.done()


def _docs_notice(step: ScheduledStep, release: Release, now: dt.datetime) -> Outcome:
    """S2 step 3: an OEM that updates its own white-label documentation gets the notes under
    its own name, as the OEM's documentation decision says."""
    owner = _docs_owner(step)
    if owner is None:
        return _blocked(step, "The white-label instance has no owner to send the notes to")
    decision = notes.documentation_decision(owner)
    if decision.action != DocsAction.OEM_NOTICE:
        return _blocked(
            step,
            f"Not sent: {decision.reason}, so the vendor's docs team has the task; "
            "the plan is out of date — re-plan the release",
        )
    audience = _payload(step).get("notes")
    try:
        subject, text, html = notes.oem_docs_notice(
            release, owner, audience=str(audience) if audience else None
        )
    except DomainError as exc:
        return _blocked(step, f"Documentation notice not sent (fails closed): {exc.message}")
    contacts = _contacts([int(c) for c in _payload(step).get("contact_ids", [])])
    sent: list[int] = []
    with transaction.atomic():
        if not _still_ours(step):
            return Outcome.block("the step changed while it was being performed")
        for contact in sorted(contacts.values(), key=lambda c: c.pk):
            if contact.customer_id != owner.pk or contact.erased_at or not contact.reachable:
                continue
            outbox.enqueue(
                recipient=contact_recipient(
                    contact, f"partner contact of {owner.name}, which updates its own documentation"
                ),
                kind=MessageKind.RELEASE_NOTES,
                due_at=now,
                rendered=Rendered(subject=subject, text=text, html=html),
                release=release,
                subject_ref=f"docs-c{owner.pk}",
            )
            sent.append(contact.pk)
        _audit(
            step,
            "step.sent",
            {"docs": decision.action, "customer_id": owner.pk, "recipients": sent},
        )
    return Outcome.done()


@register_performer(StepKind.SEND)
def perform_send(step: ScheduledStep, now: dt.datetime) -> Outcome:
    payload = _payload(step)
    release = _release(step)
    names = payload.get("newsletter")
    if isinstance(names, list) and names:
        return _newsletter(step, release, [str(n) for n in names], now)
    if step.key.endswith(":docs"):
        return _docs_notice(step, release, now)
    audience = str(payload.get("notes") or "")
    if not audience:
        return _blocked(step, "A send step without notes or a newsletter: nothing to send")
    return _release_notes(step, release, audience, now)


# --- digest ----------------------------------------------------------------------------------


@register_performer(StepKind.DIGEST)
def perform_digest(step: ScheduledStep, now: dt.datetime) -> Outcome:
    payload = _payload(step)
    channel, audience = str(payload.get("channel") or ""), str(payload.get("audience") or "")
    release = _release(step)
    if channel != Channel.DOCS_PORTAL:
        return _blocked(step, f"Digests are published to the docs portal only (asked: {channel!r})")
    try:
        day = dt.date.fromisoformat(str(payload.get("day")))
    except ValueError:
        return _blocked(step, f"The digest step has no valid day ({payload.get('day')!r})")
    doc = notes.policy_document(release)
    spec = next(
        (p for p in doc.publication if p.channel == channel and p.audience == audience), None
    )
    if spec is None:
        return _blocked(step, f"The policy no longer publishes a {audience!r} digest on {channel}")
    end = day - dt.timedelta(days=1)
    start = cycle_on_or_before(spec.digest.cadence(), end)
    if start is None:
        with transaction.atomic():
            _audit(step, "step.digest_empty", {"day": day.isoformat()})
        return Outcome.skip(f"no digest period ended before {day.isoformat()}")
    digests = []
    try:
        for locale in notes.note_locales(doc):
            digests.append(
                notes_services.publish_digest(
                    policy=release.policy,
                    audience=audience,
                    locale=locale,
                    period_start=start,
                    period_end=end,
                    actor=SYSTEM,
                )
            )
    except DomainError as exc:
        return _blocked(step, f"Digest not published: {exc.message}")
    with transaction.atomic():
        _audit(
            step,
            "step.digest_published",
            {
                "period": [start.isoformat(), end.isoformat()],
                "digests": [d.pk for d in digests],
            },
        )
    return Outcome.done()


# --- hypercare ---------------------------------------------------------------------------------


@register_performer(StepKind.HYPERCARE)
def perform_hypercare(step: ScheduledStep, now: dt.datetime) -> Outcome:
    """Informational: the period starts (it is shown on the release page and the calendar)."""
    payload = _payload(step)
    with transaction.atomic():
        _audit(
            step,
            "hypercare.started",
            {"first_day": payload.get("first_day"), "last_day": payload.get("last_day")},
        )
    return Outcome.done()
