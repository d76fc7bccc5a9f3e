"""/api/v1/consent: consents of a release, one consent, decisions recorded by staff (by
phone or on the customer's behalf through the API), postponements confirmed or refused.

Staff and API tokens only (customers answer through their signed links or the portal);
a signed-in portal contact is not a principal here (401).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth, require_write, staff_user
from releasedesk.accounts.models import User
from releasedesk.consent import services
from releasedesk.consent.choices import DecisionChannel
from releasedesk.consent.models import Consent
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied
from releasedesk.releases.models import Release

MAX_ID = 2_147_483_647

router = Router(tags=["consent"], auth=api_auth)

ReleaseId = param_functions.Path(..., ge=1, le=MAX_ID, description="The release id.")
ConsentId = param_functions.Path(..., ge=1, le=MAX_ID, description="The consent id.")


class ConsentOut(Schema):
    id: int
    release_id: int
    target: str
    instance_id: int
    customer_id: int
    slot_date: dt.date
    slot_start: dt.datetime
    deadline: dt.datetime
    zone: str
    mode: str
    state: str
    decided_at: dt.datetime | None
    decided_by_contact_id: int | None
    decided_by_user_id: int | None
    channel: str
    comment: str
    proposed_start: dt.datetime | None
    postpone_status: str


class DecisionIn(Schema):
    decision: Literal["opted_out", "postponed", "approved"]
    channel: Literal["staff_phone", "api"] = Field(
        "staff_phone",
        description="staff_phone: the customer called; the decision is marked as such.",
    )
    received_at: dt.datetime | None = Field(
        None,
        description="When the customer's answer was received (default: now); counts if at or before the deadline.",
    )
    proposed_start: dt.datetime | None = Field(
        None, description="For `postponed`: the proposed start."
    )
    comment: str = Field("", max_length=2000)


class PostponementIn(Schema):
    confirm: bool
    comment: str = Field("", max_length=2000)


def _staff(request: HttpRequest) -> User:
    user = staff_user(request)
    if user is None:
        token = getattr(request, "api_token", None)
        user = getattr(token, "user", None)
    if not isinstance(user, User) or not user.is_staff:
        raise PermissionDenied("Consents are for the vendor's staff.")
    return user


def _consent(request: HttpRequest, consent_id: int) -> Consent:
    found: Consent | None = Consent.objects.for_user(_staff(request)).filter(pk=consent_id).first()
    if found is None:
        raise NotFound(f"Consent {consent_id} not found.")
    return found


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@router.get(
    "/releases/{release_id}",
    response={200: list[ConsentOut], **ERROR_RESPONSES},
    summary="Consents of a release",
)
@paginate(BoundedPagination)
def release_consents(request: HttpRequest, release_id: int = ReleaseId) -> QuerySet[Consent]:
    user = _staff(request)
    if not Release.objects.for_user(user).filter(pk=release_id).exists():
        raise NotFound(f"Release {release_id} not found.")
    return Consent.objects.for_user(user).filter(release_id=release_id).order_by("slot_start", "pk")


@router.get("/{consent_id}", response={200: ConsentOut, **ERROR_RESPONSES}, summary="One consent")
def get_consent(request: HttpRequest, consent_id: int = ConsentId) -> Consent:
    return _consent(request, consent_id)


@router.post(
    "/{consent_id}/decision",
    response={200: ConsentOut, **ERROR_RESPONSES},
    summary="Record a customer's decision (e.g. made by phone)",
)
def record_decision(
    request: HttpRequest, payload: DecisionIn, consent_id: int = ConsentId
) -> Consent:
    require_write(request)
    user = _staff(request)
    consent = _consent(request, consent_id)
    return services.decide(
        consent=consent,
        decision=payload.decision,
        actor=actor_for(request),
        channel=DecisionChannel(payload.channel),
        user=user,
        proposed_start=_aware(payload.proposed_start),
        comment=payload.comment,
        received_at=_aware(payload.received_at),
    )


@router.post(
    "/{consent_id}/postponement",
    response={200: ConsentOut, **ERROR_RESPONSES},
    summary="Confirm or refuse a proposed date",
)
def decide_postponement(
    request: HttpRequest, payload: PostponementIn, consent_id: int = ConsentId
) -> Consent:
    require_write(request)
    user = _staff(request)
    consent = _consent(request, consent_id)
    return services.decide_postponement(
        consent=consent,
        confirm=payload.confirm,
        user=user,
        actor=actor_for(request),
        comment=payload.comment,
    )
