from __future__ import annotations

from django.db import models


class TaskStatus(models.TextChoices):
    """A task's status, read from its step (see `Task.status`)."""

    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting for its event"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "No longer planned"
    FAILED = "failed", "Failed"


ACTIVE: frozenset[str] = frozenset({TaskStatus.OPEN, TaskStatus.WAITING})
FINISHED: frozenset[str] = frozenset(
    {TaskStatus.DONE, TaskStatus.SKIPPED, TaskStatus.CANCELLED, TaskStatus.FAILED}
)
