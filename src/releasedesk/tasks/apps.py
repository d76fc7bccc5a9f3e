from __future__ import annotations

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "releasedesk.tasks"
    label = "tasks"

    def ready(self) -> None:
        # Performers for task, publish, send, digest and hypercare steps, and the hooks that
        # keep Task rows equal to the stored timeline (plan stored, release completed).
        from releasedesk.tasks import hooks, performers  # noqa: F401

        hooks.install()
