"""The hash chain: what an event's hash covers, computed the same way on write and on verify.

Pure functions, no database access. Each scope is its own chain: event `seq` n of a scope
carries `prev_hash` = the hash of event n-1 of that scope (or GENESIS for n = 1) and
`hash` = SHA-256 of the canonical JSON of all its other fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64

# The fields an event's hash covers, in the order `values_list()` reads them for verify.
HASHED_FIELDS: tuple[str, ...] = (
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
)


def normalise_json(value: Any) -> Any:
    """Make JSON values compare equal across databases.

    PostgreSQL's jsonb stores numbers as `numeric` with the digits Python wrote: 1e20 comes
    back as the integer 100000000000000000000 and 1.7976931348623157e308 as 17976931348623157
    followed by 292 zeros (not the float's exact binary value). So an integral float is hashed
    as the integer its shortest repr denotes.
    """
    if isinstance(value, float) and value.is_integer():
        return int(Decimal(repr(value)))
    if isinstance(value, dict):
        return {str(k): normalise_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise_json(v) for v in value]
    return value


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash covers: every field of HASHED_FIELDS, canonical JSON."""
    at = fields["at"]
    if not isinstance(at, dt.datetime) or at.tzinfo is None:
        raise ValueError("an audit event's time must be an aware datetime")
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["at"] = at.astimezone(dt.UTC).isoformat()
    payload["before"] = normalise_json(fields["before"])
    payload["after"] = normalise_json(fields["after"])
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def compute_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()
