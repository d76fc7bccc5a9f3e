"""The persisted timeline: the planner's steps as due work (DESIGN.md §1, §3)."""

from __future__ import annotations

from django.db import models

from releasedesk.core.queue_models import DueWork


class StepKind(models.TextChoices):
    STAGE_GATE = "stage_gate", "Stage gate"
    NOTICE = "notice", "Notice"
    REMINDER = "reminder", "Reminder"
    CONSENT_DEADLINE = "consent_deadline", "Consent deadline"
    UPGRADE = "upgrade", "Upgrade"
    VERIFY = "verify", "Verification"
    CONFIRM = "confirm", "Confirmation"
    PUBLISH = "publish", "Publication"
    SEND = "send", "Message"
    DIGEST = "digest", "Digest"
    TASK = "task", "Task"
    HYPERCARE = "hypercare", "Hypercare"


class ScheduledStep(DueWork):
    """One step of a release's plan: what happens when, for whom, and why."""

    release = models.ForeignKey("releases.Release", on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    # The policy target (e.g. "hosted", "white-label") or stage/timeline entry it came from.
    target = models.CharField(max_length=64, blank=True)
    instance = models.ForeignKey(
        "catalog.Instance", null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    customer = models.ForeignKey(
        "catalog.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    # An audience, role or team name when the subject is not one instance or customer.
    audience = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=300)
    # The zone the step is shown in for the people concerned (UTC is always shown too).
    zone = models.CharField(max_length=64)
    ends_at = models.DateTimeField(null=True, blank=True)  # periods (hypercare, windows)
    reason = models.TextField()
    payload = models.JSONField(default=dict, blank=True)
    generation = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["state", "due_at"], name="timeline_step_due"),
            models.Index(fields=["release", "due_at"], name="timeline_step_release"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} @ {self.due_at:%Y-%m-%d %H:%M}Z"
