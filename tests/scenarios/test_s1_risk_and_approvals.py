"""SCENARIOS.md S1 (school SaaS, risk-gated), the risk and approval parts of steps 1, 2 and 4.

Runs from configuration alone: the policy is examples/policies/school-saas.yaml, applied
through the same service the CLI and API use. The planning parts (window, notice) belong to
the scheduling scenario tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict
from releasedesk.releases import services
from releasedesk.releases.models import Approval, Release
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.releases.selectors import missing_approvals

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
MONDAY_10_AMS = dt.datetime(2027, 3, 22, 10, 0, tzinfo=AMS)
POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "school-saas.yaml"


def staff(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


@pytest.fixture
def policy(db: None) -> Any:
    from releasedesk.policies.services import apply_policy

    return apply_policy(
        source=POLICY_FILE.read_text(), filename="examples/policies/school-saas.yaml", actor=None
    ).policy


@pytest.fixture
def release_540(
    policy: Any,
    presenter: Any,
    product_manager: Any,
    customer_a: Any,
    customer_b: Any,
    customer_c: Any,
) -> Release:
    return services.create_release(
        actor=staff(product_manager),
        created_by=product_manager,
        policy=policy,
        products=[presenter],
        version="5.4.0",
        title="Whiteboards",
        target_date=dt.date(2027, 3, 25),
        changes=[
            ChangeItemData(kind="database_migration", title="Split the sessions table"),
            ChangeItemData(kind="feature", title="Shared whiteboards", significant=True),
        ],
    )


@pytest.fixture
def release_manager(roles: dict[str, Any]) -> Any:
    """A second product manager: the creator may not approve their own release."""
    from releasedesk.accounts.models import User

    user = User.objects.create_user(username="pm-lead", password="x-correct-horse", is_staff=True)
    user.roles.set([roles["product_manager"]])
    return user


def test_step1_high_with_factors_and_both_roles_required(
    release_540: Release, product_manager: Any, release_manager: Any, cto: Any
) -> None:
    assessment = services.assess_release(
        release=release_540,
        actor=staff(product_manager),
        assessor=product_manager,
        impact=4,
        likelihood=4,
        stakeholders=services.Stakeholders(roles=("cto", "service")),
        rationale="Every school uses sessions",
    )
    assert (assessment.impact, assessment.likelihood, assessment.level, assessment.releasable) == (
        4,
        4,
        "high",
        True,
    )
    matrix, floor = assessment.factors
    assert matrix == {
        "source": "matrix",
        "description": "impact 4 × likelihood 4 → high",  # noqa: RUF001
        "level": "high",
        "reason": "The policy's risk matrix.",
    }
    assert (floor["source"], floor["level"], floor["reason"]) == (
        "floor",
        "medium",
        "Database changes carry higher operational risk",
    )
    assert "Split the sessions table" in floor["description"]
    assert assessment.required_approvals == [
        {"role": "product_manager", "count": 1},
        {"role": "cto", "count": 1},
    ]
    assert assessment.demands["window"] == "maintenance"
    assert assessment.demands["notice"]["lead"] == "7d"
    assert assessment.policy_version.policy.slug == "school-saas"
    assert [r.role for r in missing_approvals(Release.objects.get())] == ["product_manager", "cto"]

    with time_machine.travel(MONDAY_10_AMS, tick=False):
        services.approve_release(
            release=release_540,
            actor=staff(release_manager),
            user=release_manager,
            role="product_manager",
            comment="Tested on staging",
        )
        assert Release.objects.get().status == "assessed"
        services.approve_release(
            release=release_540,
            actor=staff(cto),
            user=cto,
            role="cto",
            comment="Migration rehearsed",
        )
    release = Release.objects.get()
    assert release.status == "approved"
    approved_at = {a.role: a.created_at for a in Approval.objects.all()}
    assert approved_at == {
        "product_manager": dt.datetime(2027, 3, 22, 9, 0, tzinfo=dt.UTC),
        "cto": dt.datetime(2027, 3, 22, 9, 0, tzinfo=dt.UTC),
    }
    assert (
        approved_at["cto"].astimezone(AMS).strftime("%Y-%m-%d %H:%M %Z") == "2027-03-22 10:00 CET"
    )


def test_step2_start_refused_naming_the_missing_role(
    release_540: Release, product_manager: Any, release_manager: Any
) -> None:
    services.assess_release(
        release=release_540,
        actor=staff(product_manager),
        assessor=product_manager,
        impact=4,
        likelihood=4,
    )
    services.approve_release(
        release=release_540,
        actor=staff(release_manager),
        user=release_manager,
        role="product_manager",
    )
    with pytest.raises(Conflict) as exc:
        services.start_release(release=release_540, actor=staff(product_manager))
    assert exc.value.message == "Cannot start 5.4.0: missing approval from cto"
    assert exc.value.code == "approvals_missing"
    assert Release.objects.get().status == "assessed"


def test_step4_extreme_cannot_be_approved(
    release_540: Release, product_manager: Any, release_manager: Any, cto: Any
) -> None:
    assessment = services.assess_release(
        release=release_540,
        actor=staff(product_manager),
        assessor=product_manager,
        impact=5,
        likelihood=5,
    )
    assert (assessment.level, assessment.releasable, assessment.required_approvals) == (
        "extreme",
        False,
        [],
    )
    for user, role in ((release_manager, "product_manager"), (cto, "cto")):
        with pytest.raises(Conflict) as exc:
            services.approve_release(release=release_540, actor=staff(user), user=user, role=role)
        assert (
            exc.value.message
            == "Risk level 'extreme' is not releasable under policy school-saas: Reduce the risk and re-assess"
        )
    with pytest.raises(
        Conflict, match=r"Cannot start 5.4.0: Risk level 'extreme' is not releasable"
    ):
        services.start_release(release=release_540, actor=staff(product_manager))
    assert not Approval.objects.exists()
    # Reducing the risk and re-assessing makes it releasable again (a new version, history kept).
    again = services.assess_release(
        release=release_540,
        actor=staff(product_manager),
        assessor=product_manager,
        impact=3,
        likelihood=3,
        rationale="Feature flag added",
    )
    assert (again.version, again.level, again.releasable) == (2, "medium", True)
