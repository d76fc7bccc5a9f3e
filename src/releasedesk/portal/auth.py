"""Portal identity: a customer contact signed in through an e-mailed link.

The session holds only `portal_contact_id`; `current_contact()` re-reads the contact on every
request, so an erased contact is signed out at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

if TYPE_CHECKING:
    from releasedesk.catalog.models import Contact

SESSION_KEY = "portal_contact_id"


def current_contact(request: HttpRequest) -> Contact | None:
    """The signed-in, non-erased portal contact of this request, or None."""
    from releasedesk.catalog.models import Contact

    if hasattr(request, "_portal_contact"):
        cached: Contact | None = request._portal_contact
        return cached
    session = getattr(request, "session", None)
    contact: Contact | None = None
    raw = session.get(SESSION_KEY) if session is not None else None
    if isinstance(raw, int):
        contact = (
            Contact.objects.select_related("customer")
            .filter(pk=raw, erased_at__isnull=True)
            .first()
        )
    request._portal_contact = contact  # type: ignore[attr-defined]
    return contact


def sign_in_contact(request: HttpRequest, contact: Contact) -> None:
    """Start a portal session for `contact` (a new session key against fixation)."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = contact.pk
    request._portal_contact = contact  # type: ignore[attr-defined]


def sign_out_contact(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()
    request._portal_contact = None  # type: ignore[attr-defined]


def contact_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Portal views: redirect to the portal sign-in page unless a contact is signed in.

    The view receives the contact as `request.contact`.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contact = current_contact(request)
        if contact is None:
            return redirect("portal:login")
        request.contact = contact  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
