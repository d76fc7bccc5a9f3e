"""The one due-work row shape (DESIGN.md §1-2).

Every table of work that must happen at a time or leave the building — timeline steps,
outbox messages, webhooks — inherits `DueWork`. The claim/lease/retry/reaper functions in
`releasedesk.core.queue` work on any subclass, so there is one queue mechanism, not one
per table.
"""

from __future__ import annotations

from django.db import models

from releasedesk.core import clock


class WorkState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for due_at (or for a retry's due_at)
    RUNNING = "running", "Running"  # claimed by a worker holding a lease
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # gave up after max_attempts, or a permanent error
    SKIPPED = "skipped", "Skipped"  # staff skipped it, or a rule said not to act
    MISSED = "missed", "Missed"  # past its late cutoff: never run late silently
    BLOCKED = "blocked", "Blocked"  # a gate failed at the moment of acting; staff must look
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Superseded"  # a re-plan replaced it


OPEN_STATES: frozenset[str] = frozenset({WorkState.PENDING, WorkState.RUNNING})
TERMINAL_STATES: frozenset[str] = frozenset(
    set(WorkState.values) - OPEN_STATES - {WorkState.BLOCKED}
)


class DueWork(models.Model):
    """A unit of due work: claimed by compare-and-set, leased, retried with backoff."""

    # Deterministic idempotency key, e.g. "r12:i34:upgrade:g2"; sent as Idempotency-Key /
    # webhook-id / Message-ID so receivers deduplicate at-least-once deliveries.
    key = models.CharField(max_length=255, unique=True)
    state = models.CharField(max_length=16, choices=WorkState.choices, default=WorkState.PENDING)
    due_at = models.DateTimeField(help_text="UTC instant at which the work becomes due.")
    # Work not started by this instant is marked missed instead of run late (null: no cutoff).
    late_after = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    last_error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        abstract = True


class QueueCounter(models.Model):
    """Monotonic event counters per due-work table (lease expiries, retries, missed, failed).

    Kept in the database, not in process memory, so `/metrics` served by the web process
    reports what N separate worker processes did. Only rare events are counted (never each
    claim), so the row is not a hot spot.
    """

    table = models.CharField(max_length=100)  # the model's label, e.g. "timeline.ScheduledStep"
    name = models.CharField(max_length=32)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "name"], name="core_queuecounter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.table} {self.name}={self.value}"


class AlertSeverity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class StaffAlert(models.Model):
    """Something staff must look at (a missed step, a customer left with no reachable admin).

    Written in the transaction of the change that caused it, shown on the worker page until a
    person acknowledges it.
    """

    kind = models.CharField(max_length=64)  # e.g. "queue.missed", "outbox.no_reachable_admin"
    severity = models.CharField(
        max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    object_type = models.CharField(max_length=80, blank=True)  # e.g. "timeline.scheduledstep"
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["acknowledged_at", "created_at"], name="core_alert_open")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"
