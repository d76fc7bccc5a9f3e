"""Every state change of release notes: compose, edit, sign off, publish, deliver, digest.

Each change runs in one transaction and writes one audit event in the release's chain
(`release:<id>`; digests in `notes:digests`). Effects that leave the database (files for
the docs portal, the knowledge-base webhook) happen after the commit, on `Publication` rows
(due work: retried with backoff, failures kept for staff to retry).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.catalog.models import Customer
from releasedesk.core import clock, queue
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.core.worker import queue_handler
from releasedesk.notes import channels, rendering
from releasedesk.notes.choices import (
    EDITABLE,
    NOTE_CHANNELS,
    Channel,
    NoteState,
    Tier,
)
from releasedesk.notes.models import Digest, FeedKey, Publication, ReleaseNote
from releasedesk.notes.selectors import (
    audience_tier,
    compose_digest,
    latest_document,
    note_audiences,
    note_locales,
    policy_document,
    release_change_texts,
    white_label_variant,
)
from releasedesk.policies.models import Policy
from releasedesk.releases.models import Release

MAX_TITLE = 300
MAX_BODY = 100_000
DIGEST_SCOPE = "notes:digests"
LEASE = dt.timedelta(minutes=5)
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
# Channels whose rows the notes app delivers itself (the newsletter is the outbox's).
DELIVERED_HERE: tuple[str, ...] = (
    Channel.DOCS_PORTAL,
    Channel.KNOWLEDGE_BASE,
    Channel.DIGEST,
    Channel.WHITE_LABEL_DOCS,
)


def staff_actor(user: User) -> Actor:
    return Actor(kind="staff", id=user.pk)


def _scope(note: ReleaseNote) -> str:
    return f"release:{note.release_id}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _snapshot(note: ReleaseNote) -> dict[str, Any]:
    # Bodies can be long: the audit keeps their hash and length, the row keeps the text.
    return {
        "release": note.release_id,
        "audience": note.audience,
        "tier": note.tier,
        "locale": note.locale,
        "state": note.state,
        "revision": note.revision,
        "title": note.title,
        "body_sha256": _digest(note.body),
        "body_chars": len(note.body),
    }


def _audit(
    note: ReleaseNote,
    *,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record(actor=actor, action=action, obj=note, before=before, after=after, scope=_scope(note))


def _lock(note: ReleaseNote | int) -> ReleaseNote:
    pk = note if isinstance(note, int) else note.pk
    found: ReleaseNote | None = (
        ReleaseNote.objects.select_for_update(of=("self",))
        .select_related("release", "release__policy")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(f"release note {pk} does not exist")
    return found


def _check_revision(note: ReleaseNote, expected: int | None) -> None:
    if expected is not None and expected != note.revision:
        raise Conflict(
            f"the note changed meanwhile (revision {note.revision}, you had {expected}); reload it",
            fields={"revision": f"now {note.revision}"},
        )


def _check_no_internal(note: ReleaseNote, *, title: str, body: str) -> None:
    """Internal notes never reach a partner or public audience, not even pasted by hand."""
    if note.tier == Tier.INTERNAL:
        return
    leak = rendering.find_internal_leak(f"{title}\n{body}", release_change_texts(note.release))
    if leak is not None:
        raise ValidationFailed(
            f"the {note.tier} notes contain the internal note of change {leak!r}; "
            "internal notes never reach a non-internal audience",
            fields={"body": f"contains the internal note of {leak!r}"},
        )


# --- compose --------------------------------------------------------------------------------


@transaction.atomic
def compose_notes(
    *,
    release: Release,
    actor: Actor,
    audiences: Sequence[str] | None = None,
    locales: Sequence[str] | None = None,
) -> list[ReleaseNote]:
    """Create the notes of every policy audience and locale from the change items.

    A draft nobody has edited is re-composed (it follows the change items); edited,
    signed-off and published notes are left alone.
    """
    release = (
        Release.objects.select_for_update(of=("self",)).select_related("policy").get(pk=release.pk)
    )
    doc = policy_document(release)
    pairs = note_audiences(doc)
    if audiences is not None:
        for name in audiences:
            audience_tier(doc, name)
        pairs = [(a, doc.audiences[a]) for a in dict.fromkeys(audiences)]
    wanted_locales = list(dict.fromkeys(locales)) if locales is not None else note_locales(doc)
    for loc in wanted_locales:
        if not isinstance(loc, str) or not 2 <= len(loc) <= 8 or not loc.replace("-", "").isalpha():
            raise ValidationFailed(
                f"{loc!r} is not a locale (e.g. en, de)", fields={"locales": "e.g. en"}
            )
    items = release_change_texts(release)
    existing = {(n.audience, n.locale): n for n in ReleaseNote.objects.filter(release=release)}
    now = clock.now()
    result: list[ReleaseNote] = []
    report: list[dict[str, Any]] = []
    for audience, tier in pairs:
        for locale in wanted_locales:
            title, body = rendering.compose(
                version=release.version,
                release_title=release.title,
                release_date=release.target_date,
                items=items,
                tier=tier,
                locale=locale,
            )
            note = existing.get((audience, locale))
            if note is None:
                note = ReleaseNote.objects.create(
                    release=release,
                    audience=audience,
                    tier=tier,
                    locale=locale,
                    title=title,
                    body=body,
                    composed_at=now,
                )
                outcome = "created"
            elif (
                note.state == NoteState.DRAFT
                and note.edited_by_id is None
                and (note.title != title or note.body != body or note.tier != tier)
            ):
                note.title, note.body, note.tier, note.composed_at = title, body, tier, now
                note.revision += 1
                note.save(
                    update_fields=["title", "body", "tier", "composed_at", "revision", "updated_at"]
                )
                outcome = "recomposed"
            else:
                outcome = "kept"
            result.append(note)
            report.append(
                {"note": note.pk, "audience": audience, "locale": locale, "outcome": outcome}
            )
    record(
        actor=actor,
        action="notes.composed",
        obj=release,
        after={"notes": report},
        scope=f"release:{release.pk}",
    )
    return result


# --- edit and sign off ----------------------------------------------------------------------


@transaction.atomic
def edit_note(
    *,
    note: ReleaseNote | int,
    actor: Actor,
    user: User | None,
    title: str,
    body: str,
    expected_revision: int | None = None,
) -> ReleaseNote:
    """Change a draft or signed-off note's Markdown; a signed-off note returns to draft."""
    note = _lock(note)
    _check_revision(note, expected_revision)
    if note.state not in EDITABLE:
        raise Conflict(
            f"the {note.audience}/{note.locale} notes of {note.release.version} are published "
            "and can no longer be edited",
            fields={"state": note.state},
        )
    title = " ".join((title or "").split())
    # One newline at the end, whatever the form or file sent (files on disk end in one).
    body = (body or "").replace("\r\n", "\n").rstrip()
    body = body + "\n" if body else ""
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "required"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"at most {MAX_TITLE} characters"
    if len(body) > MAX_BODY:
        errors["body"] = f"at most {MAX_BODY} characters"
    if "\x00" in title or "\x00" in body:
        errors["body" if "\x00" in body else "title"] = "must not contain NUL characters"
    if errors:
        raise ValidationFailed(
            "the note is not valid: " + "; ".join(f"{k} {v}" for k, v in errors.items()),
            fields=errors,
        )
    if title == note.title and body == note.body:
        return note
    _check_no_internal(note, title=title, body=body)
    before = _snapshot(note)
    note.title, note.body = title, body
    note.revision += 1
    note.edited_by = user
    note.state = NoteState.DRAFT
    note.signed_off_by, note.signed_off_at, note.signed_off_role = None, None, ""
    note.save()
    _audit(note, actor=actor, action="notes.edited", before=before, after=_snapshot(note))
    return note


def signoff_roles() -> list[str]:
    return list(settings.NOTES_SIGNOFF_ROLES)


@transaction.atomic
def sign_off_note(
    *, note: ReleaseNote | int, actor: Actor, user: User, expected_revision: int | None = None
) -> ReleaseNote:
    """A person holding a sign-off role approves this revision for publication."""
    note = _lock(note)
    _check_revision(note, expected_revision)
    allowed = signoff_roles()
    held = [r for r in allowed if r in user.role_slugs()]
    if not held:
        raise PermissionDenied(
            f"signing off release notes needs one of the roles {', '.join(allowed)}",
            fields={"role": f"one of {', '.join(allowed)}"},
        )
    if note.state != NoteState.DRAFT:
        raise Conflict(
            f"the note is {note.state}: only a draft can be signed off",
            fields={"state": note.state},
        )
    _check_no_internal(note, title=note.title, body=note.body)
    before = _snapshot(note)
    now = clock.now()
    updated = ReleaseNote.objects.filter(
        pk=note.pk, state=NoteState.DRAFT, revision=note.revision
    ).update(
        state=NoteState.SIGNED_OFF,
        signed_off_by=user,
        signed_off_at=now,
        signed_off_role=held[0],
        updated_at=now,
    )
    if updated != 1:
        raise Conflict("the note changed meanwhile; reload it")
    note.state, note.signed_off_by, note.signed_off_at, note.signed_off_role = (
        NoteState.SIGNED_OFF,
        user,
        now,
        held[0],
    )
    _audit(
        note,
        actor=actor,
        action="notes.signed_off",
        before=before,
        after={**_snapshot(note), "role": held[0], "signed_off_by": user.pk},
    )
    return note


# --- publish --------------------------------------------------------------------------------


def default_channels(tier: str) -> list[str]:
    """Where a note goes when nobody names channels: nothing leaves the building for the
    internal tier; partners get their feed; the public tier the docs portal, its feed and,
    when one is configured, the knowledge base."""
    if tier == Tier.INTERNAL:
        return []
    if tier == Tier.PARTNER:
        return [Channel.ATOM_FEED]
    found: list[str] = [Channel.DOCS_PORTAL, Channel.ATOM_FEED]
    if settings.NOTES_KB_WEBHOOK_URL:
        found.append(Channel.KNOWLEDGE_BASE)
    return found


def publication_key(note: ReleaseNote, channel: str, customer: Customer | None = None) -> str:
    who = f":c{customer.pk}" if customer is not None else ""
    return f"notes:n{note.pk}:{channel}{who}:r{note.revision}"


def _new_publication(
    note: ReleaseNote, channel: str, now: dt.datetime, customer: Customer | None = None
) -> Publication | None:
    key = publication_key(note, channel, customer)
    if Publication.objects.filter(key=key).exists():
        return None  # this revision already went to this channel
    done = channel == Channel.ATOM_FEED  # the feed is generated from published notes
    return Publication.objects.create(
        key=key,
        note=note,
        channel=channel,
        customer=customer,
        due_at=now,
        state=WorkState.DONE if done else WorkState.PENDING,
        delivered_at=now if done else None,
        finished_at=now if done else None,
    )


@transaction.atomic
def record_publication(
    *, note: ReleaseNote | int, actor: Actor, channels: Sequence[str] | None = None
) -> list[Publication]:
    """Publish a signed-off note: state → published and one due row per new channel.
    Refused for an unsigned note; an internal note never goes to an outside channel."""
    note = _lock(note)
    if note.state == NoteState.DRAFT:
        raise Conflict(
            f"the {note.audience}/{note.locale} notes of {note.release.version} are not signed off; "
            f"a person with one of the roles {', '.join(signoff_roles())} must sign them off first",
            fields={"state": "draft (not signed off)"},
        )
    wanted = list(dict.fromkeys(channels)) if channels is not None else default_channels(note.tier)
    unknown = [c for c in wanted if c not in NOTE_CHANNELS]
    if unknown:
        raise ValidationFailed(
            f"unknown channel(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(NOTE_CHANNELS)})",
            fields={"channels": f"allowed: {', '.join(NOTE_CHANNELS)}"},
        )
    if note.tier == Tier.INTERNAL and wanted:
        raise ValidationFailed(
            f"internal notes are never published outside ReleaseDesk (asked: {', '.join(wanted)})",
            fields={"channels": "none allowed for the internal tier"},
        )
    if Channel.KNOWLEDGE_BASE in wanted and not settings.NOTES_KB_WEBHOOK_URL:
        raise ValidationFailed(
            "no knowledge base is configured (set RELEASEDESK_KB_WEBHOOK_URL and _SECRET)",
            fields={"channels": "knowledge_base is not configured"},
        )
    _check_no_internal(note, title=note.title, body=note.body)
    now = clock.now()
    before = _snapshot(note)
    if note.state != NoteState.PUBLISHED:
        updated = ReleaseNote.objects.filter(
            pk=note.pk, state=NoteState.SIGNED_OFF, revision=note.revision
        ).update(state=NoteState.PUBLISHED, published_at=now, updated_at=now)
        if updated != 1:
            raise Conflict("the note changed meanwhile; reload it")
        note.state, note.published_at = NoteState.PUBLISHED, now
    created = [p for c in wanted if (p := _new_publication(note, c, now)) is not None]
    _audit(
        note,
        actor=actor,
        action="notes.published",
        before=before,
        after={**_snapshot(note), "channels": [p.channel for p in created]},
    )
    return created


def publish_note(
    *,
    note: ReleaseNote | int,
    actor: Actor,
    channels: Sequence[str] | None = None,
    deliver: bool = True,
) -> list[Publication]:
    """`record_publication`, then (after its commit) deliver what can be delivered now."""
    created = record_publication(note=note, actor=actor, channels=channels)
    if deliver:
        created = [deliver_publication(p) if p.channel in DELIVERED_HERE else p for p in created]
    return created


def publish_audience(
    *,
    release: Release,
    audience: str,
    actor: Actor,
    channels: Sequence[str] | None = None,
    deliver: bool = True,
) -> list[Publication]:
    """Publish an audience's notes in every locale (what a timeline `publish` step does).

    Fails closed: when any locale's note is missing or not signed off, nothing is published
    and the Conflict names them, so the step is blocked and staff are told.
    """
    notes = list(ReleaseNote.objects.filter(release=release, audience=audience).order_by("locale"))
    if not notes:
        raise Conflict(
            f"release {release.version} has no {audience!r} notes; compose, edit and sign them off first",
            fields={"audience": "no notes"},
        )
    unsigned = [n.locale for n in notes if n.state == NoteState.DRAFT]
    if unsigned:
        raise Conflict(
            f"the {audience!r} notes of {release.version} are not signed off in: "
            f"{', '.join(unsigned)}; nothing was published",
            fields={"state": f"draft: {', '.join(unsigned)}"},
        )
    created: list[Publication] = []
    for note in notes:
        created += publish_note(note=note, actor=actor, channels=channels, deliver=deliver)
    return created


@transaction.atomic
def record_white_label(*, note: ReleaseNote | int, customer: Customer, actor: Actor) -> Publication:
    note = _lock(note)
    if note.state != NoteState.PUBLISHED:
        raise Conflict(
            "only published notes get white-label variants; publish the notes first",
            fields={"state": note.state},
        )
    white_label_variant(note, customer)  # validates tier and customer
    publication = _new_publication(note, Channel.WHITE_LABEL_DOCS, clock.now(), customer)
    if publication is None:
        found = Publication.objects.get(
            key=publication_key(note, Channel.WHITE_LABEL_DOCS, customer)
        )
        return found
    _audit(
        note,
        actor=actor,
        action="notes.white_label_exported",
        after={**_snapshot(note), "customer": customer.pk},
    )
    return publication


def publish_white_label(
    *, note: ReleaseNote | int, customer: Customer, actor: Actor
) -> Publication:
    """Export the note under the OEM's name into the docs export's white-label folder."""
    publication = record_white_label(note=note, customer=customer, actor=actor)
    if publication.state == WorkState.PENDING:
        publication = deliver_publication(publication)
    return publication


# --- delivery (due work) --------------------------------------------------------------------


def backoff(attempt: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, … capped at 1 hour (attempt is 1-based)."""
    delay: dt.timedelta = BACKOFF_BASE * (2 ** max(0, attempt - 1))
    return min(delay, BACKOFF_CAP)


def _claim(publication: Publication, now: dt.datetime, owner: str) -> bool:
    from django.db.models import F

    updated = Publication.objects.filter(pk=publication.pk, state=WorkState.PENDING).update(
        state=WorkState.RUNNING,
        lease_owner=owner,
        lease_until=now + LEASE,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return updated == 1


def _perform(publication: Publication) -> dict[str, Any]:
    if publication.channel == Channel.DIGEST:
        assert publication.digest is not None
        return {"files": _relative(channels.export_digest(publication.digest))}
    note = publication.note
    assert note is not None
    if publication.channel == Channel.DOCS_PORTAL:
        return {"files": _relative(channels.export_note(note))}
    if publication.channel == Channel.WHITE_LABEL_DOCS:
        assert publication.customer is not None
        return {"files": _relative(channels.export_white_label(note, publication.customer))}
    if publication.channel == Channel.KNOWLEDGE_BASE:
        request = channels.build_kb_request(key=publication.key, note=note, now=clock.now())
        status = channels.send_kb_request(request)
        return {"status": status, "webhook_id": request.headers["webhook-id"]}
    raise channels.DeliveryError(
        f"channel {publication.channel} is not delivered here", permanent=True
    )


def _relative(paths: list[Path]) -> list[str]:
    root = channels.export_root()
    return sorted({str(p.relative_to(root)) for p in paths})


def _finish(
    publication: Publication,
    *,
    ok: bool,
    details: dict[str, Any] | None = None,
    error: str = "",
    permanent: bool = False,
) -> Publication:
    now = clock.now()
    with transaction.atomic():
        row = (
            Publication.objects.select_for_update(of=("self",))
            .select_related("note", "digest")
            .get(pk=publication.pk)
        )
        if ok:
            row.state, row.delivered_at, row.finished_at = WorkState.DONE, now, now
            row.details = {**row.details, **(details or {})}
            row.last_error = ""
        elif permanent or row.attempts >= row.max_attempts:
            row.state, row.finished_at, row.last_error = WorkState.FAILED, now, error[:4000]
        else:
            row.state, row.last_error = WorkState.PENDING, error[:4000]
            row.due_at = now + backoff(row.attempts)
        row.lease_owner, row.lease_until, row.updated_at = "", None, now
        row.save()
        if row.state in (WorkState.DONE, WorkState.FAILED):
            _audit_delivery(row, ok=ok, details=details or {}, error=error)
    return row


def deliver_publication(publication: Publication, *, owner: str = "inline") -> Publication:
    """Claim a pending publication (compare-and-set), perform it, record the outcome:
    done, pending again with backoff, or failed (permanent error / attempts used up)."""
    if not _claim(publication, clock.now(), owner):
        publication.refresh_from_db()
        return publication
    publication.refresh_from_db()
    return _perform_claimed(publication)


def _perform_claimed(publication: Publication) -> Publication:
    try:
        details = _perform(publication)
    except channels.DeliveryError as exc:
        return _finish(publication, ok=False, error=str(exc), permanent=exc.permanent)
    except OSError as exc:
        return _finish(publication, ok=False, error=f"cannot write the export: {exc}")
    return _finish(publication, ok=True, details=details)


def deliver_kb_post(publication: Publication) -> Publication:
    """Build the signed knowledge-base request (Standard Webhooks headers, webhook-id derived
    from the publication key), send it with httpx and record the outcome on the row.

    For queue handlers that already claimed the row (state running); called on a pending row
    it claims it first.
    """
    if publication.channel != Channel.KNOWLEDGE_BASE:
        raise ValidationFailed(
            f"publication {publication.key} is not a knowledge-base post",
            fields={"channel": publication.channel},
        )
    if publication.state == WorkState.PENDING:
        return deliver_publication(publication)
    return _perform_claimed(publication)


def _audit_delivery(
    row: Publication, *, ok: bool, details: dict[str, Any], error: str = ""
) -> None:
    obj: Any = row.note if row.note is not None else row.digest
    with transaction.atomic():
        record(
            actor=Actor.system(),
            action="notes.publication_delivered" if ok else "notes.publication_failed",
            obj=row,
            after={
                "channel": row.channel,
                "key": row.key,
                "attempts": row.attempts,
                **({"error": error[:500]} if not ok else {}),
                **details,
            },
            scope=f"release:{obj.release_id}" if isinstance(obj, ReleaseNote) else DIGEST_SCOPE,
        )


def perform_publication(row: Publication, *, now: dt.datetime) -> queue.Outcome:
    """The worker's perform function for a claimed publication (core queue): the effect, its
    audit event, and what the queue records (done with details, retry with backoff, or a
    permanent failure)."""
    try:
        details = _perform(row)
    except channels.DeliveryError as exc:
        if exc.permanent:
            _audit_delivery(row, ok=False, details={}, error=str(exc))
            raise queue.PermanentFailure(str(exc)) from exc
        return queue.Outcome.retry_later(str(exc))
    except OSError as exc:
        return queue.Outcome.retry_later(f"cannot write the export: {exc}")
    _audit_delivery(row, ok=True, details=details)
    return queue.Outcome.done(details={**row.details, **details}, delivered_at=now, last_error="")


# Worker step (registered in NotesConfig.ready): one due publication of the channels this app
# delivers, through the one queue mechanism (claim, lease, retry with backoff, reaper).
handle_one_publication = queue_handler(
    Publication,
    perform_publication,
    name="notes_publications",
    filter=Q(channel__in=DELIVERED_HERE),
    backoff=queue.Backoff(base=BACKOFF_BASE, factor=2.0, cap=BACKOFF_CAP),
)


@transaction.atomic
def retry_publication(*, publication: Publication | int, actor: Actor) -> Publication:
    pk = publication if isinstance(publication, int) else publication.pk
    row = Publication.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"publication {pk} does not exist")
    if row.state not in (WorkState.FAILED, WorkState.BLOCKED):
        raise Conflict(
            f"publication {row.key} is {row.state}; only failed ones can be retried",
            fields={"state": row.state},
        )
    now = clock.now()
    row.state, row.attempts, row.due_at, row.finished_at, row.updated_at = (
        WorkState.PENDING,
        0,
        now,
        None,
        now,
    )
    row.save()
    scope = f"release:{row.note.release_id}" if row.note is not None else DIGEST_SCOPE
    record(
        actor=actor,
        action="notes.publication_retried",
        obj=row,
        after={"channel": row.channel, "key": row.key},
        scope=scope,
    )
    return row


# --- digests --------------------------------------------------------------------------------


def digest_key(policy: Policy, audience: str, locale: str, start: dt.date, end: dt.date) -> str:
    return f"notes:digest:{policy.slug}:{audience}:{locale}:{start.isoformat()}:{end.isoformat()}"


@transaction.atomic
def record_digest(
    *,
    policy: Policy,
    audience: str,
    locale: str,
    period_start: dt.date,
    period_end: dt.date,
    actor: Actor,
) -> Digest:
    """The digest of every note of the audience and locale published in the period (once per
    period: asking again returns the same digest)."""
    if period_end < period_start:
        raise ValidationFailed(
            "the period ends before it starts", fields={"period_end": "on or after period_start"}
        )
    if (period_end - period_start).days > 366:
        raise ValidationFailed(
            "a digest covers at most a year", fields={"period_end": "within a year"}
        )
    doc = latest_document(policy)
    tier = audience_tier(doc, audience)
    if tier == Tier.INTERNAL:
        raise ValidationFailed(
            f"audience {audience!r} is internal: digests go to the docs portal, internal notes never do",
            fields={"audience": "internal tier"},
        )
    existing = Digest.objects.filter(
        policy=policy,
        audience=audience,
        locale=locale,
        period_start=period_start,
        period_end=period_end,
    ).first()
    if existing is not None:
        return existing
    title, body, notes = compose_digest(policy, audience, locale, period_start, period_end)
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                policy=policy,
                audience=audience,
                tier=tier,
                locale=locale,
                period_start=period_start,
                period_end=period_end,
                title=title,
                body=body,
            )
    except IntegrityError:
        return Digest.objects.get(
            policy=policy,
            audience=audience,
            locale=locale,
            period_start=period_start,
            period_end=period_end,
        )
    digest.notes.set(notes)
    now = clock.now()
    Publication.objects.create(
        key=digest_key(policy, audience, locale, period_start, period_end),
        digest=digest,
        channel=Channel.DIGEST,
        due_at=now,
    )
    record(
        actor=actor,
        action="notes.digest_published",
        obj=digest,
        after={
            "policy": policy.slug,
            "audience": audience,
            "locale": locale,
            "period": [period_start.isoformat(), period_end.isoformat()],
            "notes": [n.pk for n in notes],
        },
        scope=DIGEST_SCOPE,
    )
    return digest


def publish_digest(
    *,
    policy: Policy,
    audience: str,
    locale: str,
    period_start: dt.date,
    period_end: dt.date,
    actor: Actor,
) -> Digest:
    """`record_digest`, then export it to the docs portal."""
    digest = record_digest(
        policy=policy,
        audience=audience,
        locale=locale,
        period_start=period_start,
        period_end=period_end,
        actor=actor,
    )
    pending = Publication.objects.filter(digest=digest, state=WorkState.PENDING).first()
    if pending is not None:
        deliver_publication(pending)
    return digest


# --- partner feed URLs --------------------------------------------------------------------------


@transaction.atomic
def rotate_feed_token(*, policy: Policy, audience: str, actor: Actor) -> FeedKey:
    """Revoke a partner audience's Atom feed URL: bump its key version, so every URL issued
    before answers 404 and `channels.feed_token` gives the new one. Public feeds are open and
    internal audiences have none: only partner audiences have a URL to rotate."""
    tier = audience_tier(latest_document(policy), audience)
    if tier != Tier.PARTNER:
        raise ValidationFailed(
            f"audience {audience!r} is {tier}: only partner feeds have a secret URL to rotate",
            fields={"audience": "not a partner audience"},
        )
    key, _ = FeedKey.objects.select_for_update().get_or_create(policy=policy, audience=audience)
    before = {"audience": audience, "version": key.version}
    key.version += 1
    key.rotated_at = clock.now()
    key.save(update_fields=["version", "rotated_at"])
    record(
        actor=actor,
        action="notes.feed_url_rotated",
        obj=policy,
        before=before,
        after={"audience": audience, "version": key.version},
    )
    return key
