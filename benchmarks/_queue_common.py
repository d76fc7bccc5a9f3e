"""Shared set-up for the queue and recovery benchmarks: a release to hang steps on, rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "policies"


def make_release() -> Any:
    from releasedesk.accounts.models import User
    from releasedesk.catalog.models import Product
    from releasedesk.core.context import Actor
    from releasedesk.policies.services import apply_policy
    from releasedesk.releases.schemas import ChangeItemData
    from releasedesk.releases.services import create_release

    user = User.objects.create_user(username="bench", password="x", is_staff=True)
    product = Product.objects.create(name="Bench", slug="bench")
    path = EXAMPLES / "school-saas.yaml"
    policy = apply_policy(source=path.read_text(), filename=str(path), actor=None).policy
    return create_release(
        actor=Actor(kind="staff", id=user.pk),
        created_by=user,
        policy=policy,
        products=[product],
        version="9.9.9",
        target_date=dt.date(2030, 1, 10),
        changes=[ChangeItemData(kind="fix", title="Benchmark")],
    )


def insert_steps(release: Any, count: int, *, due_at: dt.datetime, prefix: str = "b") -> None:
    from releasedesk.timeline.models import ScheduledStep, StepKind

    batch = 2000
    for start in range(0, count, batch):
        ScheduledStep.objects.bulk_create(
            [
                ScheduledStep(
                    key=f"bench:{prefix}:{i}",
                    release=release,
                    kind=StepKind.TASK,
                    label=f"no-op {i}",
                    zone="UTC",
                    reason="benchmark",
                    due_at=due_at,
                )
                for i in range(start, min(start + batch, count))
            ]
        )
