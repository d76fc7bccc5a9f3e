"""Timeline tasks: the people's side of a release's `task` steps (issue 6 §6).

A `Task` is created for every stored `task` step (`timeline.ScheduledStep`) when the plan
is stored, so it is visible weeks ahead, and kept equal to it on every re-plan. The step
stays the one due-work row the worker handles; the task adds what people need: the owners
(roles or teams) as rows that can be queried, the reminder, who decided and their comment.
Whether a task is open, done, skipped or cancelled is read from its step (one source of
truth), see `Task.status`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from releasedesk.core import clock
from releasedesk.core.queue_models import WorkState
from releasedesk.core.scoping import ScopedQuerySet
from releasedesk.tasks.choices import TaskStatus


class TaskQuerySet(ScopedQuerySet):
    """Staff only: a customer contact sees no task (the default contact scope is empty)."""


TaskManager = models.Manager.from_queryset(TaskQuerySet)


class Task(models.Model):
    release = models.ForeignKey("releases.Release", on_delete=models.CASCADE, related_name="tasks")
    step = models.OneToOneField(
        "timeline.ScheduledStep", on_delete=models.CASCADE, related_name="task"
    )
    key = models.CharField(max_length=255, unique=True, help_text="The step's key.")
    title = models.CharField(max_length=300)
    due_at = models.DateTimeField(help_text="UTC; shown in `zone` and in each reader's zone.")
    zone = models.CharField(max_length=64, help_text="The policy zone the due date is set in.")
    reason = models.TextField(blank=True, help_text="Why it is due then (from the plan).")
    # `release_completed` for a task that hangs on an event; it appears when that happens.
    event = models.CharField(max_length=32, blank=True)
    appeared_at = models.DateTimeField(null=True, blank=True)
    # The policy condition the task came with (e.g. `any_change_significant`).
    condition = models.CharField(max_length=64, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    # Bumped when the due date moves: the reminder messages of the old date are cancelled
    # and new ones written (the outbox key carries the generation).
    reminder_generation = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, blank=True)  # done | skipped (by a person)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decided_tasks",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now)

    objects = TaskManager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["release", "due_at"], name="tasks_task_release_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["", "done", "skipped"]),
                name="%(app_label)s_%(class)s_outcome_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (due {self.due_at:%Y-%m-%d %H:%M}Z)"

    @property
    def owners(self) -> list[str]:
        return [o.slug for o in self.owner_rows.all()]

    @property
    def status(self) -> str:
        """Read from the step: done, skipped, cancelled (the plan dropped it), failed,
        waiting (for its event), else open."""
        state = self.step.state
        if state == WorkState.DONE:
            return TaskStatus.DONE
        if state == WorkState.SKIPPED:
            return TaskStatus.SKIPPED
        if state in (WorkState.SUPERSEDED, WorkState.CANCELLED):
            return TaskStatus.CANCELLED
        if state in (WorkState.FAILED, WorkState.MISSED):
            return TaskStatus.FAILED
        if self.event and self.appeared_at is None:
            return TaskStatus.WAITING
        return TaskStatus.OPEN

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at < (now or clock.now())


class TaskOwner(models.Model):
    """One owner of a task: a role or team slug (`delivery_lead`, `docs`). A staff member owns
    the task when they hold the role, belong to the team, or belong to a team with the role."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="owner_rows")
    slug = models.SlugField(max_length=64)

    class Meta:
        ordering = ["task", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "slug"], name="%(app_label)s_%(class)s_once"),
        ]
        indexes = [models.Index(fields=["slug"], name="tasks_owner_slug")]

    def __str__(self) -> str:
        return f"{self.slug} owns task {self.task_id}"
