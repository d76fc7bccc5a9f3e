"""Fixtures for calendar tests: a fixed clock and a second product."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

UTC = dt.UTC
NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen_now() -> Iterator[dt.datetime]:
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def sso(db: None) -> Any:
    from releasedesk.catalog.models import Product

    return Product.objects.create(slug="sso", name="SSO")


# A policy document in the stored JSON shape (PolicyVersion.document), with time sections.
SCHOOL_DOC: dict[str, Any] = {
    "policy": "school-saas",
    "zone": "Europe/Amsterdam",
    "levels": {"low": {}},
    "windows": {"maintenance": {"every": "weekly on thursday", "from": "16:00", "to": "22:00"}},
    "blackouts": [
        {"holidays": {"country": "NL"}},
        {"dates": {"from": "2027-04-06", "to": "2027-04-07"}, "reason": "Exam days"},
    ],
    "targets": [
        {
            "name": "production",
            "instances": {"kind": "shared"},
            "cycle": {"every": "2 weeks", "on": "wednesday", "from": "2027-01-06", "at": "10:00"},
        }
    ],
}


@pytest.fixture
def make_policy(db: None) -> Any:
    from releasedesk.policies.models import Policy, PolicyVersion

    def _make(document: dict[str, Any], *, number: int = 1) -> Any:
        policy, _ = Policy.objects.get_or_create(
            slug=document["policy"], defaults={"name": document["policy"]}
        )
        PolicyVersion.objects.create(
            policy=policy,
            number=number,
            source_yaml="# test",
            document=document,
            checksum=f"{number:064d}",
        )
        return policy

    return _make


@pytest.fixture
def school_policy(make_policy: Any) -> Any:
    return make_policy(SCHOOL_DOC)


@pytest.fixture
def make_release(school_policy: Any, presenter: Any) -> Any:
    from releasedesk.releases.models import Release

    def _make(version: str, target_date: dt.date, **extra: Any) -> Any:
        release = Release.objects.create(
            policy=extra.pop("policy", school_policy),
            version=version,
            target_date=target_date,
            **extra,
        )
        release.products.set([presenter])
        return release

    return _make


@pytest.fixture
def make_step(db: None) -> Any:
    from releasedesk.timeline.models import ScheduledStep

    counter = iter(range(1, 10**9))

    def _make(release: Any, kind: str, due_at: dt.datetime, **extra: Any) -> Any:
        n = next(counter)
        return ScheduledStep.objects.create(
            key=f"r{release.pk}:{kind}:{n}",
            release=release,
            kind=kind,
            due_at=due_at,
            label=extra.pop("label", f"{kind} {n}"),
            zone=extra.pop("zone", "Europe/Amsterdam"),
            reason=extra.pop("reason", "internal reason: first Thursday window"),
            **extra,
        )

    return _make
