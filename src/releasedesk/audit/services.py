"""Writing audit events. Every service function calls `record()` inside its transaction."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import models, transaction

from releasedesk.audit.models import AuditChainHead, AuditEvent
from releasedesk.core import clock
from releasedesk.core.context import Actor, current_request_id

GENESIS = "0" * 64


def object_label(obj: models.Model | None) -> tuple[str, str]:
    if obj is None:
        return "", ""
    return obj._meta.label_lower, str(obj.pk)


def canonical(event: AuditEvent) -> bytes:
    """The bytes that an event's hash covers (everything but the hash itself)."""
    payload = {
        "at": event.at.isoformat(),
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_on_behalf_of": event.actor_on_behalf_of,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "scope": event.scope,
        "seq": event.seq,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    scope: str | None = None,
) -> AuditEvent:
    """Append one audit event to its scope's chain, in the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must run inside the service's transaction")
    object_type, object_id = object_label(obj)
    scope = scope or (f"{object_type}:{object_id}" if obj is not None else "system")
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(scope=scope, defaults={"seq": 0, "last_hash": GENESIS})
    event = AuditEvent(
        at=clock.now(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_on_behalf_of=actor.on_behalf_of,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=current_request_id(),
        scope=scope,
        seq=head.seq + 1,
        prev_hash=head.last_hash,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(scope=scope).update(seq=event.seq, last_hash=event.hash)
    return event


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result
