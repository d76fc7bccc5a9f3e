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


# --- Execution records (issue 5 §3-§5, timeline execution; owned by the execution engineer) ---


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"  # the executor started; poll it later (webhook/command, timed)
    WAITING = "waiting", "Waiting for a person"  # manual executor / task: a person marks it
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"  # the step was cancelled, retried or skipped meanwhile


OPEN_RUN_STATES: frozenset[str] = frozenset({RunStatus.RUNNING, RunStatus.WAITING})


class StepRun(models.Model):
    """One execution of a step by an executor (or a person): the record of what happened.

    A succeeded run is the step's effect, written in the same transaction as the effect
    itself (the instance's new version), so a step claimed again after a crash finds it and
    never repeats the effect.
    """

    step = models.ForeignKey(ScheduledStep, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    executor = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # RUNNING: when to ask the executor again.
    poll_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    version_before = models.CharField(max_length=64, blank=True)
    version_after = models.CharField(max_length=64, blank=True)
    # Who marked a manual run done or failed (null for executors).
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["step", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "number"], name="%(app_label)s_%(class)s_unique_number"
            ),
            # At most one succeeded run per step: the effect happens once.
            models.UniqueConstraint(
                fields=["step"],
                condition=models.Q(status="succeeded"),
                name="%(app_label)s_%(class)s_one_success",
            ),
            models.UniqueConstraint(
                fields=["step"],
                condition=models.Q(status__in=["running", "waiting"]),
                name="%(app_label)s_%(class)s_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step.key} run {self.number}: {self.status}"


class StagePass(models.Model):
    """A release passed one of its policy's stages (e.g. service acceptance), approved by a role."""

    release = models.ForeignKey(
        "releases.Release", on_delete=models.CASCADE, related_name="stage_passes"
    )
    stage = models.CharField(max_length=64)
    passed_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="stage_passes"
    )
    role = models.SlugField(max_length=64)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["release", "passed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "stage"], name="%(app_label)s_%(class)s_once_per_stage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.release_id}: {self.stage} passed"
