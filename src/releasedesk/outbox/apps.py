from __future__ import annotations

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "releasedesk.outbox"
    label = "outbox"

    def ready(self) -> None:
        # Registers the outbox handler with the one worker loop (releasedesk.core.worker).
        from releasedesk.outbox import delivery  # noqa: F401
