"""Domain errors: raised by services, rendered by the API, web and CLI alike.

Each carries a stable `code`, a message a person can act on, and optionally the
offending fields (`{"field": "what is wrong"}`).
"""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(
        self, message: str, *, fields: Mapping[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})
        if code:
            self.code = code


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, *, current: str, target: str, allowed: list[str] | tuple[str, ...]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"Cannot move from {current!r} to {target!r} (allowed from {current!r}: {allowed_text})"
        )
        self.current, self.target, self.allowed = current, target, list(allowed)


class Throttled(DomainError):
    code = "throttled"
    status = 429
