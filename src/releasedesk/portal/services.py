"""Portal sign-in by e-mailed link: signed, expiring, single-use.

The token is `TimestampSigner(salt=SIGN_IN_SALT).sign_object({"c": contact id, "n": nonce,
"e": e-mail fingerprint})`: a token signed for another purpose (another salt), a tampered or
expired one, one for a contact whose address changed or who was erased, and one already used
are all refused with a specific message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from releasedesk.audit.services import record
from releasedesk.catalog.models import Contact
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import UnknownTimeZone, format_local, format_utc, get_zone
from releasedesk.portal.models import UsedSignInLink

log = logging.getLogger(__name__)

SIGN_IN_SALT = "releasedesk.portal.sign-in"


class InvalidLink(DomainError):
    code = "invalid_link"
    status = 400


@dataclass(frozen=True, slots=True)
class LinkClaims:
    contact_id: int
    nonce: str
    email_fp: str


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SIGN_IN_SALT)


def _email_fingerprint(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def max_age() -> int:
    return int(settings.PORTAL_LINK_MAX_AGE)


def make_sign_in_token(contact: Contact) -> str:
    payload = {
        "c": contact.pk,
        "n": secrets.token_urlsafe(16),
        "e": _email_fingerprint(contact.email),
    }
    return _signer().sign_object(payload)


def sign_in_url(token: str) -> str:
    return f"{settings.BASE_URL}{reverse('portal:link', kwargs={'token': token})}"


def eligible_contacts(email: str) -> list[Contact]:
    """Reachable, non-erased contacts with this address (one per organisation)."""
    email = email.strip()
    if not email:
        return []
    return list(
        Contact.objects.select_related("customer")
        .filter(email__iexact=email, erased_at__isnull=True, reachable=True)
        .order_by("customer__name", "pk")
    )


def read_token(token: str) -> LinkClaims:
    """Verify signature, purpose and age; does not consume the link (safe for GET)."""
    if not token or len(token) > 500:
        raise InvalidLink("This sign-in link is not valid. Request a new one.")
    try:
        payload: Any = _signer().unsign_object(token, max_age=max_age())
    except signing.SignatureExpired:
        raise InvalidLink(
            "This sign-in link has expired. Request a new one.", code="link_expired"
        ) from None
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        raise InvalidLink(
            "This sign-in link is not valid (it was changed or is meant for something else). Request a new one."
        ) from None
    if not isinstance(payload, dict):
        raise InvalidLink("This sign-in link is not valid. Request a new one.")
    contact_id, nonce, email_fp = payload.get("c"), payload.get("n"), payload.get("e")
    if (
        not isinstance(contact_id, int)
        or not isinstance(nonce, str)
        or not isinstance(email_fp, str)
    ):
        raise InvalidLink("This sign-in link is not valid. Request a new one.")
    return LinkClaims(contact_id=contact_id, nonce=nonce, email_fp=email_fp)


def contact_for_claims(claims: LinkClaims) -> Contact:
    contact: Contact | None = (
        Contact.objects.select_related("customer").filter(pk=claims.contact_id).first()
    )
    if (
        contact is None
        or contact.erased_at is not None
        or not contact.reachable
        or _email_fingerprint(contact.email) != claims.email_fp
    ):
        raise InvalidLink(
            "This sign-in link can no longer be used. Request a new one.", code="link_unusable"
        )
    return contact


def check_unused(claims: LinkClaims) -> None:
    if UsedSignInLink.objects.filter(nonce=claims.nonce).exists():
        raise InvalidLink(
            "This sign-in link has already been used. Request a new one.", code="link_used"
        )


def _zone_name(contact: Contact) -> str:
    name = contact.effective_timezone or "UTC"
    try:
        get_zone(name)
    except UnknownTimeZone:
        return "UTC"
    return name


def send_sign_in_link(*, contact: Contact) -> None:
    """E-mail `contact` a sign-in link, then audit it (by contact id only).

    The mail leaves before the (short) audit transaction, so no database write lock is held
    while talking to the SMTP server; a failed send raises and records nothing.
    """
    token = make_sign_in_token(contact)
    expires = clock.now() + dt.timedelta(seconds=max_age())
    zone = _zone_name(contact)
    body = (
        f"Hello,\n\n"
        f"Use this link to sign in to the ReleaseDesk customer portal for {contact.customer.name}:\n\n"
        f"{sign_in_url(token)}\n\n"
        f"The link works once and expires at {format_local(expires, zone)} ({format_utc(expires)}).\n"
        f"If you did not ask for it, you can ignore this message.\n"
    )
    send_mail(
        subject=f"Your sign-in link for {contact.customer.name}",
        message=body,
        from_email=None,
        recipient_list=[contact.email],
    )
    with transaction.atomic():
        record(
            actor=SYSTEM,
            action="portal.sign_in_link_sent",
            obj=contact,
            after={"contact_id": contact.pk},
        )


@transaction.atomic
def sign_in_with_link(*, token: str) -> Contact:
    """Verify and consume a sign-in link; returns the contact to sign in."""
    claims = read_token(token)
    contact = contact_for_claims(claims)
    try:
        with transaction.atomic():
            UsedSignInLink.objects.create(
                nonce=claims.nonce, contact_id=contact.pk, used_at=clock.now()
            )
    except IntegrityError:
        raise InvalidLink(
            "This sign-in link has already been used. Request a new one.", code="link_used"
        ) from None
    record(
        actor=Actor(kind="contact", id=contact.pk),
        action="portal.signed_in",
        obj=contact,
        after={"contact_id": contact.pk},
    )
    return contact
