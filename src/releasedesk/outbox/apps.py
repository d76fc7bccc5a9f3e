from __future__ import annotations

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "releasedesk.outbox"
    label = "outbox"

    def ready(self) -> None:
        # Registers the outbox handler with the one worker loop (releasedesk.core.worker).
        # ESP bounces/complaints through django-anymail's tracking webhooks (outbox.esp).
        from anymail.signals import tracking

        from releasedesk.outbox import delivery  # noqa: F401
        from releasedesk.outbox.esp import on_tracking

        tracking.connect(on_tracking, dispatch_uid="releasedesk.outbox.esp")
