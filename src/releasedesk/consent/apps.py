from __future__ import annotations

from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "releasedesk.consent"
    label = "consent"
    verbose_name = "Consent and notices"

    def ready(self) -> None:
        # Performers for notice/reminder/consent_deadline/confirm steps, the notice and
        # consent gates, the re-plan hook for gates and the "tell about a re-plan" hook.
        from releasedesk.consent import gates, performers  # noqa: F401
        from releasedesk.consent.hooks import install

        install()
