"""Read side of tasks: who owns what, my tasks, a release's tasks (scoped through `for_user`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from releasedesk.accounts.models import Team, User
from releasedesk.core.errors import NotFound, ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.models import Release
from releasedesk.tasks.choices import TaskStatus
from releasedesk.tasks.models import Task, TaskOwner

ADMIN_ROLE = "admin"


def owner_slugs(user: User) -> set[str]:
    """The owner slugs that name `user`: their roles, their teams, and their teams' roles."""
    slugs = set(user.role_slugs())
    for team in Team.objects.filter(members=user).prefetch_related("roles"):
        slugs.add(team.slug)
        slugs.update(r.slug for r in team.roles.all())
    return slugs


def may_act(user: User, task: Task) -> bool:
    """An owner of the task, or an administrator, may mark it done or skip it."""
    if not (user.is_active and user.is_staff):
        return False
    mine = owner_slugs(user)
    return user.is_superuser or ADMIN_ROLE in mine or bool(mine & set(task.owners))


def owners_of(slugs: Iterable[str]) -> QuerySet[User]:
    """Active staff with an e-mail address whom these owner slugs name."""
    wanted = list(slugs)
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(roles__slug__in=wanted) | Q(teams__slug__in=wanted) | Q(teams__roles__slug__in=wanted)
        )
        .exclude(email="")
        .distinct()
        .order_by("username")
    )


def tasks_for(principal: Any) -> QuerySet[Task]:
    """Tasks `principal` may see (staff: all; contacts and anyone else: none), with what
    lists show joined or prefetched: a fixed number of queries whatever the row count."""
    return (
        Task.objects.for_user(principal)
        .select_related("step", "release", "decided_by")
        .prefetch_related(Prefetch("owner_rows", queryset=TaskOwner.objects.order_by("id")))
        .order_by("due_at", "id")
    )


def task_for(principal: Any, pk: int) -> Task:
    task = tasks_for(principal).filter(pk=pk).first()
    if task is None:
        raise NotFound(f"Task {pk} not found.")
    return task


def my_tasks(user: User, *, include_finished: bool = False) -> QuerySet[Task]:
    """Tasks owned by a role or team of `user`; open ones (and appeared) unless told."""
    qs = tasks_for(user).filter(
        pk__in=TaskOwner.objects.filter(slug__in=owner_slugs(user)).values("task_id")
    )
    return qs if include_finished else with_status(qs, TaskStatus.OPEN)


def release_tasks(principal: Any, release: Release) -> QuerySet[Task]:
    return tasks_for(principal).filter(release=release)


OPEN_STEP = (WorkState.PENDING, WorkState.RUNNING, WorkState.BLOCKED)
_WAITING = Q(event__gt="", appeared_at__isnull=True)
STATUS_FILTERS: dict[str, Q] = {
    TaskStatus.OPEN: Q(step__state__in=OPEN_STEP) & ~_WAITING,
    TaskStatus.WAITING: Q(step__state__in=OPEN_STEP) & _WAITING,
    TaskStatus.DONE: Q(step__state=WorkState.DONE),
    TaskStatus.SKIPPED: Q(step__state=WorkState.SKIPPED),
    TaskStatus.CANCELLED: Q(step__state__in=(WorkState.SUPERSEDED, WorkState.CANCELLED)),
    TaskStatus.FAILED: Q(step__state__in=(WorkState.FAILED, WorkState.MISSED)),
}


def with_status(qs: QuerySet[Task], status: str | None) -> QuerySet[Task]:
    """Only tasks with this status (the same rule as `Task.status`, in SQL)."""
    if not status:
        return qs
    if status not in STATUS_FILTERS:
        raise ValidationFailed(
            f"unknown status {status!r} (allowed: {', '.join(TaskStatus.values)})",
            fields={"status": "unknown status"},
        )
    return qs.filter(STATUS_FILTERS[status])
