from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "releasedesk.portal"
    label = "portal"

    def ready(self) -> None:
        # The worker scrubs one-time sign-in links out of sent messages (docs/portal.md).
        from releasedesk.core import worker
        from releasedesk.portal import services

        worker.register(services.handle_one_sign_in_scrub)
