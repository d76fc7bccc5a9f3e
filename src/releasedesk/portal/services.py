"""Portal sign-in by e-mailed link: signed, expiring, single-use.

The token is `TimestampSigner(salt=SIGN_IN_SALT).sign_object({"c": contact id, "n": nonce,
"e": e-mail fingerprint})`: a token signed for another purpose (another salt), a tampered or
expired one, one for a contact whose address changed or who was erased, and one already used
are all refused with a specific message.

The link leaves as an outbox message (`MessageKind.SIGN_IN`, docs/portal.md): staff previews
mask it, and its body is scrubbed once the message is finished or the link used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse

from releasedesk.audit.services import record
from releasedesk.catalog.models import Contact
from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox import services as outbox_services
from releasedesk.outbox.audiences import contact_recipient
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.models import Message
from releasedesk.outbox.rendering import MessageContext
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


def _new_token(contact: Contact) -> tuple[str, str]:
    """A fresh sign-in token for `contact` and its nonce."""
    nonce = secrets.token_urlsafe(16)
    payload = {"c": contact.pk, "n": nonce, "e": _email_fingerprint(contact.email)}
    return _signer().sign_object(payload), nonce


def make_sign_in_token(contact: Contact) -> str:
    return _new_token(contact)[0]


def link_ref(nonce: str) -> str:
    """The `subject_ref` of the sign-in message carrying the link with this nonce: one
    message per request (a new nonce each time), and no part of the credential in it."""
    return "l" + hashlib.sha256(nonce.encode()).hexdigest()[:24]


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


@transaction.atomic
def send_sign_in_link(*, contact: Contact) -> Message:
    """Queue a sign-in link for `contact` in the outbox, with its audit event (by contact id
    only), in one transaction; the worker delivers it like any other message.

    The message is due now, rendered in the contact's language and zone (the expiry in their
    zone with its name, and in UTC), and never sent after the link expired (`late_after`).
    Each request is a new link, so a new message (its key carries a hash of the nonce).
    """
    token, nonce = _new_token(contact)
    now = clock.now()
    expires = now + dt.timedelta(seconds=max_age())
    customer = contact.customer.name
    message = outbox_services.enqueue(
        recipient=contact_recipient(contact, f"asked for a portal sign-in link for {customer}"),
        kind=MessageKind.SIGN_IN,
        due_at=now,
        late_after=expires,
        subject_ref=link_ref(nonce),
        context=MessageContext(
            customer_name=customer,
            starts_at=expires,
            extra={"sign_in_url": sign_in_url(token)},
        ),
    )
    record(
        actor=SYSTEM,
        action="portal.sign_in_link_sent",
        obj=contact,
        after={"contact_id": contact.pk, "message_id": message.pk},
    )
    return message


# --- scrubbing the one-time credential out of sent sign-in messages ---------------------------

SCRUBBED_TEXT = (
    "This message held a one-time sign-in link for the customer portal. The link was removed "
    "once the message was sent, used or expired.\n"
)
SCRUB_EVERY = 30.0  # seconds between scrubbing passes of one worker process
# States in which a sign-in message will not be sent (again) on its own.
_FINISHED = (WorkState.DONE, WorkState.FAILED, WorkState.MISSED, WorkState.CANCELLED)


def _scrub(qs: QuerySet[Message], *, now: dt.datetime) -> int:
    return qs.exclude(body_text=SCRUBBED_TEXT).update(
        body_text=SCRUBBED_TEXT, body_html="", updated_at=now
    )


def scrub_sign_in_messages(*, now: dt.datetime | None = None) -> int:
    """Replace the body of every finished sign-in message (delivered, failed, missed or
    cancelled) and of every pending one whose link has expired by `SCRUBBED_TEXT`; returns
    how many. Only the content changes: state, key, delivery time and audit stay."""
    now = now or clock.now()
    finished = Q(state__in=_FINISHED) | Q(state=WorkState.PENDING, late_after__lt=now)
    # `release IS NULL AND kind = sign_in` is served by the (release, kind) index.
    qs = Message.objects.filter(finished, release__isnull=True, kind=MessageKind.SIGN_IN)
    count = _scrub(qs, now=now)
    if count:
        log.info("portal: scrubbed the sign-in link out of %d sent message(s)", count)
    return count


_last_scrub = [float("-inf")]


def handle_one_sign_in_scrub() -> bool:
    """Worker handler (registered in `PortalConfig.ready`): `scrub_sign_in_messages()` at most
    every `SCRUB_EVERY` seconds per process; True when it scrubbed something."""
    started = time.monotonic()
    if started - _last_scrub[0] < SCRUB_EVERY:
        return False
    _last_scrub[0] = started
    return scrub_sign_in_messages() > 0


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
    # The link is spent: its message needs to keep no copy of it.
    _scrub(
        Message.objects.filter(
            release__isnull=True, kind=MessageKind.SIGN_IN, subject_ref=link_ref(claims.nonce)
        ),
        now=clock.now(),
    )
    record(
        actor=Actor(kind="contact", id=contact.pk),
        action="portal.signed_in",
        obj=contact,
        after={"contact_id": contact.pk},
    )
    return contact
