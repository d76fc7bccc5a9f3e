"""Writing audit events. Every service function calls `record()` inside its transaction.

- `record()` appends one event to its scope's chain (DESIGN.md §4b): the scope's
  `AuditChainHead` row is locked (`SELECT … FOR UPDATE`), so writers in *different* scopes
  never wait for one another; on SQLite the IMMEDIATE write transaction serialises anyway.
- `record_denied()` notes a principal reaching for something it may not see (the 404 path),
  in its own short transaction.
- Audit rows reference people by id only. Personal fields of people (contacts, users) are
  redacted from before/after payloads, so erasing a contact never has to touch the chain.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from django.db import DatabaseError, models, transaction

from releasedesk.audit.chain import GENESIS, compute_hash
from releasedesk.audit.models import AuditEvent
from releasedesk.core import clock
from releasedesk.core.context import Actor, current_request_id

__all__ = ["GENESIS", "event_hash", "object_label", "record", "record_denied", "redact"]

logger = logging.getLogger(__name__)

# Object types whose rows describe a person: their personal fields never enter the audit.
PERSON_TYPES = frozenset({"catalog.contact", "accounts.user"})
PERSONAL_KEYS = frozenset(
    {"name", "email", "first_name", "last_name", "full_name", "username", "phone", "password"}
)
REDACTED = "[redacted]"
REDACTED_CHANGED = "[redacted, changed]"

MAX_SCOPE = 96
MAX_ACTION = 80
MAX_OBJECT_TYPE = 80
MAX_OBJECT_ID = 64

DENIED_ACTION = "security.access_denied"


def object_label(obj: models.Model | None) -> tuple[str, str]:
    if obj is None:
        return "", ""
    return obj._meta.label_lower, str(obj.pk)


def event_hash(event: AuditEvent) -> str:
    """The hash `event` must carry, recomputed from its fields."""
    return compute_hash(
        {
            "at": event.at,
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
    )


def _is_personal_key(object_type: str, key: str) -> bool:
    lowered = key.lower()
    if "email" in lowered or lowered in {"password", "phone"}:
        return True  # never audited, whatever the object
    return object_type in PERSON_TYPES and lowered in PERSONAL_KEYS


def redact(
    object_type: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Replace personal values (top-level keys) with markers; keep that they changed."""
    keys = {k for k in (before or {}) if _is_personal_key(object_type, k)}
    keys |= {k for k in (after or {}) if _is_personal_key(object_type, k)}
    if not keys:
        return before, after
    new_before = dict(before) if before is not None else None
    new_after = dict(after) if after is not None else None
    for key in keys:
        changed = (
            before is not None
            and after is not None
            and key in before
            and key in after
            and before[key] != after[key]
        )
        if new_before is not None and key in new_before:
            new_before[key] = REDACTED
        if new_after is not None and key in new_after:
            new_after[key] = REDACTED_CHANGED if changed else REDACTED
    return new_before, new_after


def record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    scope: str | None = None,
) -> AuditEvent:
    """Append one audit event to its scope's chain, in the caller's transaction.

    The default scope is the object (`catalog.customer:12`), else `system`.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must run inside the service's transaction")
    if not action or len(action) > MAX_ACTION:
        raise ValueError(f"audit action must be 1-{MAX_ACTION} characters: {action!r}")
    object_type, object_id = object_label(obj)
    scope = scope or (f"{object_type}:{object_id}" if obj is not None else "system")
    if len(scope) > MAX_SCOPE:
        raise ValueError(f"audit scope must be at most {MAX_SCOPE} characters: {scope!r}")
    return _append(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        scope=scope,
    )


# The append path is three statements in raw SQL (the ORM's query building cost more than the
# database work; see docs/audit.md). Table and column names are constants.
_CLAIM_SEQ = (
    "UPDATE audit_auditchainhead SET seq = seq + 1 WHERE scope = %s RETURNING seq, last_hash"
)
_NEW_HEAD = (
    "INSERT INTO audit_auditchainhead (scope, seq, last_hash) VALUES (%s, 0, %s)"
    " ON CONFLICT (scope) DO NOTHING"
)
_SET_HASH = "UPDATE audit_auditchainhead SET last_hash = %s WHERE scope = %s AND seq = %s"
_EVENT_COLUMNS = (
    "at",
    "actor_kind",
    "actor_id",
    "actor_on_behalf_of",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "scope",
    "seq",
    "prev_hash",
    "hash",
)
_INSERT_EVENT = (
    f"INSERT INTO audit_auditevent ({', '.join(_EVENT_COLUMNS)})"  # noqa: S608 (constants)
    f" VALUES ({', '.join(['%s'] * len(_EVENT_COLUMNS))}) RETURNING id"
)


def _append(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    scope: str,
) -> AuditEvent:
    before, after = redact(object_type, _jsonable(before), _jsonable(after))
    action, object_type, object_id, scope = (
        _safe_text(action),
        _safe_text(object_type),
        _safe_text(object_id),
        _safe_text(scope),
    )
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        # Claiming the next seq locks this scope's head row until commit (PostgreSQL), so
        # appends to one scope queue while other scopes proceed; SQLite's IMMEDIATE
        # transaction serialises writers anyway.
        cursor.execute(_CLAIM_SEQ, [scope])
        claimed = cursor.fetchone()
        if claimed is None:
            cursor.execute(_NEW_HEAD, [scope, GENESIS])
            cursor.execute(_CLAIM_SEQ, [scope])
            claimed = cursor.fetchone()
        if claimed is None:  # pragma: no cover - the head was just created
            raise RuntimeError(f"audit chain head of scope {scope!r} could not be claimed")
        seq, prev_hash = int(claimed[0]), str(claimed[1])
        event = AuditEvent(
            at=clock.now().astimezone(dt.UTC),
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_on_behalf_of=actor.on_behalf_of,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
            request_id=current_request_id(),
            scope=scope,
            seq=seq,
            prev_hash=prev_hash,
        )
        event.hash = event_hash(event)
        fields = {f.name: f for f in AuditEvent._meta.concrete_fields}
        cursor.execute(
            _INSERT_EVENT,
            [
                fields[name].get_db_prep_save(getattr(event, name), connection)
                for name in _EVENT_COLUMNS
            ],
        )
        row = cursor.fetchone()
        event.pk = row[0] if row else None
        event._state.adding = False
        event._state.db = connection.alias
        cursor.execute(_SET_HASH, [event.hash, scope, seq])
        if cursor.rowcount != 1:
            raise RuntimeError(f"audit chain head of scope {scope!r} moved concurrently")
    return event


def record_denied(
    *, actor: Actor, action: str, object_type: str, object_id: str | int | None
) -> AuditEvent | None:
    """Note that `actor` reached for an object it may not see (answered 404).

    Written in its own short transaction: call it *outside* your transaction (views and API
    handlers do), so the note survives the error response. Scope: `security:<UTC date>`, one
    chain per day. A failure to write is logged, never turned into a 500.
    """
    now = clock.now().astimezone(dt.UTC)
    scope = f"security:{now:%Y-%m-%d}"
    try:
        with transaction.atomic():
            return _append(
                actor=actor,
                action=DENIED_ACTION,
                object_type=str(object_type)[:MAX_OBJECT_TYPE],
                object_id="" if object_id is None else str(object_id)[:MAX_OBJECT_ID],
                before=None,
                after={"attempted": str(action)[:MAX_ACTION]},
                scope=scope,
            )
    except DatabaseError:
        logger.exception("could not record denied access by %s to %s", actor, object_type)
        return None


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Plain JSON (ISO strings for dates, str() for the rest), safe for every database."""
    if value is None:
        return None
    result: dict[str, Any] = _safe_json(json.loads(json.dumps(value, default=str)))
    return result


def _safe_text(value: str) -> str:
    """No NUL characters, no lone surrogates: text every database stores as given."""
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _safe_json(value: Any) -> Any:
    # PostgreSQL's jsonb rejects NUL characters and non-finite numbers: a payload carrying
    # user text must never make the audit write (and so the service) fail.
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_safe_json(str(k)): _safe_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_json(v) for v in value]
    return value
