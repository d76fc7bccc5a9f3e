"""Reading audit events: one filter path for the API and the staff page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from releasedesk.audit.models import AuditEvent
from releasedesk.core.scoping import is_staff_principal


@dataclass(frozen=True, slots=True)
class EventFilters:
    action: str | None = None
    actor_kind: str | None = None
    actor_id: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    request_id: str | None = None
    scope: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


def events(principal: Any, filters: EventFilters | None = None) -> QuerySet[AuditEvent]:
    """Audit events `principal` may read (staff only: anyone else gets none), newest first."""
    qs = AuditEvent.objects.all() if is_staff_principal(principal) else AuditEvent.objects.none()
    f = filters or EventFilters()
    if f.action:
        qs = qs.filter(action=f.action)
    if f.actor_kind:
        qs = qs.filter(actor_kind=f.actor_kind)
    if f.actor_id is not None:
        qs = qs.filter(actor_id=f.actor_id)
    if f.object_type:
        qs = qs.filter(object_type=f.object_type)
    if f.object_id:
        qs = qs.filter(object_id=f.object_id)
    if f.request_id:
        qs = qs.filter(request_id=f.request_id)
    if f.scope:
        qs = qs.filter(scope=f.scope)
    if f.since is not None:
        qs = qs.filter(at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(at__lt=f.until)
    return qs.order_by("-at", "-id")


def diff_rows(before: Any, after: Any) -> list[dict[str, Any]]:
    """Key by key: what a change did, for display (`changed` marks differing values)."""
    b = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    a = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    rows = []
    for key in sorted(set(b) | set(a)):
        rows.append(
            {
                "key": key,
                "before": b.get(key),
                "after": a.get(key),
                "has_before": key in b,
                "has_after": key in a,
                "changed": b.get(key) != a.get(key) or (key in b) != (key in a),
            }
        )
    return rows
