"""System checks for misconfiguration (ids releasedesk.E0xx / W0xx)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def check_configuration(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.TIME_ZONE != "UTC":
        messages.append(
            Error(
                "TIME_ZONE must be 'UTC': instants are stored and compared in UTC.",
                id="releasedesk.E001",
            )
        )
    if not settings.USE_TZ:
        messages.append(Error("USE_TZ must be True.", id="releasedesk.E002"))
    if not settings.DEBUG and settings.SECRET_KEY in (
        "insecure-development-key",
        "demo-only-not-secret",
    ):
        messages.append(
            Warning(
                "RELEASEDESK_SECRET_KEY is a development key; set a long random value in production.",
                id="releasedesk.W001",
            )
        )
    if (
        settings.BASE_URL.startswith("http://")
        and not settings.DEBUG
        and "127.0.0.1" not in settings.BASE_URL
        and "localhost" not in settings.BASE_URL
    ):
        messages.append(
            Warning(
                "RELEASEDESK_BASE_URL is not https: signed links in e-mails would travel in clear text.",
                id="releasedesk.W002",
            )
        )
    db = settings.DATABASES["default"]
    if (
        db["ENGINE"].endswith("sqlite3")
        and db.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE"
    ):
        messages.append(Error("SQLite must use transaction_mode IMMEDIATE.", id="releasedesk.E003"))
    return messages
