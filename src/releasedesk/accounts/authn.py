"""API authentication: personal tokens (Bearer) — implemented in the accounts app."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from releasedesk.accounts.models import ApiToken
from releasedesk.core import clock


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        now = clock.now()
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None or (found.expires_at is not None and found.expires_at <= now):
            return None
        request.api_token = found  # type: ignore[attr-defined]
        request.user = found.user
        return found


api_auth = [TokenAuth()]
