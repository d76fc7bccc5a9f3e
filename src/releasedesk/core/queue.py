"""The one queue mechanism: claim, lease, retry, reap — for every `DueWork` table (DESIGN.md §1-2).

Rows are claimed by compare-and-set: on PostgreSQL the due rows are selected
`FOR UPDATE SKIP LOCKED` (two workers never wait for, nor take, the same row); on SQLite
the claim runs in an IMMEDIATE transaction (the settings' `transaction_mode`), which holds
the write lock from BEGIN, and the `UPDATE … WHERE state='pending'` is the check.

A claim sets `state=running`, `lease_owner`, `lease_until = now + lease` and counts an
attempt. `attempts` is also the *fencing token*: `complete`, `retry_or_fail` and
`release_lease` only change a row that is still running under the same owner *and* the same
attempt, so a worker whose lease expired (and whose row was reaped and claimed again) can
never overwrite the new owner's result. `reap` returns rows with an expired lease to
`pending` (or fails them once they used up `max_attempts`, so a row that kills its worker
cannot crash-loop).

Rows not started by their `late_after` instant are marked `missed` instead of claimed and
staff are alerted (a `StaffAlert` row, an audit event and a log line): work never runs late
silently.

Time is always passed in (`releasedesk.core.clock.now()` at the caller), never the
database's `now()`, so tests and the demo can move the clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Q
from django.db.models.functions import Greatest

from releasedesk.core.queue_models import DueWork, WorkState

__all__ = [
    "DEFAULT_BACKOFF",
    "Backoff",
    "MissedHook",
    "Outcome",
    "PermanentFailure",
    "claim",
    "complete",
    "idempotency_key",
    "reap",
    "release_lease",
    "retry_or_fail",
]

log = logging.getLogger("releasedesk.queue")


MissedHook = Callable[[type[DueWork], Sequence[DueWork], dt.datetime], None]

MAX_ERROR_CHARS = 4000
MAX_KEY_CHARS = 255


class PermanentFailure(Exception):
    """Raised by a perform function: do not retry, mark the row failed."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Deterministic exponential backoff: base * factor**(attempt-1), capped (no jitter).

    Jitter is not needed: the claim is a compare-and-set, so workers retrying the same row at
    the same instant do not collide; determinism keeps the schedule testable to the second.
    """

    base: dt.timedelta = dt.timedelta(seconds=30)
    factor: float = 2.0
    cap: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, attempt: int) -> dt.timedelta:
        """The wait after failed attempt number `attempt` (1-based)."""
        exponent = max(attempt, 1) - 1
        try:
            seconds = self.base.total_seconds() * float(self.factor) ** exponent
        except OverflowError:
            return self.cap
        return min(dt.timedelta(seconds=seconds), self.cap) if seconds < 1e9 else self.cap

    def __post_init__(self) -> None:
        if self.base < dt.timedelta(0) or self.cap < self.base or self.factor < 1:
            raise ValueError("Backoff needs base >= 0, cap >= base and factor >= 1")


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a perform function tells the handler to do with the row it was given.

    `state` is the row's final state (DONE, SKIPPED, BLOCKED, FAILED, CANCELLED, SUPERSEDED…);
    `retry=True` means "try again later with backoff" (failed once max_attempts is reached).
    `values` are extra field updates written with the final state, in the same conditional
    UPDATE (e.g. a result summary).
    """

    state: str = WorkState.DONE
    retry: bool = False
    error: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def done(cls, **values: Any) -> Outcome:
        return cls(WorkState.DONE, values=values)

    @classmethod
    def skip(cls, reason: str = "") -> Outcome:
        return cls(WorkState.SKIPPED, error=reason)

    @classmethod
    def block(cls, reason: str) -> Outcome:
        return cls(WorkState.BLOCKED, error=reason)

    @classmethod
    def fail(cls, error: str) -> Outcome:
        return cls(WorkState.FAILED, error=error)

    @classmethod
    def retry_later(cls, error: str) -> Outcome:
        return cls(WorkState.PENDING, retry=True, error=error)


_KEY_PART = re.compile(r"[^\s:]+")


def idempotency_key(*parts: object) -> str:
    """A deterministic key from its parts: `idempotency_key("r12", "i34", "upgrade", "g2")`
    is `"r12:i34:upgrade:g2"`. Parts must be non-empty and free of ':' and whitespace, so
    two different part lists never give the same key. Keys longer than 255 characters keep
    a readable prefix and end in a SHA-256 digest of the whole key.
    """
    if not parts:
        raise ValueError("idempotency_key needs at least one part")
    texts = [str(p) for p in parts]
    for text in texts:
        if not _KEY_PART.fullmatch(text):
            raise ValueError(f"idempotency key part {text!r}: must be non-empty, no ':' or spaces")
    key = ":".join(texts)
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAX_KEY_CHARS - len(digest) - 2]}:~{digest}"


def _truncate(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def _db() -> BaseDatabaseWrapper:
    """The default connection, looked up once per call (`django.db.connection` is a proxy that
    resolves the thread's connection on every attribute access)."""
    return connections[DEFAULT_DB_ALIAS]


@dataclass(frozen=True, slots=True)
class _Statements:
    """Hand-written SQL for the hot path (claim without a filter, complete as done): the ORM's
    query building costs several times the statements themselves (benchmarks/queue.py)."""

    select_due: str
    claim: str  # "{ids}" is replaced by one placeholder per id
    done: str


@functools.cache
def _statements(model: type[DueWork], vendor: str) -> _Statements:
    qn = _db().ops.quote_name
    meta = model._meta
    assert meta.pk is not None

    def col(field: Any) -> str:
        return qn(str(field.column))

    table, pk = qn(meta.db_table), col(meta.pk)
    c = {f: col(meta.get_field(f)) for f in _QUEUE_FIELDS}
    columns = ", ".join(col(f) for f in meta.concrete_fields)
    lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    return _Statements(
        select_due=(
            f"SELECT {columns} FROM {table} WHERE {c['state']} = %s AND {c['due_at']} <= %s"  # noqa: S608
            f" ORDER BY {c['due_at']}, {pk} LIMIT %s{lock}"
        ),
        claim=(
            f"UPDATE {table} SET {c['state']} = %s, {c['lease_owner']} = %s,"  # noqa: S608
            f" {c['lease_until']} = %s, {c['attempts']} = {c['attempts']} + 1,"
            f" {c['updated_at']} = %s WHERE {pk} IN ({{ids}}) AND {c['state']} = %s"
        ),
        done=(
            f"UPDATE {table} SET {c['state']} = %s, {c['finished_at']} = %s,"  # noqa: S608
            f" {c['lease_owner']} = '', {c['lease_until']} = NULL, {c['updated_at']} = %s"
            f" WHERE {pk} = %s AND {c['state']} = %s AND {c['lease_owner']} = %s"
            f" AND {c['attempts']} = %s"
        ),
    )


_QUEUE_FIELDS = (
    "state",
    "due_at",
    "lease_owner",
    "lease_until",
    "attempts",
    "finished_at",
    "updated_at",
)


@functools.cache
def _row_loader(
    model: type[DueWork], vendor: str
) -> tuple[list[str], list[tuple[int, Callable[..., Any], Any]]]:
    """Attribute names and the backend/field converters of `model`'s columns, computed once
    (what the ORM's compiler recomputes for every query)."""
    connection = _db()
    fields = model._meta.concrete_fields
    converters: list[tuple[int, Callable[..., Any], Any]] = []
    for i, f in enumerate(fields):
        col = f.get_col(model._meta.db_table)
        for conv in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            converters.append((i, conv, col))
    return [f.attname for f in fields], converters


def _fetch_rows[W: DueWork](
    connection: BaseDatabaseWrapper, model: type[W], sql: str, params: list[Any]
) -> list[W]:
    attnames, converters = _row_loader(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw_rows = cursor.fetchall()
    rows = []
    for raw in raw_rows:
        values = list(raw)
        for i, conv, col in converters:
            values[i] = conv(values[i], col, connection)
        rows.append(model.from_db(connection.alias, attnames, values))
    return rows


def _db_datetime(connection: BaseDatabaseWrapper, value: dt.datetime) -> Any:
    """What the ORM would send for an aware datetime: as is on PostgreSQL; on SQLite the
    naive UTC text Django stores (`str(naive)`), without its per-call settings lookups."""
    if connection.vendor == "sqlite":
        return str(value.astimezone(dt.UTC).replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(value)


def claim[W: DueWork](
    model: type[W],
    *,
    now: dt.datetime,
    owner: str,
    lease: dt.timedelta,
    limit: int = 1,
    filter: Q | None = None,
    on_missed: MissedHook | None = None,
) -> list[W]:
    """Claim up to `limit` due rows of `model` (pending, `due_at <= now`), oldest first.

    Returns the claimed rows with their new state (running, owner, lease, attempts). Due rows
    whose `late_after` has passed (`late_after < now`) are marked `missed` in the same
    transaction instead, and reported: staff are alerted (`releasedesk.core.alerts`) and
    `on_missed(model, rows, now)` is called inside the transaction if given.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not owner or len(owner) > 64:
        raise ValueError("owner must be 1-64 characters")
    if lease <= dt.timedelta(0):
        raise ValueError("lease must be positive")
    connection = _db()
    with transaction.atomic():
        if filter is None:
            sql = _statements(model, connection.vendor)
            select: Callable[[], list[W]] = lambda: _fetch_rows(  # noqa: E731
                connection,
                model,
                sql.select_due,
                [WorkState.PENDING.value, _db_datetime(connection, now), limit],
            )
        else:
            qs = model._default_manager.filter(state=WorkState.PENDING, due_at__lte=now)
            qs = qs.filter(filter).order_by("due_at", "pk")
            if connection.vendor == "postgresql":
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            select = lambda: list(qs[:limit])  # noqa: E731
        while True:  # until something is claimable or nothing is due
            candidates = select()
            if not candidates:
                return []
            late = [r for r in candidates if r.late_after is not None and r.late_after < now]
            due = [r for r in candidates if r.late_after is None or r.late_after >= now]
            if late:
                _mark_missed(model, late, now=now, on_missed=on_missed)
            if due:
                break
        until = now + lease
        sql = _statements(model, connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(
                sql.claim.format(ids=", ".join(["%s"] * len(due))),
                [
                    WorkState.RUNNING.value,
                    owner,
                    _db_datetime(connection, until),
                    _db_datetime(connection, now),
                    *[r.pk for r in due],
                    WorkState.PENDING.value,
                ],
            )
            claimed = cursor.rowcount
        if claimed != len(due):
            # Cannot happen under the row locks / the IMMEDIATE write lock; if it does, the
            # rows we did not win are re-read so only ours are returned.
            log.warning(
                "queue: claim on %s won %d of %d rows", model._meta.label, claimed, len(due)
            )
            return list(
                model._default_manager.filter(
                    pk__in=[r.pk for r in due],
                    state=WorkState.RUNNING,
                    lease_owner=owner,
                    lease_until=until,
                )
            )
        for row in due:
            row.state = WorkState.RUNNING
            row.lease_owner = owner
            row.lease_until = until
            row.attempts += 1
            row.updated_at = now
        return due


def _mark_missed[W: DueWork](
    model: type[W], rows: list[W], *, now: dt.datetime, on_missed: MissedHook | None
) -> list[W]:
    from releasedesk.core import alerts

    marked = model._default_manager.filter(
        pk__in=[r.pk for r in rows], state=WorkState.PENDING
    ).update(
        state=WorkState.MISSED,
        finished_at=now,
        updated_at=now,
        last_error="late cutoff passed before a worker could start it",
    )
    if marked != len(rows):  # pragma: no cover - see claim()
        rows = list(
            model._default_manager.filter(pk__in=[r.pk for r in rows], state=WorkState.MISSED)
        )
    for row in rows:
        row.state = WorkState.MISSED
        row.finished_at = now
        row.updated_at = now
    alerts.work_missed(model, rows, now=now)
    if on_missed is not None:
        on_missed(model, rows, now)
    return rows


def _owned(row: DueWork, owner: str) -> models.QuerySet[Any]:
    """The row, if it is still running under `owner` and the same attempt (the fence)."""
    return type(row)._default_manager.filter(
        pk=row.pk, state=WorkState.RUNNING, lease_owner=owner, attempts=row.attempts
    )


def complete(
    row: DueWork,
    *,
    owner: str,
    now: dt.datetime,
    state: str = WorkState.DONE,
    error: str = "",
    values: dict[str, Any] | None = None,
) -> bool:
    """Finish a claimed row with `state` (default done) if `owner` still holds its lease.

    Returns False (and changes nothing) when the lease was lost: reaped and taken over by
    another worker, cancelled, or finished by someone else. `values` are extra field updates
    written in the same conditional UPDATE.
    """
    if state in (WorkState.PENDING, WorkState.RUNNING):
        raise ValueError(f"complete() needs a final state, not {state!r}")
    if state == WorkState.DONE and not error and not values:
        return _complete_done(row, owner=owner, now=now)
    updates: dict[str, Any] = dict(values or {})
    updates.update(
        state=state,
        finished_at=now if state != WorkState.BLOCKED else None,
        lease_owner="",
        lease_until=None,
        updated_at=now,
    )
    if error or state != WorkState.DONE:
        updates["last_error"] = _truncate(error)
    won = _owned(row, owner).update(**updates) == 1
    if won:
        for name, value in updates.items():
            setattr(row, name, value)
    else:
        log.info("queue: %s %s lost its lease before completing", type(row)._meta.label, row.pk)
    return won


def _complete_done(row: DueWork, *, owner: str, now: dt.datetime) -> bool:
    connection = _db()
    sql = _statements(type(row), connection.vendor)
    when = _db_datetime(connection, now)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.done,
            [
                WorkState.DONE.value,
                when,
                when,
                row.pk,
                WorkState.RUNNING.value,
                owner,
                row.attempts,
            ],
        )
        won = bool(cursor.rowcount == 1)
    if won:
        row.state, row.finished_at, row.updated_at = WorkState.DONE, now, now
        row.lease_owner, row.lease_until = "", None
    else:
        log.info("queue: %s %s lost its lease before completing", type(row)._meta.label, row.pk)
    return won


def retry_or_fail(
    row: DueWork,
    *,
    owner: str,
    now: dt.datetime,
    error: str,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> str | None:
    """After a failed attempt: back to pending, due again after the backoff delay; or `failed`
    once `attempts >= max_attempts`. Returns the new state, or None when the lease was lost.
    """
    error = _truncate(error)
    with transaction.atomic():
        return _retry_or_fail(row, owner=owner, now=now, error=error, backoff=backoff)


def _retry_or_fail(
    row: DueWork, *, owner: str, now: dt.datetime, error: str, backoff: Backoff
) -> str | None:
    from releasedesk.core import alerts

    if row.attempts >= row.max_attempts:
        won = complete(row, owner=owner, now=now, state=WorkState.FAILED, error=error)
        if won:
            alerts.count(type(row), "failed")
        return WorkState.FAILED if won else None
    due_at = now + backoff.delay(row.attempts)
    updates: dict[str, Any] = {
        "state": WorkState.PENDING,
        "due_at": due_at,
        "lease_owner": "",
        "lease_until": None,
        "last_error": error,
        "updated_at": now,
    }
    if _owned(row, owner).update(**updates) != 1:
        return None
    for name, value in updates.items():
        setattr(row, name, value)
    alerts.count(type(row), "retries")
    return WorkState.PENDING


def release_lease(row: DueWork, *, owner: str, now: dt.datetime) -> bool:
    """Give a claimed row back unstarted (e.g. on shutdown before performing it): pending
    again, due as before, the attempt not counted. False when the lease was already lost."""
    won = (
        _owned(row, owner).update(
            state=WorkState.PENDING,
            lease_owner="",
            lease_until=None,
            attempts=Greatest(F("attempts") - 1, 0),
            updated_at=now,
        )
        == 1
    )
    if won:
        row.state, row.lease_owner, row.lease_until = WorkState.PENDING, "", None
        row.attempts = max(row.attempts - 1, 0)
    return won


def reap(model: type[DueWork], *, now: dt.datetime) -> int:
    """Return rows whose lease expired (`lease_until < now`) to pending; fail those that have
    used up `max_attempts` (a row that keeps killing its worker must not loop forever).
    Returns how many leases expired; they are counted as lease expiries in the metrics."""
    from releasedesk.core import alerts

    expired = model._default_manager.filter(state=WorkState.RUNNING, lease_until__lt=now)
    with transaction.atomic():
        failed = expired.filter(attempts__gte=F("max_attempts")).update(
            state=WorkState.FAILED,
            lease_owner="",
            lease_until=None,
            finished_at=now,
            updated_at=now,
            last_error="lease expired on the last allowed attempt (the worker died or hung)",
        )
        returned = expired.update(
            state=WorkState.PENDING, lease_owner="", lease_until=None, updated_at=now
        )
        total = failed + returned
        if total:
            alerts.count(model, "lease_expiries", total)
            if failed:
                alerts.count(model, "failed", failed)
            log.warning(
                "queue: %d expired lease(s) on %s (%d back to pending, %d failed)",
                total,
                model._meta.label,
                returned,
                failed,
            )
    return total
