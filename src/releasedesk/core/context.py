"""Per-request (or per-command) context: the request id and the acting principal."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["staff", "contact", "token", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something. People are referenced by id only (no names, no e-mail addresses)."""

    kind: ActorKind
    id: int | None = None
    # For a token: the id of the user the token belongs to.
    on_behalf_of: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system")

    def __str__(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


SYSTEM = Actor.system()

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the current request or command; one is made on first use outside a request."""
    rid = request_id_var.get()
    if rid is None:
        rid = new_request_id()
        request_id_var.set(rid)
    return rid
