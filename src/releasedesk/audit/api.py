"""/api/v1/audit/: the audit trail for staff (events with filters; chain verification).

Audit data is vendor-internal. Anyone else (a non-staff user's token) gets 404, and the
attempt is itself audited (`security.access_denied`).
"""

# No `from __future__ import annotations` here: ninja's @paginate re-reads the endpoint's
# annotations in its own module, where string annotations such as "Literal[...]" or
# "dt.datetime" cannot be resolved.

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.params import functions as param_functions
from pydantic import ValidationError as PydanticValidationError
from pydantic import ValidationInfo, field_validator

from releasedesk.accounts.authn import actor_for, staff_user
from releasedesk.audit import selectors
from releasedesk.audit.services import record_denied
from releasedesk.audit.verify import verify
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied, ValidationFailed

router = Router(tags=["audit"])

MAX_BIGINT = 2**63 - 1
MAX_PROBLEMS = 1000
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
SINCE_QUERY: Any = param_functions.Query(
    None, description="Inclusive lower bound (ISO 8601 with offset)."
)
UNTIL_QUERY: Any = param_functions.Query(
    None, description="Exclusive upper bound (ISO 8601 with offset)."
)


def _clean_text(value: str | None) -> str | None:
    if value is not None and any(ord(ch) < 32 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be an ISO 8601 instant with a zone offset, e.g. 2027-04-01T14:00Z")
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("is out of range") from exc
    if not EARLIEST <= utc <= LATEST:
        raise ValueError("must be between 1970-01-01 and 9000-01-01")
    return utc


class EventFilterIn(Schema):
    action: str | None = Field(
        None, max_length=80, description="Exact action, e.g. catalog.customer_updated."
    )
    actor_kind: Literal["staff", "contact", "token", "system"] | None = None
    actor_id: int | None = Field(None, ge=0, le=MAX_BIGINT)
    object_type: str | None = Field(None, max_length=80, description="e.g. catalog.customer")
    object_id: str | None = Field(None, max_length=64)
    request_id: str | None = Field(None, max_length=64)
    scope: str | None = Field(None, max_length=96)
    since: dt.datetime | None = Field(
        None, description="Inclusive lower bound (ISO 8601 with offset)."
    )
    until: dt.datetime | None = Field(
        None, description="Exclusive upper bound (ISO 8601 with offset)."
    )

    @field_validator("action", "object_type", "object_id", "request_id", "scope")
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        return _clean_text(value)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _instant(value)

    @field_validator("until")
    @classmethod
    def _after_since(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and since > value:
            raise ValueError("must not be before since")
        return value

    def to_filters(self) -> selectors.EventFilters:
        return selectors.EventFilters(**self.dict())


class EventOut(Schema):
    id: int
    at: dt.datetime
    actor_kind: str
    actor_id: int | None
    actor_on_behalf_of: int | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str
    scope: str
    seq: int
    prev_hash: str
    hash: str


class VerifyIn(Schema):
    scope: str | None = Field(None, max_length=96, description="Verify one scope only.")

    @field_validator("scope")
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        return _clean_text(value)


class ProblemOut(Schema):
    kind: Literal["modified", "deleted", "inserted", "broken_link", "head_mismatch"]
    scope: str
    seq: int | None
    event_id: int | None
    detail: str


class VerifyOut(Schema):
    ok: bool
    events: int
    scopes: int
    summary: str
    problems_total: int
    problems: list[ProblemOut] = Field(..., description=f"The first {MAX_PROBLEMS} problems.")


def _validated[S: Schema](schema: type[S], **values: Any) -> S:
    """Cross-field and content checks beyond the query parameters' own bounds (422)."""
    try:
        return schema(**values)
    except PydanticValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "query": err["msg"] for err in exc.errors()
        }
        raise ValidationFailed("The filters are not valid.", fields=fields) from exc


def _require_staff(request: HttpRequest, *, action: str, object_type: str) -> Any:
    user = staff_user(request)
    if user is not None:
        return user
    try:
        actor = actor_for(request)
    except PermissionDenied:
        actor = None
    if actor is not None:
        record_denied(actor=actor, action=action, object_type=object_type, object_id=None)
    raise NotFound("Not found.")


@router.get(
    "/events",
    response={200: list[EventOut], **ERROR_RESPONSES},
    summary="List audit events (staff only), newest first",
)
@paginate(BoundedPagination)
def list_events(
    request: HttpRequest,
    action: str | None = param_functions.Query(None, max_length=80),
    actor_kind: Literal["staff", "contact", "token", "system"] | None = param_functions.Query(None),
    actor_id: int | None = param_functions.Query(None, ge=0, le=MAX_BIGINT),
    object_type: str | None = param_functions.Query(None, max_length=80),
    object_id: str | None = param_functions.Query(None, max_length=64),
    request_id: str | None = param_functions.Query(None, max_length=64),
    scope: str | None = param_functions.Query(None, max_length=96),
    since: dt.datetime | None = SINCE_QUERY,
    until: dt.datetime | None = UNTIL_QUERY,
) -> Any:
    user = _require_staff(request, action="audit.events.list", object_type="audit.auditevent")
    filters = _validated(
        EventFilterIn,
        action=action,
        actor_kind=actor_kind,
        actor_id=actor_id,
        object_type=object_type,
        object_id=object_id,
        request_id=request_id,
        scope=scope,
        since=since,
        until=until,
    )
    return selectors.events(user, filters.to_filters())


@router.get(
    "/verify",
    response={200: VerifyOut, **ERROR_RESPONSES},
    summary="Verify the audit hash chains (staff only)",
)
def verify_chains(
    request: HttpRequest, scope: str | None = param_functions.Query(None, max_length=96)
) -> Any:
    _require_staff(request, action="audit.verify", object_type="audit.auditchainhead")
    params = _validated(VerifyIn, scope=scope)
    report = verify(scope=params.scope)
    data = report.as_json()
    data["problems_total"] = len(report.problems)
    data["problems"] = data["problems"][:MAX_PROBLEMS]
    return data
