"""Write a plan's steps as `ScheduledStep` rows — only the difference (issue: persisted timeline).

`persist_plan(release, steps, now=…)` compares the planner's steps with the rows already
stored for the release, by their deterministic key:

- a new key becomes a new pending row (raw batched INSERT — `executemany` on SQLite, `COPY`
  on PostgreSQL — because Django's `bulk_create` costs about ten times a raw insert and a
  release can have 100,000 instances);
- a key whose row is still pending and whose time, subject or reason changed is updated in
  place; a changed `due_at` is reported as *moved* (the people concerned must be told);
- a key whose row already ran (running, done, failed, skipped, missed) is never touched: the
  past does not move;
- a pending row whose key is no longer in the plan is marked `superseded`;
- an unmeetable step is stored as `blocked` with its reason (it must not run, staff must see it);
- a superseded step (a newer release takes the instance over, DESIGN.md §4b) is stored as
  `superseded` with its reason; it is not reported as moved (nobody is told about a date for
  an upgrade that will not happen). A later plan may bring it back to `pending`.

The caller holds the transaction; the function writes one audit event with the counts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, transaction

from releasedesk.audit.services import record
from releasedesk.core.context import Actor
from releasedesk.core.queue_models import WorkState
from releasedesk.timeline.models import ScheduledStep

BATCH = 5000
# Steps in these states are history: a re-plan never moves or rewrites them.
SETTLED = frozenset(
    {
        WorkState.RUNNING,
        WorkState.DONE,
        WorkState.FAILED,
        WorkState.SKIPPED,
        WorkState.MISSED,
        WorkState.CANCELLED,
    }
)
# The fields a re-plan may change on a row that has not run yet.
MUTABLE = (
    "kind",
    "target",
    "instance_id",
    "customer_id",
    "audience",
    "label",
    "zone",
    "due_at",
    "ends_at",
    "late_after",
    "reason",
    "payload",
)


class PlannedStep(Protocol):
    """What the planner hands over (see `releasedesk.planning.types.Step`)."""

    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def due_at(self) -> dt.datetime: ...
    @property
    def zone(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def instance_id(self) -> int | None: ...
    @property
    def customer_id(self) -> int | None: ...
    @property
    def audience(self) -> str: ...
    @property
    def ends_at(self) -> dt.datetime | None: ...
    @property
    def late_after(self) -> dt.datetime | None: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Moved:
    key: str
    label: str
    old_due_at: dt.datetime
    new_due_at: dt.datetime
    instance_id: int | None
    customer_id: int | None


@dataclass
class PlanDiff:
    """What a re-plan changed: the communication layer tells people about `moved`/`removed`."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    frozen: int = 0
    blocked: int = 0
    moved: list[Moved] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.blocked)

    def summary(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "frozen": self.frozen,
            "blocked": self.blocked,
            "moved": len(self.moved),
            "removed": len(self.removed),
        }


def _values(step: PlannedStep) -> dict[str, Any]:
    return {
        "kind": step.kind,
        "target": step.target or "",
        "instance_id": step.instance_id,
        "customer_id": step.customer_id,
        "audience": step.audience or "",
        "label": step.label[:300],
        "zone": step.zone,
        "due_at": step.due_at,
        "ends_at": step.ends_at,
        "late_after": step.late_after,
        "reason": step.reason,
        "payload": dict(step.payload),
    }


def _state_for(step: PlannedStep) -> str:
    if step.status == "unmeetable":
        return WorkState.BLOCKED
    if step.status == "superseded":
        return WorkState.SUPERSEDED
    return WorkState.PENDING


COLUMNS = (
    "key",
    "state",
    "due_at",
    "late_after",
    "lease_owner",
    "attempts",
    "max_attempts",
    "last_error",
    "created_at",
    "updated_at",
    "release_id",
    "kind",
    "target",
    "instance_id",
    "customer_id",
    "audience",
    "label",
    "zone",
    "ends_at",
    "reason",
    "payload",
    "generation",
    "finished_at",
)


def _row(step: PlannedStep, release_id: int, generation: int, now: dt.datetime) -> tuple[Any, ...]:
    state = _state_for(step)
    return (
        step.key,
        state,
        step.due_at,
        step.late_after,
        "",
        0,
        5,
        step.reason if state == WorkState.BLOCKED else "",
        now,
        now,
        release_id,
        step.kind,
        step.target or "",
        step.instance_id,
        step.customer_id,
        step.audience or "",
        step.label[:300],
        step.zone,
        step.ends_at,
        step.reason,
        json.dumps(dict(step.payload), separators=(",", ":"), sort_keys=True),
        generation,
        now if state == WorkState.SUPERSEDED else None,
    )


def insert_rows(rows: Sequence[tuple[Any, ...]]) -> None:
    """Raw batched insert of new step rows (COPY on PostgreSQL, executemany elsewhere)."""
    if not rows:
        return
    table = ScheduledStep._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608 - constant names
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, [_adapt(r) for r in rows[start : start + BATCH]])


def _adapt(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Django's SQLite backend stores aware datetimes as naive UTC text; match it exactly.
    return tuple(
        connection.ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime) else v
        for v in row
    )


def persist_plan(
    *,
    release_id: int,
    steps: Iterable[PlannedStep],
    now: dt.datetime,
    actor: Actor | None = None,
    generation: int = 1,
) -> PlanDiff:
    """Store `steps` for the release as the difference to what is stored (see module doc)."""
    diff = PlanDiff()
    with transaction.atomic():
        existing: dict[str, ScheduledStep] = {
            s.key: s for s in ScheduledStep.objects.filter(release_id=release_id)
        }
        seen: set[str] = set()
        new_rows: list[tuple[Any, ...]] = []
        to_update: list[ScheduledStep] = []
        for step in steps:
            if step.key in seen:
                raise ValueError(f"the plan has the step key {step.key!r} twice")
            seen.add(step.key)
            row = existing.get(step.key)
            if row is None:
                new_rows.append(_row(step, release_id, generation, now))
                diff.added += 1
                diff.blocked += step.status == "unmeetable"
                continue
            if row.state in SETTLED or step.status == "frozen":
                diff.frozen += 1
                continue
            values = _values(step)
            state = _state_for(step)
            changes = {k: v for k, v in values.items() if getattr(row, k) != v}
            if not changes and row.state == state:
                diff.unchanged += 1
                continue
            if "due_at" in changes and state != WorkState.SUPERSEDED:
                diff.moved.append(
                    Moved(
                        key=row.key,
                        label=step.label,
                        old_due_at=row.due_at,
                        new_due_at=step.due_at,
                        instance_id=step.instance_id,
                        customer_id=step.customer_id,
                    )
                )
            for name, value in changes.items():
                setattr(row, name, value)
            if state == WorkState.BLOCKED:
                diff.blocked += 1
                row.last_error = step.reason
            elif row.state == WorkState.BLOCKED:
                row.last_error = ""
            if state == WorkState.SUPERSEDED:
                row.finished_at = now
            elif row.state == WorkState.SUPERSEDED:
                row.finished_at = None
            row.state = state
            row.generation = generation
            row.updated_at = now
            to_update.append(row)
            diff.updated += 1
        insert_rows(new_rows)
        if to_update:
            ScheduledStep.objects.bulk_update(
                to_update,
                [*MUTABLE, "state", "last_error", "finished_at", "generation", "updated_at"],
                batch_size=1000,
            )
        gone = [
            key
            for key, row in existing.items()
            if key not in seen and row.state in (WorkState.PENDING, WorkState.BLOCKED)
        ]
        if gone:
            ScheduledStep.objects.filter(release_id=release_id, key__in=gone).update(
                state=WorkState.SUPERSEDED, finished_at=now, updated_at=now
            )
        diff.removed = sorted(gone)
        if actor is not None and (diff.changed or not existing):
            record(
                actor=actor,
                action="timeline.planned",
                scope=f"release:{release_id}",
                after={"generation": generation, **diff.summary()},
            )
    return diff
