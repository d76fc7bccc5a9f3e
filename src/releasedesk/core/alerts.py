"""Staff alerts and queue event counters.

`raise_alert()` writes a `StaffAlert`, its audit event and a log line in the caller's
transaction; `work_missed()` is the queue's late-cutoff report; `count()` bumps a
`QueueCounter` (lease expiries, retries, missed, failed) read by `/metrics` and the worker page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.db import connection, models, transaction

from releasedesk.core import clock
from releasedesk.core.context import SYSTEM, Actor
from releasedesk.core.queue_models import (
    AlertSeverity,
    DueWork,
    QueueCounter,
    StaffAlert,
    WorkState,
)

log = logging.getLogger("releasedesk.alerts")

COUNTER_NAMES = ("lease_expiries", "retries", "missed", "failed")


def count(model: type[models.Model], name: str, by: int = 1) -> None:
    """Add `by` to the `name` counter of `model`'s table (an atomic upsert)."""
    if name not in COUNTER_NAMES:
        raise ValueError(f"unknown queue counter {name!r} (known: {', '.join(COUNTER_NAMES)})")
    table = QueueCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ("  # noqa: S608 - table name from model meta
            '"table", name, value) VALUES (%s, %s, %s) ON CONFLICT ("table", name)'
            f" DO UPDATE SET value = {table}.value + excluded.value",
            [model._meta.label, name, by],
        )


def counters() -> dict[tuple[str, str], int]:
    """All counters as {(table label, name): value}."""
    return {(c.table, c.name): c.value for c in QueueCounter.objects.all()}


@transaction.atomic
def raise_alert(
    *,
    kind: str,
    title: str,
    detail: str = "",
    obj: models.Model | None = None,
    severity: str = AlertSeverity.WARNING,
    actor: Actor = SYSTEM,
    now: dt.datetime | None = None,
) -> StaffAlert:
    """Alert staff: a `StaffAlert` row, an audit event (`alert.raised`) and a warning log."""
    from releasedesk.audit.services import record

    alert = StaffAlert.objects.create(
        kind=kind,
        severity=severity,
        title=title[:300],
        detail=detail,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        created_at=now or clock.now(),
    )
    record(
        actor=actor,
        action="alert.raised",
        obj=obj,
        after={"alert": alert.pk, "kind": kind, "severity": severity, "title": alert.title},
    )
    log.warning("staff alert %s: %s", kind, alert.title)
    return alert


@transaction.atomic
def acknowledge(*, alert: StaffAlert, actor_user_id: int, now: dt.datetime) -> bool:
    """Mark an alert seen. False if it already was (a lost race is not an error)."""
    from releasedesk.audit.services import record

    won = (
        StaffAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by_id=actor_user_id
        )
        == 1
    )
    if won:
        record(
            actor=Actor(kind="staff", id=actor_user_id),
            action="alert.acknowledged",
            obj=alert,
            before={"acknowledged_at": None},
            after={"acknowledged_at": now.isoformat()},
        )
    return won


def work_missed(model: type[DueWork], rows: Sequence[DueWork], *, now: dt.datetime) -> None:
    """The late-cutoff report: one alert (and audit event) per missed row, and the counter."""
    from releasedesk.audit.services import record

    if not rows:
        return
    count(model, "missed", len(rows))
    for row in rows:
        late_after = row.late_after.isoformat() if row.late_after else None
        record(
            actor=SYSTEM,
            action="queue.missed",
            obj=row,
            before={"state": WorkState.PENDING.value},
            after={
                "state": "missed",
                "key": row.key,
                "due_at": row.due_at.isoformat(),
                "late_after": late_after,
                "noticed_at": now.isoformat(),
            },
        )
        raise_alert(
            kind="queue.missed",
            severity=AlertSeverity.CRITICAL,
            title=f"{model._meta.verbose_name} {row.key} missed its late cutoff",
            detail=(
                f"Due at {row.due_at.isoformat()} (UTC), late cutoff {late_after}; "
                f"no worker started it by then (noticed at {now.isoformat()}). "
                "It was not run late: decide whether to retry or replan it."
            ),
            obj=row,
            now=now,
        )
