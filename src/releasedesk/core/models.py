from __future__ import annotations

from django.db import models

from releasedesk.core import clock


class TimeStampedModel(models.Model):
    """Base for domain rows: created/updated instants from the one clock."""

    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            self.updated_at = clock.now()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


# The queue's own tables (counters, staff alerts) live next to the due-work row shape.
from releasedesk.core.queue_models import QueueCounter, StaffAlert  # noqa: E402, F401
