"""Fixtures for timeline execution tests: an approved release with steps on the saas-eu instance.

The policy is written here (not an example file) so these tests depend on nothing but the
execution code: one default level that needs the product manager and the CTO.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from releasedesk.core.context import Actor

POLICY = """
policy: exec-test
zone: Europe/Amsterdam
default_level: standard
levels:
  standard:
    window: anytime
    approvals: [product_manager, cto]
"""

# 2027-04-01 16:00 Europe/Amsterdam (CEST) = 14:00 UTC: the S1 slot.
SLOT = dt.datetime(2027, 4, 1, 14, 0, tzinfo=dt.UTC)


def actor_of(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # The personas are created with passwords; PBKDF2 would dominate these tests' time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _timeline_registries_only() -> Any:
    """These tests exercise the timeline's own gates, performers and re-plan hook; other apps
    (consent, tasks, outbox) register theirs on the same registries and test them there."""
    from releasedesk.timeline import execution, gates

    def own(fn: Any) -> bool:
        return str(getattr(fn, "__module__", "")).startswith("releasedesk.timeline.")

    saved = (list(gates.GATES), dict(execution.PERFORMERS), list(execution.REPLAN_HOOKS))
    gates.GATES[:] = [g for g in saved[0] if own(g.check)]
    execution.PERFORMERS.clear()
    execution.PERFORMERS.update({k: p for k, p in saved[1].items() if own(p)})
    for kind, performer in (
        ("upgrade", execution.perform_upgrade),
        ("verify", execution.perform_verify),
        ("task", execution.perform_task),
        ("stage_gate", execution.perform_stage_gate),
        ("hypercare", execution._informational),
        ("consent_deadline", execution._informational),
    ):
        execution.PERFORMERS[kind] = performer
    execution.REPLAN_HOOKS[:] = [h for h in saved[2] if own(h)]
    yield
    gates.GATES[:] = saved[0]
    execution.PERFORMERS.clear()
    execution.PERFORMERS.update(saved[1])
    execution.REPLAN_HOOKS[:] = saved[2]


@pytest.fixture
def exec_policy(db: None) -> Any:
    from releasedesk.policies.services import apply_policy

    return apply_policy(source=POLICY, filename="exec-test.yaml", actor=None).policy


@pytest.fixture
def release(
    exec_policy: Any,
    presenter: Any,
    vendor_admin: Any,
    product_manager: Any,
    cto: Any,
    saas_eu: Any,
) -> Any:
    """Release 5.4.0, created by the admin, assessed and approved by the PM and the CTO."""
    from releasedesk.releases import services

    with time_machine.travel(dt.datetime(2027, 3, 22, 9, 0, tzinfo=dt.UTC), tick=False):
        rel = services.create_release(
            actor=actor_of(vendor_admin),
            created_by=vendor_admin,
            policy=exec_policy,
            products=[presenter],
            version="5.4.0",
            target_date=dt.date(2027, 4, 1),
        )
        services.assess_release(
            release=rel,
            actor=actor_of(vendor_admin),
            assessor=vendor_admin,
            impact=None,
            likelihood=None,
        )
        services.approve_release(
            release=rel,
            actor=actor_of(product_manager),
            user=product_manager,
            role="product_manager",
        )
        services.approve_release(release=rel, actor=actor_of(cto), user=cto, role="cto")
        services.schedule_release(release=rel, actor=actor_of(vendor_admin))
    rel.refresh_from_db()
    return rel


@pytest.fixture
def make_step(release: Any, saas_eu: Any) -> Callable[..., Any]:
    """A pending step of `release` (an upgrade of saas-eu at the slot unless told otherwise)."""
    from releasedesk.timeline.models import ScheduledStep

    def _make(kind: str = "upgrade", **fields: Any) -> Any:
        key = fields.pop("key", f"r{release.pk}:i{saas_eu.pk}:{kind}")
        defaults: dict[str, Any] = {
            "release": release,
            "kind": kind,
            "key": key,
            "due_at": SLOT,
            "instance": saas_eu if kind == "upgrade" else None,
            "label": f"{kind} saas-eu",
            "zone": "Europe/Amsterdam",
            "reason": "test",
            "target": "production",
        }
        defaults.update(fields)
        return ScheduledStep.objects.create(**defaults)

    return _make


def set_executor(instance: Any, **settings: Any) -> None:
    instance.executor = settings
    instance.save(update_fields=["executor"])


def run_worker(now: dt.datetime, *, limit: int = 50) -> int:
    """Run the step handler at `now` until nothing is due; how many steps it handled."""
    from releasedesk.timeline.execution import handle_one_step

    handled = 0
    with time_machine.travel(now, tick=False):
        while handled < limit and handle_one_step(now=now, owner="test-worker"):
            handled += 1
    return handled


def audit_actions(release: Any) -> list[str]:
    from releasedesk.releases.selectors import audit_trail

    return [e.action for e in audit_trail(release)]
