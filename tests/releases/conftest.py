"""Fixtures for release tests: the school-saas example policy and a release factory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from releasedesk.core.context import Actor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


@pytest.fixture
def school_saas(db: None) -> Any:
    from releasedesk.policies.services import apply_policy

    path = EXAMPLES / "school-saas.yaml"
    return apply_policy(source=path.read_text(), filename=str(path), actor=None).policy


@pytest.fixture
def make_release(school_saas: Any, presenter: Any, product_manager: Any) -> Callable[..., Any]:
    from releasedesk.releases.schemas import ChangeItemData
    from releasedesk.releases.services import create_release

    def _make(
        version: str = "5.4.0",
        *,
        changes: list[dict[str, Any]] | None = None,
        by: Any = None,
        **kwargs: Any,
    ) -> Any:
        creator = by or product_manager
        items = [
            ChangeItemData(**c)
            for c in (
                changes
                if changes is not None
                else [{"kind": "feature", "title": "Shared whiteboards"}]
            )
        ]
        return create_release(
            actor=Actor(kind="staff", id=creator.pk),
            created_by=creator,
            policy=kwargs.pop("policy", school_saas),
            products=kwargs.pop("products", [presenter]),
            version=version,
            target_date=kwargs.pop("target_date", dt.date(2027, 4, 1)),
            changes=items,
            **kwargs,
        )

    return _make


@pytest.fixture
def second_pm(roles: dict[str, Any]) -> Any:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(username="pm2", password="correct-horse-battery", is_staff=True)
    user.roles.set([roles["product_manager"]])
    return user


def actor_of(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)
