"""Fixtures for queue tests: a release to hang `ScheduledStep` rows on, and a row factory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from releasedesk.core.context import Actor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
T0 = dt.datetime(2027, 4, 1, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def release(presenter: Any, product_manager: Any) -> Any:
    from releasedesk.policies.services import apply_policy
    from releasedesk.releases.schemas import ChangeItemData
    from releasedesk.releases.services import create_release

    path = EXAMPLES / "school-saas.yaml"
    policy = apply_policy(source=path.read_text(), filename=str(path), actor=None).policy
    return create_release(
        actor=Actor(kind="staff", id=product_manager.pk),
        created_by=product_manager,
        policy=policy,
        products=[presenter],
        version="5.4.0",
        target_date=dt.date(2027, 4, 1),
        changes=[ChangeItemData(kind="feature", title="Shared whiteboards")],
    )


@pytest.fixture
def make_steps(release: Any) -> Callable[..., list[Any]]:
    """`make_steps(n, due_at=T0, **fields)`: n task steps with keys `q:<prefix>:<i>`."""
    from releasedesk.timeline.models import ScheduledStep, StepKind

    def _make(
        n: int = 1, *, prefix: str = "s", due_at: dt.datetime = T0, **fields: Any
    ) -> list[Any]:
        rows = [
            ScheduledStep(
                key=f"q:{prefix}:{i}",
                release=release,
                kind=StepKind.TASK,
                label=f"queue test step {i}",
                zone="Europe/Amsterdam",
                reason="queue test",
                due_at=due_at,
                created_at=T0,
                updated_at=T0,
                **fields,
            )
            for i in range(n)
        ]
        return ScheduledStep.objects.bulk_create(rows, batch_size=500)

    return _make
