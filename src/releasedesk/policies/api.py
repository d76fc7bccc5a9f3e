"""/api/v1/policies/: policies as code — list, versions, diff, validate, apply, JSON Schema.

Staff only: anyone else gets 404. Writes (apply, delete) need a write token or a staff
session and go through `policies.services`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth_with_contacts, require_write, staff_user
from releasedesk.accounts.models import User
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination, ErrorDetail
from releasedesk.core.errors import NotFound
from releasedesk.policies import selectors, services
from releasedesk.policies.loader import MAX_SOURCE_CHARS, PolicyInvalid, check_source
from releasedesk.policies.models import PolicyVersion
from releasedesk.policies.schema import json_schema

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
MAX_VERSION = 1_000_000


router = Router(tags=["policies"], auth=api_auth_with_contacts)

SLUG: Any = param_functions.Path(..., min_length=1, max_length=64, pattern=SLUG_PATTERN)
NUMBER: Any = param_functions.Path(..., ge=1, le=MAX_VERSION)


def _staff(request: HttpRequest) -> User:
    user = staff_user(request)
    if user is None:
        raise NotFound("Not found.")
    return user


# --- schemas ---------------------------------------------------------------------------


class PolicyOut(Schema):
    slug: str
    name: str
    created_at: dt.datetime
    latest_version: int | None
    version_count: int

    @staticmethod
    def resolve_latest_version(obj: Any) -> int | None:
        latest: int | None = obj.latest_number
        return latest


class VersionSummaryOut(Schema):
    policy: str
    number: int
    checksum: str
    filename: str
    created_at: dt.datetime
    created_by_id: int | None


class VersionOut(VersionSummaryOut):
    source_yaml: str
    document: dict[str, Any]


class PolicyDetailOut(Schema):
    slug: str
    name: str
    created_at: dt.datetime
    latest: VersionOut


class SourceIn(Schema):
    filename: str = Field("policy.yaml", min_length=1, max_length=255)
    source: str = Field(..., max_length=MAX_SOURCE_CHARS)


class PolicyErrorOut(Schema):
    file: str
    line: int
    column: int
    path: str
    message: str
    allowed: list[str]
    text: str


class ValidateOut(Schema):
    valid: bool
    policy: str | None
    errors: list[PolicyErrorOut]


class ApplyOut(VersionOut):
    created: bool


class PolicyInvalidOut(Schema):
    error: ErrorDetail
    errors: list[PolicyErrorOut] = []


class DiffQuery(Schema):
    from_version: int = Field(..., ge=1, le=MAX_VERSION, alias="from")
    to_version: int = Field(..., ge=1, le=MAX_VERSION, alias="to")


class DiffOut(Schema):
    policy: str
    from_version: int
    to_version: int
    diff: str


def _summary(v: PolicyVersion) -> dict[str, Any]:
    return {
        "policy": v.policy.slug,
        "number": v.number,
        "checksum": v.checksum,
        "filename": v.filename,
        "created_at": v.created_at,
        "created_by_id": v.created_by_id,
    }


def _full(v: PolicyVersion) -> dict[str, Any]:
    return {**_summary(v), "source_yaml": v.source_yaml, "document": v.document}


# --- reads -----------------------------------------------------------------------------


@router.get("/", response={200: list[PolicyOut], **ERROR_RESPONSES}, summary="List policies")
@paginate(BoundedPagination)
def list_policies(request: HttpRequest) -> Any:
    user = _staff(request)
    return (
        selectors.policies_for(user)
        .annotate(latest_number=Max("versions__number"), version_count=Count("versions"))
        .order_by("slug")
    )


@router.get(
    "/schema",
    response={200: dict[str, Any], **ERROR_RESPONSES},
    summary="JSON Schema of a policy document",
)
def policy_schema(request: HttpRequest) -> Any:
    _staff(request)
    return json_schema()


@router.get(
    "/{slug}/versions",
    response={200: list[VersionSummaryOut], **ERROR_RESPONSES},
    summary="A policy's versions, newest first",
)
@paginate(BoundedPagination)
def list_versions(request: HttpRequest, slug: str = SLUG) -> Any:
    user = _staff(request)
    policy = selectors.get_policy(user, slug)
    return [
        _summary(v)
        for v in selectors.versions_for(user)
        .filter(policy=policy)
        .select_related("policy")
        .order_by("-number")
    ]


@router.get(
    "/{slug}/versions/{number}",
    response={200: VersionOut, **ERROR_RESPONSES},
    summary="One version: YAML source and validated document",
)
def get_version(request: HttpRequest, slug: str = SLUG, number: int = NUMBER) -> Any:
    return _full(selectors.get_version(_staff(request), slug, number))


@router.get(
    "/{slug}/diff",
    response={200: DiffOut, **ERROR_RESPONSES},
    summary="Unified diff of two versions' YAML",
)
def diff_versions(request: HttpRequest, query: Query[DiffQuery], slug: str = SLUG) -> Any:
    user = _staff(request)
    old = selectors.get_version(user, slug, query.from_version)
    new = selectors.get_version(user, slug, query.to_version)
    return {
        "policy": slug,
        "from_version": old.number,
        "to_version": new.number,
        "diff": selectors.diff_text(old, new),
    }


# --- validate / apply / delete ---------------------------------------------------------


@router.post(
    "/validate",
    response={200: ValidateOut, **ERROR_RESPONSES},
    summary="Validate a policy source (no side effects)",
)
def validate_policy(request: HttpRequest, payload: SourceIn) -> Any:
    _staff(request)
    document, errors = check_source(payload.source, payload.filename)
    return {
        "valid": not errors,
        "policy": document.policy if document is not None else None,
        "errors": [e.as_dict() for e in errors],
    }


@router.post(
    "/apply",
    response={**ERROR_RESPONSES, 200: ApplyOut, 201: ApplyOut, 422: PolicyInvalidOut},
    summary="Store a policy source as the next version (201), or return the unchanged latest (200)",
)
def apply_policy(request: HttpRequest, payload: SourceIn) -> Any:
    _staff(request)
    require_write(request)
    try:
        version, created = services.apply_policy_source(
            source=payload.source, filename=payload.filename, actor=actor_for(request)
        )
    except PolicyInvalid as exc:
        body = {
            "error": {"code": exc.code, "message": exc.message, "fields": exc.fields},
            "errors": [e.as_dict() for e in exc.errors],
        }
        return Status(422, body)
    return Status(201 if created else 200, {**_full(version), "created": created})


@router.delete(
    "/{slug}",
    response={204: None, **ERROR_RESPONSES},
    summary="Delete a policy (refused while releases use it)",
)
def delete_policy(request: HttpRequest, slug: str = SLUG) -> Any:
    user = _staff(request)
    require_write(request)
    services.delete_policy(policy=selectors.get_policy(user, slug), actor=actor_for(request))
    return Status(204, None)


# Registered last: "/{slug}" would otherwise shadow "/apply" and "/validate".
@router.get(
    "/{slug}",
    response={200: PolicyDetailOut, **ERROR_RESPONSES},
    summary="A policy with its latest version",
)
def get_policy(request: HttpRequest, slug: str = SLUG) -> Any:
    version = selectors.get_version(_staff(request), slug)
    policy = version.policy
    return {
        "slug": policy.slug,
        "name": policy.name,
        "created_at": policy.created_at,
        "latest": _full(version),
    }
