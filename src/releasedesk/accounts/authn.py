"""API authentication and the acting principal of a request.

- `TokenAuth`: personal tokens (`Authorization: Bearer rd_<prefix>_<secret>`), the documented
  scheme. Only the SHA-256 hash is stored; `last_used_at` is written at most once a minute.
- `StaffSessionAuth`: a signed-in staff member's session cookie also works for the API (the
  browser UI), with Django's CSRF check on unsafe methods.
- `require_write(request)`: raises PermissionDenied unless the request may change data.
- `actor_for(request)`: the audit `Actor` of a web, portal or API request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from releasedesk.accounts.choices import TokenScope
from releasedesk.accounts.models import ApiToken, User
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import PermissionDenied

# `last_used_at` is refreshed at most this often per token (one UPDATE, not one per request).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    """The stored form of a raw token: SHA-256, hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _touch(token: ApiToken, now: dt.datetime) -> None:
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is None or token.last_used_at < stale:
        # Conditional update: concurrent requests write at most once per resolution.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        token.last_used_at = now


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`; revoked, expired or unknown tokens answer 401."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token or len(token) > 200:
            return None
        now = clock.now()
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None or (found.expires_at is not None and found.expires_at <= now):
            return None
        _touch(found, now)
        request.api_token = found  # type: ignore[attr-defined]
        request.user = found.user
        return found


class StaffSessionAuth(APIKeyCookie):
    """The session of a signed-in, active staff member (browser use of the API), CSRF-checked."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        key = request.COOKIES.get(self.param_name)
        if key is None:
            return None
        if self.csrf and check_csrf(request) is not None:
            raise HttpError(
                403, "CSRF check failed: send the X-CSRFToken header with session authentication."
            )
        return key

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if isinstance(user, User) and user.is_authenticated and user.is_active and user.is_staff:
            return user
        return None


class ContactSessionAuth(StaffSessionAuth):
    """A signed-in portal contact's session (CSRF-checked like staff sessions).

    Routers that serve contacts add it, so a contact reaching for another organisation's
    objects gets 404 from the scoped query rather than 401.
    """

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        from releasedesk.portal.auth import current_contact

        return current_contact(request)


api_auth = [TokenAuth(), StaffSessionAuth()]
# For routers whose reads are open to portal contacts (scoped by for_user).
api_auth_with_contacts = [*api_auth, ContactSessionAuth()]


def request_token(request: HttpRequest) -> ApiToken | None:
    """The API token the request authenticated with, if any."""
    token = getattr(request, "api_token", None)
    return token if isinstance(token, ApiToken) else None


def staff_user(request: HttpRequest) -> User | None:
    """The active staff user behind the request (session or token), if any."""
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_authenticated and user.is_active and user.is_staff:
        return user
    return None


def require_write(request: HttpRequest) -> None:
    """Raise PermissionDenied unless the request may change data.

    A read-only token never may; a write token or a signed-in staff session may (their roles
    still decide *what* they may change).
    """
    token = request_token(request)
    if token is not None:
        if token.scope != TokenScope.WRITE:
            raise PermissionDenied(
                "This API token is read-only; a token with scope 'write' is required.",
                fields={"token": "scope is 'read'"},
            )
        return
    if staff_user(request) is None and _portal_contact(request) is None:
        raise PermissionDenied("Signing in is required to change data.")


def _portal_contact(request: HttpRequest) -> Any:
    from releasedesk.portal.auth import current_contact

    return current_contact(request)


def actor_for(request: HttpRequest) -> Actor:
    """Who acts in this request: token, staff session or portal contact (by id only).

    Raises PermissionDenied when nobody is signed in.
    """
    token = request_token(request)
    if token is not None:
        return Actor(kind="token", id=token.pk, on_behalf_of=token.user_id)
    user = staff_user(request)
    if user is not None:
        return Actor(kind="staff", id=user.pk)
    contact = _portal_contact(request)
    if contact is not None:
        return Actor(kind="contact", id=contact.pk)
    raise PermissionDenied("Signing in is required.")
