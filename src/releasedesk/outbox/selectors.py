"""Outbox queries (scoped: staff only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from releasedesk.core.errors import ValidationFailed
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.models import Message


def messages_for(
    principal: Any,
    *,
    state: str | None = None,
    kind: str | None = None,
    release_id: int | None = None,
) -> QuerySet[Message]:
    """Messages `principal` may see, filtered; unknown filter values are a ValidationFailed."""
    if state and state not in WorkState.values:
        raise ValidationFailed(
            f"unknown state {state!r} (allowed: {', '.join(WorkState.values)})",
            fields={"state": "unknown state"},
        )
    if kind and kind not in MessageKind.values:
        raise ValidationFailed(
            f"unknown kind {kind!r} (allowed: {', '.join(MessageKind.values)})",
            fields={"kind": "unknown kind"},
        )
    qs: QuerySet[Message] = Message.objects.for_user(principal).select_related(
        "release", "contact__customer"
    )
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if release_id is not None:
        qs = qs.filter(release_id=release_id)
    return qs.order_by("-due_at", "-id")
