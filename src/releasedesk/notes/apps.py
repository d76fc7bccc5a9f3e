from __future__ import annotations

from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "releasedesk.notes"
    label = "notes"

    def ready(self) -> None:
        from releasedesk.core.worker import register
        from releasedesk.notes.services import handle_one_publication

        # Docs exports and knowledge-base posts that failed inline are retried by the worker.
        register(handle_one_publication)
