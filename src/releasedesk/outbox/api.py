"""/api/v1/outbox: messages (list, detail, retry) and the audience health check.

Staff only: a signed-in portal contact sees no message (empty list, 404 for one).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth_with_contacts, require_write, staff_user
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied
from releasedesk.outbox import masking, services
from releasedesk.outbox.audiences import audience_health
from releasedesk.outbox.models import Message
from releasedesk.outbox.selectors import messages_for
from releasedesk.portal.auth import current_contact
from releasedesk.releases.models import Release

MAX_ID = 2_147_483_647

router = Router(tags=["outbox"], auth=api_auth_with_contacts)

MessageId = param_functions.Path(..., ge=1, le=MAX_ID, description="The message id.")


class MessageOut(Schema):
    id: int
    key: str
    message_id: str
    channel: str
    kind: str
    state: str
    to_address: str
    contact_id: int | None
    user_id: int | None
    release_id: int | None
    subject_ref: str
    locale: str
    zone: str
    subject: str
    why: str
    due_at: dt.datetime
    late_after: dt.datetime | None
    attempts: int
    max_attempts: int
    last_error: str
    delivered_at: dt.datetime | None
    finished_at: dt.datetime | None
    created_at: dt.datetime


class MessageDetailOut(MessageOut):
    body_text: str = Field(description="The text body; portal sign-in links are hidden.")
    body_html: str = Field(description="The HTML body; portal sign-in links are hidden.")

    @staticmethod
    def resolve_body_text(obj: Message) -> str:
        return masking.preview_text(obj)

    @staticmethod
    def resolve_body_html(obj: Message) -> str:
        return masking.preview_html(obj)


class ProblemOut(Schema):
    code: str
    customer_id: int
    customer: str
    message: str


def _principal(request: HttpRequest) -> Any:
    return staff_user(request) or current_contact(request)


def _get(request: HttpRequest, message_id: int) -> Message:
    message: Message | None = messages_for(_principal(request)).filter(pk=message_id).first()
    if message is None:
        raise NotFound(f"Message {message_id} not found.")
    return message


@router.get("", response={200: list[MessageOut], **ERROR_RESPONSES}, summary="List messages")
@paginate(BoundedPagination)
def list_messages(
    request: HttpRequest,
    state: str | None = param_functions.Query(
        None, max_length=16, description="Only messages in this state (pending, done, failed, …)."
    ),
    kind: str | None = param_functions.Query(
        None, max_length=32, description="Only messages of this kind (advance_notice, …)."
    ),
    release_id: int | None = param_functions.Query(
        None, ge=1, le=MAX_ID, description="Only messages about this release."
    ),
) -> QuerySet[Message]:
    return messages_for(_principal(request), state=state, kind=kind, release_id=release_id)


@router.get(
    "/{message_id}",
    response={200: MessageDetailOut, **ERROR_RESPONSES},
    summary="A message with its rendered content",
)
def get_message(request: HttpRequest, message_id: int = MessageId) -> Message:
    return _get(request, message_id)


@router.post(
    "/{message_id}/retry",
    response={200: MessageDetailOut, **ERROR_RESPONSES},
    summary="Send a failed, missed, blocked or cancelled message again now",
)
def retry_message(request: HttpRequest, message_id: int = MessageId) -> Message:
    require_write(request)
    message = _get(request, message_id)
    if staff_user(request) is None:  # pragma: no cover - contacts never see a message
        raise PermissionDenied("Only the vendor's staff can retry messages.")
    return services.retry_message(actor=actor_for(request), message=message)


@router.get(
    "/health/releases/{release_id}",
    response={200: list[ProblemOut], **ERROR_RESPONSES},
    summary="Audience health of a release: customers nobody can be told about",
)
def release_health(
    request: HttpRequest,
    release_id: int = param_functions.Path(..., ge=1, le=MAX_ID),
) -> list[dict[str, Any]]:
    if staff_user(request) is None:
        raise NotFound(f"Release {release_id} not found.")
    release: Release | None = (
        Release.objects.for_user(staff_user(request)).filter(pk=release_id).first()
    )
    if release is None:
        raise NotFound(f"Release {release_id} not found.")
    problems = audience_health(release=release)
    return [
        {
            "code": p.code,
            "customer_id": p.customer.pk,
            "customer": p.customer.name,
            "message": p.message,
        }
        for p in problems
    ]


# --- roadmap updates to partners ----------------------------------------------------------


ProductSlug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class RoadmapIn(Schema):
    products: list[ProductSlug] = Field(
        ..., min_length=1, max_length=50, description="Product slugs the update is about."
    )
    period: str = Field(
        ...,
        min_length=1,
        max_length=40,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="e.g. 'June 2027' (one line).",
    )
    audience: Literal["oem_partner_contacts", "resellers", "resellers_and_customers"] = Field(
        "oem_partner_contacts", description="Who is told."
    )


class RoadmapRecipientOut(Schema):
    email: str
    why: str
    locale: str
    zone: str


class RoadmapPreviewOut(Schema):
    items: list[str]
    next_release_at: dt.datetime | None
    recipients: list[RoadmapRecipientOut]
    skipped: list[str]
    subject: str
    text: str


class RoadmapSentOut(Schema):
    created: int
    existing: int
    skipped: int


def _products(slugs: list[str]) -> list[Any]:
    from releasedesk.catalog.models import Product

    found = {p.slug: p for p in Product.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise NotFound(
            f"unknown product {unknown[0]!r}", fields={"products": f"unknown: {', '.join(unknown)}"}
        )
    return [found[s] for s in dict.fromkeys(slugs)]


def _staff_only(request: HttpRequest) -> Any:
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only the vendor's staff can send roadmap updates.")
    return user


@router.post(
    "/roadmap/preview",
    response={200: RoadmapPreviewOut, **ERROR_RESPONSES},
    summary="Who would get a roadmap update and what it says (writes nothing)",
)
def preview_roadmap(request: HttpRequest, payload: RoadmapIn) -> dict[str, Any]:
    from releasedesk.outbox.roadmap import preview_roadmap_update

    _staff_only(request)
    preview = preview_roadmap_update(
        products=_products(payload.products), period=payload.period, audience=payload.audience
    )
    return {
        "items": list(preview.roadmap.items),
        "next_release_at": preview.roadmap.next_release_at,
        "recipients": [
            {"email": r.email, "why": r.why, "locale": r.locale, "zone": r.zone}
            for r in preview.audience.recipients
        ],
        "skipped": [f"{s.why}: {s.problem}" for s in preview.audience.skipped],
        "subject": preview.rendered.subject,
        "text": preview.rendered.text,
    }


@router.post(
    "/roadmap/send",
    response={201: RoadmapSentOut, **ERROR_RESPONSES},
    summary="Send a roadmap update to partners (one outbox message each, due now)",
)
def send_roadmap(request: HttpRequest, payload: RoadmapIn) -> tuple[int, dict[str, int]]:
    from releasedesk.outbox.roadmap import send_roadmap_update

    require_write(request)
    user = _staff_only(request)
    sent = send_roadmap_update(
        actor=actor_for(request),
        user=user,
        products=_products(payload.products),
        period=payload.period,
        audience=payload.audience,
    )
    return 201, {"created": sent.created, "existing": sent.existing, "skipped": len(sent.skipped)}
