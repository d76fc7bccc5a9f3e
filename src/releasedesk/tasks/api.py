"""/api/v1/tasks: timeline tasks (mine, a release's, one), mark done or skip with a comment.

Staff only: a portal contact (or anyone without access) gets 404. Writes need a write-scoped
token or a staff session; only an owner of the task (role or team) or an administrator may
act on it (403 otherwise).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth_with_contacts, require_write, staff_user
from releasedesk.accounts.models import User
from releasedesk.core import clock
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied
from releasedesk.core.timeutil import format_local, is_valid_zone
from releasedesk.portal.auth import current_contact
from releasedesk.tasks import selectors, services
from releasedesk.tasks.models import Task
from releasedesk.timeline.selectors import release_for

MAX_ID = 2_147_483_647

router = Router(tags=["tasks"], auth=api_auth_with_contacts)

TaskId = param_functions.Path(..., ge=1, le=MAX_ID, description="The task id.")
ReleaseId = param_functions.Path(..., ge=1, le=MAX_ID, description="The release id.")


class TaskOut(Schema):
    id: int
    release_id: int
    release_version: str
    step_id: int
    key: str
    title: str
    status: str = Field(
        description="open, waiting (for its event), done, skipped, cancelled, failed"
    )
    overdue: bool
    owners: list[str]
    due_at: dt.datetime
    due_local: str = Field(description="The due time in the policy zone, with the zone's name.")
    due_yours: str = Field(description="The due time in the caller's zone.")
    zone: str
    reason: str
    event: str
    condition: str
    remind_at: dt.datetime | None
    outcome: str
    comment: str
    decided_by_id: int | None
    decided_at: dt.datetime | None

    @staticmethod
    def resolve_release_version(obj: Task) -> str:
        return obj.release.version

    @staticmethod
    def resolve_status(obj: Task) -> str:
        return obj.status

    @staticmethod
    def resolve_overdue(obj: Task) -> bool:
        return obj.is_overdue(clock.now())

    @staticmethod
    def resolve_owners(obj: Task) -> list[str]:
        return obj.owners

    @staticmethod
    def resolve_due_local(obj: Task) -> str:
        return format_local(obj.due_at, obj.zone if is_valid_zone(obj.zone) else "UTC")

    @staticmethod
    def resolve_due_yours(obj: Task, context: dict[str, Any]) -> str:
        return format_local(obj.due_at, _viewer_zone(context["request"]))


class DoneIn(Schema):
    comment: str = Field("", max_length=2000)


class SkipIn(Schema):
    comment: str = Field(..., min_length=1, max_length=2000, description="Why it is skipped.")


def _principal(request: HttpRequest) -> Any:
    return staff_user(request) or current_contact(request)


def _viewer_zone(request: HttpRequest) -> str:
    user = staff_user(request)
    zone = getattr(user, "timezone", "") or "UTC"
    return zone if is_valid_zone(zone) else "UTC"


def _writer(request: HttpRequest) -> User:
    require_write(request)
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only the vendor's staff can act on tasks.")
    return user


StatusQuery = param_functions.Query(
    None, max_length=16, description="Only tasks with this status (open, waiting, done, …)."
)


@router.get("/mine", response={200: list[TaskOut], **ERROR_RESPONSES}, summary="My open tasks")
@paginate(BoundedPagination)
def mine(request: HttpRequest, all: bool = False) -> QuerySet[Task]:
    """Tasks whose owner role or team includes me; open ones unless `all=true`."""
    user = staff_user(request)
    if user is None:
        raise NotFound("No tasks here.")
    return selectors.my_tasks(user, include_finished=all)


@router.get(
    "/releases/{release_id}",
    response={200: list[TaskOut], **ERROR_RESPONSES},
    summary="A release's tasks, by due time",
)
@paginate(BoundedPagination)
def for_release(
    request: HttpRequest, release_id: int = ReleaseId, status: str | None = StatusQuery
) -> QuerySet[Task]:
    principal = _principal(request)
    release = release_for(principal, release_id)
    return selectors.with_status(selectors.release_tasks(principal, release), status)


@router.get("/{task_id}", response={200: TaskOut, **ERROR_RESPONSES}, summary="One task")
def get_task(request: HttpRequest, task_id: int = TaskId) -> Task:
    return selectors.task_for(_principal(request), task_id)


def _fresh(request: HttpRequest, task_id: int) -> Task:
    return selectors.task_for(_principal(request), task_id)


@router.post(
    "/{task_id}/done",
    response={200: TaskOut, **ERROR_RESPONSES},
    summary="Mark a task done (owners and administrators)",
)
def done(request: HttpRequest, payload: DoneIn, task_id: int = TaskId) -> Task:
    task = selectors.task_for(_principal(request), task_id)
    user = _writer(request)
    services.complete_task(task=task, user=user, actor=actor_for(request), comment=payload.comment)
    return _fresh(request, task_id)


@router.post(
    "/{task_id}/skip",
    response={200: TaskOut, **ERROR_RESPONSES},
    summary="Skip a task with a comment (owners and administrators)",
)
def skip(request: HttpRequest, payload: SkipIn, task_id: int = TaskId) -> Task:
    task = selectors.task_for(_principal(request), task_id)
    user = _writer(request)
    services.skip_task(task=task, user=user, actor=actor_for(request), comment=payload.comment)
    return _fresh(request, task_id)
