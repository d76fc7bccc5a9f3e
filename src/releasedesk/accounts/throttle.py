"""Login throttling on `LoginAttempt` rows (own implementation; see the module's tests).

After `LOGIN_THROTTLE_LIMIT` failures for one (username, client address) key inside
`LOGIN_THROTTLE_WINDOW` seconds, further attempts are refused without checking the password
until the oldest of those failures leaves the window. A success clears the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from django.conf import settings
from django.http import HttpRequest

from releasedesk.accounts.models import LoginAttempt
from releasedesk.core import clock


def client_address(request: HttpRequest) -> str:
    """The peer address (REMOTE_ADDR). Proxies must be configured to set it correctly."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def throttle_key(kind: str, identifier: str, address: str) -> str:
    """A hash of what is throttled (e.g. 'staff' + username) and the client address."""
    material = f"{kind}\x00{identifier.strip().lower()}\x00{address}"
    return hashlib.sha256(material.encode()).hexdigest()


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.LOGIN_THROTTLE_WINDOW))


def seconds_blocked(key: str, *, now: dt.datetime | None = None) -> int:
    """0 if an attempt may go ahead, else how many seconds to wait."""
    now = now or clock.now()
    limit = int(settings.LOGIN_THROTTLE_LIMIT)
    recent = list(
        LoginAttempt.objects.filter(key=key, at__gt=now - _window())
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return 0
    # The limit-th most recent failure keeps the key blocked until it leaves the window.
    free_at = recent[-1] + _window()
    return max(1, math.ceil((free_at - now).total_seconds()))


def record_failure(key: str, *, now: dt.datetime | None = None) -> None:
    now = now or clock.now()
    # Rows older than the window never count again: purge them (all keys; `at` is indexed).
    LoginAttempt.objects.filter(at__lte=now - _window()).delete()
    LoginAttempt.objects.create(key=key, at=now)


def clear(key: str) -> None:
    LoginAttempt.objects.filter(key=key).delete()


def wait_text(seconds: int) -> str:
    """'14 minutes', '1 minute', '30 seconds'."""
    if seconds >= 60:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
