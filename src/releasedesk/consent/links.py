"""Signed, expiring, purpose-bound and customer-bound consent links (DESIGN.md §5).

A link carries `signing.dumps({"c": consent id, "k": contact id, "u": customer id,
"a": action, "x": expiry (epoch seconds)}, salt="releasedesk.consent.<action>")`:

- tampered or signed with another key → invalid;
- used for another action (an opt-out link posted to the accept URL) → invalid: the salt
  names the action, and the payload repeats it;
- past its expiry (the deadline plus `LINK_GRACE`, checked against `core.clock`) → expired;
  between the deadline and the expiry the page says the deadline has passed and whom to
  contact;
- for a consent of another customer, or by a contact of another organisation → not found.

The link decides nothing by itself: GET shows a confirmation page, only POST acts, and a
consent is decided once (`services.decide`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from releasedesk.consent.choices import Action
from releasedesk.core import clock
from releasedesk.core.errors import DomainError

if TYPE_CHECKING:
    from releasedesk.catalog.models import Contact
    from releasedesk.consent.models import Consent

SALT = "releasedesk.consent."
# Links keep working this long after the deadline, to show "the deadline has passed".
LINK_GRACE = dt.timedelta(days=14)


class InvalidLink(DomainError):
    code = "invalid_link"
    status = 400


class ExpiredLink(DomainError):
    code = "expired_link"
    status = 410


@dataclass(frozen=True, slots=True)
class LinkClaims:
    consent_id: int
    contact_id: int
    customer_id: int
    action: str
    expires: dt.datetime


def expiry_for(consent: Consent) -> dt.datetime:
    return consent.deadline + LINK_GRACE


def make_token(consent: Consent, contact: Contact, action: str) -> str:
    if action not in Action.values:
        raise ValueError(f"unknown consent action {action!r}")
    payload: dict[str, Any] = {
        "c": consent.pk,
        "k": contact.pk,
        "u": consent.customer_id,
        "a": action,
        "x": int(expiry_for(consent).timestamp()),
    }
    return signing.dumps(payload, salt=SALT + action, compress=False)


def link_url(token: str, action: str) -> str:
    path = reverse("consent:link", kwargs={"action": action, "token": token})
    return f"{settings.BASE_URL}{path}"


def make_link(consent: Consent, contact: Contact, action: str) -> str:
    return link_url(make_token(consent, contact, action), action)


def read_token(token: str, action: str, *, now: dt.datetime | None = None) -> LinkClaims:
    """The claims of a link for `action`; InvalidLink or ExpiredLink otherwise."""
    if action not in Action.values:
        raise InvalidLink("This link is not a valid ReleaseDesk consent link.")
    try:
        data = signing.loads(token, salt=SALT + action)
    except signing.BadSignature as exc:
        raise InvalidLink(
            "This link is not valid: it was changed, or it is meant for another action. "
            "Use the link from the e-mail exactly as it is."
        ) from exc
    if not isinstance(data, dict) or data.get("a") != action:
        raise InvalidLink("This link is meant for another action.")
    try:
        claims = LinkClaims(
            consent_id=int(data["c"]),
            contact_id=int(data["k"]),
            customer_id=int(data["u"]),
            action=str(data["a"]),
            expires=dt.datetime.fromtimestamp(int(data["x"]), tz=dt.UTC),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidLink("This link is not a valid ReleaseDesk consent link.") from exc
    if (now or clock.now()) > claims.expires:
        raise ExpiredLink(
            "This link has expired. Sign in to the customer portal to see your upcoming "
            "maintenance, or contact us."
        )
    return claims
