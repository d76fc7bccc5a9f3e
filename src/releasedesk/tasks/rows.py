"""What task lists show (the my-tasks page and the release page's include)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from releasedesk.accounts.models import User
from releasedesk.core.timeutil import format_local, format_utc, is_valid_zone
from releasedesk.tasks import selectors
from releasedesk.tasks.choices import TaskStatus
from releasedesk.tasks.models import Task


def task_rows(
    tasks: list[Task], *, user: User | None, zone: str, now: dt.datetime
) -> list[dict[str, Any]]:
    mine = selectors.owner_slugs(user) if user is not None else set()
    admin = user is not None and (user.is_superuser or selectors.ADMIN_ROLE in mine)
    rows = []
    for task in tasks:
        status = task.status
        owners = task.owners
        rows.append(
            {
                "task": task,
                "status": status,
                "status_label": TaskStatus(status).label,
                "owners": owners,
                "overdue": task.is_overdue(now),
                "due_yours": format_local(task.due_at, zone),
                "due_policy": format_local(
                    task.due_at, task.zone if is_valid_zone(task.zone) else "UTC"
                ),
                "due_utc": format_utc(task.due_at),
                "waiting": status == TaskStatus.WAITING,
                "condition_text": task.condition.replace("_", " "),
                "can_act": status == TaskStatus.OPEN and (admin or bool(mine & set(owners))),
            }
        )
    return rows
