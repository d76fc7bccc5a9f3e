"""/api/v1/timeline: a release's steps and their runs; pause/resume/cancel the timeline;
skip, retry, or mark one step done/failed; pass a policy stage.

Staff only: a signed-in portal contact (or anyone without the release in scope) gets 404.
Writes need a write-scoped token or a staff session.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth_with_contacts, require_write, staff_user
from releasedesk.accounts.models import User
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import PermissionDenied, ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.core.timeutil import format_local, get_zone, is_valid_zone
from releasedesk.portal.auth import current_contact
from releasedesk.timeline import selectors, services
from releasedesk.timeline.models import ScheduledStep, StepKind, StepRun

MAX_ID = 2_147_483_647

router = Router(tags=["timeline"], auth=api_auth_with_contacts)

ReleaseId = param_functions.Path(..., ge=1, le=MAX_ID, description="The release id.")
StepId = param_functions.Path(..., ge=1, le=MAX_ID, description="The step id.")


# --- schemas ---------------------------------------------------------------------------------


class RunOut(Schema):
    number: int
    executor: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    poll_at: dt.datetime | None
    message: str
    version_before: str
    version_after: str
    decided_by_id: int | None
    comment: str


class StepOut(Schema):
    id: int
    release_id: int
    key: str
    kind: str
    state: str
    due_at: dt.datetime
    due_local: str = Field(description="The due time in the step's zone, with the zone's name.")
    zone: str
    ends_at: dt.datetime | None
    late_after: dt.datetime | None
    label: str
    reason: str
    target: str
    instance: str | None
    customer_id: int | None
    audience: str
    attempts: int
    max_attempts: int
    last_error: str
    finished_at: dt.datetime | None
    waiting_for_person: bool

    # The list endpoint hands over model instances (a paginated queryset), the others dicts.
    @staticmethod
    def resolve_due_local(obj: Any) -> str:
        return str(
            step_data(obj)["due_local"] if isinstance(obj, ScheduledStep) else obj["due_local"]
        )

    @staticmethod
    def resolve_instance(obj: Any) -> str | None:
        if isinstance(obj, ScheduledStep):
            return obj.instance.slug if obj.instance is not None else None
        value = obj["instance"]
        return str(value) if value is not None else None

    @staticmethod
    def resolve_waiting_for_person(obj: Any) -> bool:
        if isinstance(obj, ScheduledStep):
            return bool(getattr(obj, "waiting_for_person", False))
        return bool(obj["waiting_for_person"])


class StepDetailOut(StepOut):
    runs: list[RunOut]


class StagePassOut(Schema):
    passed_at: dt.datetime
    approved_by_id: int
    role: str
    comment: str


class StageOut(Schema):
    name: str
    role: str
    gates_customers: bool
    passed: StagePassOut | None


class ReasonIn(Schema):
    reason: str = Field("", max_length=2000)


class SkipIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


class MarkIn(Schema):
    outcome: Literal["done", "failed"]
    comment: str = Field("", max_length=2000, description="Required when the outcome is failed.")


class StagePassIn(Schema):
    stage: str = Field(..., min_length=1, max_length=64)
    comment: str = Field("", max_length=2000)


class ReleaseStateOut(Schema):
    release_id: int
    status: str
    steps: dict[str, int] = Field(description="How many steps are in each state.")


# --- helpers ---------------------------------------------------------------------------------


def _principal(request: HttpRequest) -> Any:
    return staff_user(request) or current_contact(request)


def _writer(request: HttpRequest) -> User:
    require_write(request)
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only the vendor's staff can control a timeline.")
    return user


def step_data(step: ScheduledStep, *, runs: list[StepRun] | None = None) -> dict[str, Any]:
    zone = step.zone if is_valid_zone(step.zone) else "UTC"
    data: dict[str, Any] = {
        "id": step.pk,
        "release_id": step.release_id,
        "key": step.key,
        "kind": step.kind,
        "state": step.state,
        "due_at": step.due_at,
        "due_local": format_local(step.due_at, get_zone(zone)),
        "zone": step.zone,
        "ends_at": step.ends_at,
        "late_after": step.late_after,
        "label": step.label,
        "reason": step.reason,
        "target": step.target,
        "instance": step.instance.slug if step.instance is not None else None,
        "customer_id": step.customer_id,
        "audience": step.audience,
        "attempts": step.attempts,
        "max_attempts": step.max_attempts,
        "last_error": step.last_error,
        "finished_at": step.finished_at,
        "waiting_for_person": bool(getattr(step, "waiting_for_person", False)),
    }
    if runs is not None:
        data["runs"] = [
            {
                "number": r.number,
                "executor": r.executor,
                "status": r.status,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "poll_at": r.poll_at,
                "message": r.message,
                "version_before": r.version_before,
                "version_after": r.version_after,
                "decided_by_id": r.decided_by_id,
                "comment": str((r.details or {}).get("comment", "")),
            }
            for r in runs
        ]
    return data


def _detail(request: HttpRequest, step_id: int) -> dict[str, Any]:
    step = selectors.step_for(_principal(request), step_id)
    return step_data(step, runs=selectors.runs_of(step))


def _release_state(release_id: int) -> dict[str, Any]:
    from django.db.models import Count

    from releasedesk.releases.models import Release

    release = Release.objects.get(pk=release_id)
    counts = dict(
        ScheduledStep.objects.filter(release_id=release_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {"release_id": release.pk, "status": release.status, "steps": counts}


# --- endpoints -------------------------------------------------------------------------------


@router.get(
    "/releases/{release_id}/steps",
    response={200: list[StepOut], **ERROR_RESPONSES},
    summary="A release's steps, by due time",
)
@paginate(BoundedPagination)
def list_steps(
    request: HttpRequest,
    release_id: int = ReleaseId,
    state: str | None = param_functions.Query(
        None, max_length=16, description="Only steps in this state."
    ),
    kind: str | None = param_functions.Query(
        None, max_length=20, description="Only steps of this kind."
    ),
) -> QuerySet[ScheduledStep]:
    release = selectors.release_for(_principal(request), release_id)
    if state is not None and state not in WorkState.values:
        raise ValidationFailed(
            f"unknown state {state!r} (allowed: {', '.join(WorkState.values)})",
            fields={"state": "unknown state"},
        )
    if kind is not None and kind not in StepKind.values:
        raise ValidationFailed(
            f"unknown kind {kind!r} (allowed: {', '.join(StepKind.values)})",
            fields={"kind": "unknown kind"},
        )
    qs = selectors.steps_for(_principal(request)).filter(release=release)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


@router.get(
    "/steps/{step_id}",
    response={200: StepDetailOut, **ERROR_RESPONSES},
    summary="One step with its runs",
)
def get_step(request: HttpRequest, step_id: int = StepId) -> dict[str, Any]:
    return _detail(request, step_id)


@router.post(
    "/steps/{step_id}/skip", response={200: StepDetailOut, **ERROR_RESPONSES}, summary="Skip a step"
)
def skip(request: HttpRequest, payload: SkipIn, step_id: int = StepId) -> dict[str, Any]:
    step = selectors.step_for(_principal(request), step_id)
    _writer(request)
    services.skip_step(step=step, actor=actor_for(request), reason=payload.reason)
    return _detail(request, step_id)


@router.post(
    "/steps/{step_id}/retry",
    response={200: StepDetailOut, **ERROR_RESPONSES},
    summary="Run a blocked, failed, missed or skipped step again",
)
def retry(request: HttpRequest, payload: ReasonIn, step_id: int = StepId) -> dict[str, Any]:
    step = selectors.step_for(_principal(request), step_id)
    _writer(request)
    services.retry_step(step=step, actor=actor_for(request), reason=payload.reason)
    return _detail(request, step_id)


@router.post(
    "/steps/{step_id}/mark",
    response={200: StepDetailOut, **ERROR_RESPONSES},
    summary="Mark a manual upgrade or a task done or failed",
)
def mark(request: HttpRequest, payload: MarkIn, step_id: int = StepId) -> dict[str, Any]:
    step = selectors.step_for(_principal(request), step_id)
    user = _writer(request)
    services.mark_step(
        step=step,
        actor=actor_for(request),
        user=user,
        outcome=payload.outcome,
        comment=payload.comment,
    )
    return _detail(request, step_id)


def _control(verb: str) -> None:
    service = {
        "pause": services.pause_timeline,
        "resume": services.resume_timeline,
        "cancel": services.cancel_timeline,
    }[verb]

    def endpoint(
        request: HttpRequest, payload: ReasonIn, release_id: int = ReleaseId
    ) -> dict[str, Any]:
        release = selectors.release_for(_principal(request), release_id)
        _writer(request)
        service(release=release, actor=actor_for(request), reason=payload.reason)
        return _release_state(release.pk)

    endpoint.__name__ = f"{verb}_timeline"
    router.post(
        f"/releases/{{release_id}}/{verb}",
        response={200: ReleaseStateOut, **ERROR_RESPONSES},
        summary=f"{verb.capitalize()} the release's timeline",
        operation_id=f"timeline_{verb}",
    )(endpoint)


for _verb in ("pause", "resume", "cancel"):
    _control(_verb)


def _stages(release_id: int) -> list[dict[str, Any]]:
    from releasedesk.releases.models import Release

    release = Release.objects.select_related("policy", "policy_version").get(pk=release_id)
    return [
        {
            "name": s.name,
            "role": s.role,
            "gates_customers": s.gates_customers,
            "passed": None
            if s.passed is None
            else {
                "passed_at": s.passed.passed_at,
                "approved_by_id": s.passed.approved_by_id,
                "role": s.passed.role,
                "comment": s.passed.comment,
            },
        }
        for s in selectors.stages_of(release)
    ]


@router.get(
    "/releases/{release_id}/stages",
    response={200: list[StageOut], **ERROR_RESPONSES},
    summary="The policy's stages and which the release passed",
)
def list_stages(request: HttpRequest, release_id: int = ReleaseId) -> list[dict[str, Any]]:
    release = selectors.release_for(_principal(request), release_id)
    return _stages(release.pk)


@router.post(
    "/releases/{release_id}/stages",
    response={201: list[StageOut], **ERROR_RESPONSES},
    summary="Pass a stage (as a holder of its approval role)",
)
def pass_stage(
    request: HttpRequest, payload: StagePassIn, release_id: int = ReleaseId
) -> Status[Any]:
    release = selectors.release_for(_principal(request), release_id)
    user = _writer(request)
    services.pass_stage(
        release=release,
        stage=payload.stage,
        actor=actor_for(request),
        user=user,
        comment=payload.comment,
    )
    return Status(201, _stages(release.pk))
