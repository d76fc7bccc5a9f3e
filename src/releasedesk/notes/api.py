"""/api/v1/notes: release notes, their sign-off and publication, digests, white-label
variants, the notes between a customer's versions and the feed URLs.

Staff read and write (writes need a write token or a staff session); a signed-in portal
contact reads the published notes of their tiers and organisation's products only (others
answer 404). Every 4xx is the documented error envelope.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth_with_contacts, require_write, staff_user
from releasedesk.accounts.models import User
from releasedesk.catalog.models import Customer
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied, ValidationFailed
from releasedesk.notes import selectors, services
from releasedesk.notes.choices import NoteState, Tier
from releasedesk.notes.models import Digest, Publication, ReleaseNote
from releasedesk.notes.views import feed_url
from releasedesk.policies.models import Policy
from releasedesk.portal.auth import current_contact
from releasedesk.releases.models import Release

MAX_ID = 2_147_483_647
router = Router(tags=["notes"], auth=api_auth_with_contacts)

NoteId = param_functions.Path(..., ge=1, le=MAX_ID, description="The note id.")
Ident = str


# --- schemas ---------------------------------------------------------------------------------


class NoteOut(Schema):
    id: int
    release_id: int
    release_version: str
    audience: str
    tier: str
    locale: str
    state: str
    revision: int
    title: str = Field(description="As edited; `{brand}` is replaced when rendered.")
    body: str = Field(description="Markdown as edited.")
    rendered_title: str
    html: str = Field(description="The body rendered and sanitised (what readers see).")
    signed_off_by_id: int | None
    signed_off_role: str
    signed_off_at: dt.datetime | None
    published_at: dt.datetime | None
    updated_at: dt.datetime

    @staticmethod
    def resolve_release_version(obj: ReleaseNote) -> str:
        return obj.release.version

    @staticmethod
    def resolve_rendered_title(obj: ReleaseNote) -> str:
        return selectors.render_note(obj).title

    @staticmethod
    def resolve_html(obj: ReleaseNote) -> str:
        return selectors.render_note(obj).html


class ComposeIn(Schema):
    release: int = Field(..., ge=1, le=MAX_ID)
    audiences: list[Ident] | None = Field(None, max_length=20)
    locales: list[str] | None = Field(None, max_length=20)


class EditIn(Schema):
    title: str = Field(..., max_length=300)
    body: str = Field(..., max_length=100_000)
    revision: int | None = Field(None, ge=1, le=MAX_ID, description="Refused when stale (409).")


class SignOffIn(Schema):
    revision: int | None = Field(None, ge=1, le=MAX_ID, description="The revision you reviewed.")


class PublishIn(Schema):
    channels: list[str] | None = Field(
        None,
        max_length=10,
        description="docs_portal, atom_feed, knowledge_base, newsletter; default by tier.",
    )


class PublicationOut(Schema):
    id: int
    key: str
    channel: str
    state: str
    attempts: int
    due_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str
    customer_id: int | None
    details: dict[str, Any]


class PublishOut(Schema):
    note: NoteOut
    publications: list[PublicationOut]


class WhiteLabelIn(Schema):
    customer: str = Field(..., max_length=64, description="The OEM customer's slug.")


class DigestIn(Schema):
    policy: str = Field(..., max_length=64)
    audience: Ident = Field(..., max_length=64)
    locale: str = Field("en", max_length=8)
    period_start: dt.date
    period_end: dt.date


class DigestOut(Schema):
    id: int
    policy: str
    audience: str
    tier: str
    locale: str
    period_start: dt.date
    period_end: dt.date
    title: str
    body: str
    releases: list[str]

    @staticmethod
    def resolve_policy(obj: Digest) -> str:
        return obj.policy.slug

    @staticmethod
    def resolve_releases(obj: Digest) -> list[str]:
        return [
            n.release.version
            for n in obj.notes.select_related("release").order_by("published_at", "id")
        ]


class NoteRefOut(Schema):
    id: int
    version: str
    title: str
    html: str


class VersionStepOut(Schema):
    product: str
    instance: str
    current_version: str
    target_version: str
    notes: list[NoteRefOut]


class DocsDecisionOut(Schema):
    customer_id: int
    customer: str
    action: str
    reason: str


class FeedOut(Schema):
    audience: str
    tier: str
    locale: str
    url: str


class FeedRotateIn(Schema):
    policy: str = Field(..., max_length=64)
    audience: str = Field(..., max_length=64, description="A partner audience of the policy.")


class FeedRotatedOut(Schema):
    policy: str
    audience: str
    version: int = Field(description="The feed key's new version (old URLs answer 404).")
    rotated_at: dt.datetime
    feeds: list[FeedOut] = Field(description="The audience's new feed URLs, one per locale.")


# --- helpers -----------------------------------------------------------------------------------


def _principal(request: HttpRequest) -> Any:
    return staff_user(request) or current_contact(request)


def _notes(request: HttpRequest) -> QuerySet[ReleaseNote]:
    return (
        ReleaseNote.objects.for_user(_principal(request))
        .select_related("release", "release__policy")
        .prefetch_related("release__products")
        .distinct()
    )


def _get(request: HttpRequest, note_id: int) -> ReleaseNote:
    note = _notes(request).filter(pk=note_id).first()
    if note is None:
        raise NotFound(f"Release note {note_id} not found.")
    return note


def _writer(request: HttpRequest) -> User:
    require_write(request)
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only the vendor's staff can change release notes.")
    return user


def _staff(request: HttpRequest) -> User:
    user = staff_user(request)
    if user is None:
        raise NotFound("Not found.")
    return user


def _fresh(note_id: int) -> ReleaseNote:
    note: ReleaseNote = (
        ReleaseNote.objects.select_related("release", "release__policy")
        .prefetch_related("release__products")
        .get(pk=note_id)
    )
    return note


# --- endpoints -------------------------------------------------------------------------------


@router.get("", response={200: list[NoteOut], **ERROR_RESPONSES}, summary="List release notes")
@paginate(BoundedPagination)
def list_notes(
    request: HttpRequest,
    release: int | None = param_functions.Query(None, ge=1, le=MAX_ID),
    state: str | None = param_functions.Query(None, max_length=16),
    audience: str | None = param_functions.Query(None, max_length=64),
    locale: str | None = param_functions.Query(None, max_length=8),
) -> QuerySet[ReleaseNote]:
    qs = _notes(request)
    if state is not None and state not in NoteState.values:
        raise ValidationFailed(
            f"unknown state {state!r} (allowed: {', '.join(NoteState.values)})",
            fields={"state": "unknown state"},
        )
    if release is not None:
        qs = qs.filter(release_id=release)
    if state:
        qs = qs.filter(state=state)
    if audience:
        qs = qs.filter(audience=audience)
    if locale:
        qs = qs.filter(locale=locale)
    return qs.order_by("-release__target_date", "release_id", "audience", "locale", "id")


@router.post(
    "/compose",
    response={201: list[NoteOut], **ERROR_RESPONSES},
    summary="Compose notes from change items",
)
def compose(request: HttpRequest, payload: ComposeIn) -> Status[Any]:
    _writer(request)
    release = Release.objects.for_user(_principal(request)).filter(pk=payload.release).first()
    if release is None:
        raise NotFound(f"Release {payload.release} not found.", fields={"release": "not found"})
    notes = services.compose_notes(
        release=release,
        actor=actor_for(request),
        audiences=payload.audiences,
        locales=payload.locales,
    )
    return Status(201, [_fresh(n.pk) for n in notes])


@router.get("/digests", response={200: list[DigestOut], **ERROR_RESPONSES}, summary="List digests")
@paginate(BoundedPagination)
def list_digests(request: HttpRequest) -> QuerySet[Digest]:
    _staff(request)
    return Digest.objects.select_related("policy").order_by(
        "-period_start", "audience", "locale", "id"
    )


@router.post(
    "/digests", response={201: DigestOut, **ERROR_RESPONSES}, summary="Publish a digest of a period"
)
def create_digest(request: HttpRequest, payload: DigestIn) -> Status[Any]:
    _writer(request)
    policy = Policy.objects.filter(slug=payload.policy).first()
    if policy is None:
        raise ValidationFailed(
            f"unknown policy {payload.policy!r}", fields={"policy": "unknown policy"}
        )
    digest = services.publish_digest(
        policy=policy,
        audience=payload.audience,
        locale=payload.locale,
        period_start=payload.period_start,
        period_end=payload.period_end,
        actor=actor_for(request),
    )
    return Status(201, digest)


@router.get(
    "/feeds",
    response={200: list[FeedOut], **ERROR_RESPONSES},
    summary="Feed URLs of a policy's audiences (partner URLs carry their token)",
)
def feeds(
    request: HttpRequest, policy: str = param_functions.Query(..., max_length=64)
) -> list[dict[str, Any]]:
    _staff(request)
    found = Policy.objects.filter(slug=policy).first()
    if found is None:
        raise NotFound(f"policy {policy!r} not found", fields={"policy": "not found"})
    doc = selectors.latest_document(found)
    out = []
    for audience, tier in selectors.note_audiences(doc):
        if tier == "internal":
            continue
        for locale in selectors.note_locales(doc):
            out.append(
                {
                    "audience": audience,
                    "tier": tier,
                    "locale": locale,
                    "url": feed_url(found.slug, audience, locale, tier=tier),
                }
            )
    return out


@router.post(
    "/feeds/rotate",
    response={200: FeedRotatedOut, **ERROR_RESPONSES},
    summary="Revoke a partner audience's feed URLs and issue new ones (audited)",
)
def rotate_feed(request: HttpRequest, payload: FeedRotateIn) -> dict[str, Any]:
    _writer(request)
    policy = Policy.objects.filter(slug=payload.policy).first()
    if policy is None:
        raise NotFound(f"policy {payload.policy!r} not found", fields={"policy": "not found"})
    key = services.rotate_feed_token(
        policy=policy, audience=payload.audience, actor=actor_for(request)
    )
    doc = selectors.latest_document(policy)
    return {
        "policy": policy.slug,
        "audience": key.audience,
        "version": key.version,
        "rotated_at": key.rotated_at,
        "feeds": [
            {
                "audience": key.audience,
                "tier": Tier.PARTNER,
                "locale": locale,
                "url": feed_url(policy.slug, key.audience, locale, tier=Tier.PARTNER),
            }
            for locale in selectors.note_locales(doc)
        ],
    }


@router.get(
    "/customers/{slug}/between",
    response={200: list[VersionStepOut], **ERROR_RESPONSES},
    summary="Per product, the notes of every version between the customer's current and target version",
)
def between(
    request: HttpRequest,
    slug: str,
    target: str | None = param_functions.Query(None, max_length=64),
    product: str | None = param_functions.Query(None, max_length=64),
) -> list[dict[str, Any]]:
    customer = Customer.objects.for_user(_principal(request)).filter(slug=slug[:64]).first()
    if customer is None:
        raise NotFound(f"customer {slug!r} not found")
    return [
        {
            "product": s.product,
            "instance": s.instance,
            "current_version": s.current_version,
            "target_version": s.target_version,
            "notes": [
                {
                    "id": n.pk,
                    "version": n.release.version,
                    "title": (r := selectors.render_note(n)).title,
                    "html": r.html,
                }
                for n in s.notes
            ],
        }
        for s in selectors.notes_between(customer, target_version=target, product_slug=product)
    ]


@router.get(
    "/releases/{release_id}/documentation",
    response={200: list[DocsDecisionOut], **ERROR_RESPONSES},
    summary="Per OEM: who updates its white-label documentation for this release",
)
def documentation(
    request: HttpRequest, release_id: int = param_functions.Path(..., ge=1, le=MAX_ID)
) -> list[dict[str, Any]]:
    _staff(request)
    release = Release.objects.filter(pk=release_id).first()
    if release is None:
        raise NotFound(f"Release {release_id} not found.")
    decisions = selectors.documentation_decisions(release)
    names = dict(
        Customer.objects.filter(pk__in=[d.customer_id for d in decisions]).values_list("pk", "name")
    )
    return [
        {
            "customer_id": d.customer_id,
            "customer": names[d.customer_id],
            "action": d.action,
            "reason": d.reason,
        }
        for d in decisions
    ]


@router.post(
    "/publications/{publication_id}/retry",
    response={200: PublicationOut, **ERROR_RESPONSES},
    summary="Retry a failed publication",
)
def retry(
    request: HttpRequest, publication_id: int = param_functions.Path(..., ge=1, le=MAX_ID)
) -> Publication:
    _writer(request)
    row = services.retry_publication(publication=publication_id, actor=actor_for(request))
    if row.channel in services.DELIVERED_HERE:
        row = services.deliver_publication(row)
    return row


@router.get("/{note_id}", response={200: NoteOut, **ERROR_RESPONSES}, summary="A release note")
def get_note(request: HttpRequest, note_id: int = NoteId) -> ReleaseNote:
    return _get(request, note_id)


@router.patch(
    "/{note_id}", response={200: NoteOut, **ERROR_RESPONSES}, summary="Edit a note's Markdown"
)
def edit_note(request: HttpRequest, payload: EditIn, note_id: int = NoteId) -> ReleaseNote:
    user = _writer(request)
    note = _get(request, note_id)
    services.edit_note(
        note=note,
        actor=actor_for(request),
        user=user,
        title=payload.title,
        body=payload.body,
        expected_revision=payload.revision,
    )
    return _fresh(note.pk)


@router.post(
    "/{note_id}/sign-off", response={200: NoteOut, **ERROR_RESPONSES}, summary="Sign a note off"
)
def sign_off(request: HttpRequest, payload: SignOffIn, note_id: int = NoteId) -> ReleaseNote:
    user = _writer(request)
    note = _get(request, note_id)
    services.sign_off_note(
        note=note, actor=actor_for(request), user=user, expected_revision=payload.revision
    )
    return _fresh(note.pk)


@router.post(
    "/{note_id}/publish",
    response={200: PublishOut, **ERROR_RESPONSES},
    summary="Publish a signed-off note",
)
def publish(request: HttpRequest, payload: PublishIn, note_id: int = NoteId) -> dict[str, Any]:
    _writer(request)
    note = _get(request, note_id)
    pubs = services.publish_note(note=note, actor=actor_for(request), channels=payload.channels)
    return {"note": _fresh(note.pk), "publications": pubs}


@router.get(
    "/{note_id}/publications",
    response={200: list[PublicationOut], **ERROR_RESPONSES},
    summary="Where a note was published",
)
@paginate(BoundedPagination)
def publications(request: HttpRequest, note_id: int = NoteId) -> QuerySet[Publication]:
    _staff(request)
    note = _get(request, note_id)
    return Publication.objects.filter(note=note).order_by("-created_at", "-id")


@router.post(
    "/{note_id}/white-label",
    response={200: PublicationOut, **ERROR_RESPONSES},
    summary="Export the note under an OEM's name",
)
def white_label(request: HttpRequest, payload: WhiteLabelIn, note_id: int = NoteId) -> Publication:
    _writer(request)
    note = _get(request, note_id)
    customer = Customer.objects.filter(slug=payload.customer).first()
    if customer is None:
        raise ValidationFailed(
            f"unknown customer {payload.customer!r}", fields={"customer": "unknown"}
        )
    return services.publish_white_label(note=note, customer=customer, actor=actor_for(request))
