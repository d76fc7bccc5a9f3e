"""Risk assessment through the school-saas example (SCENARIOS.md S1)."""

from __future__ import annotations

import datetime as dt

import pytest

from releasedesk.core.errors import ValidationFailed
from releasedesk.policies.loader import load_policy
from releasedesk.policies.risk import ChangeFacts, RiskFactor, assess, required_approvals
from releasedesk.policies.schema import PolicyDocument
from tests.policies.conftest import example_source

MIGRATION = ChangeFacts(
    kind="database_migration", significant=True, reversible=True, title="Add grades table"
)


def test_s1_high_with_factors_and_both_roles(school_saas: PolicyDocument) -> None:
    outcome = assess(school_saas, impact=4, likelihood=4, changes=[MIGRATION])
    assert outcome.level == "high"
    assert outcome.base_level == "high"
    assert outcome.factors == [
        RiskFactor(
            "matrix",
            "impact 4 \u00d7 likelihood 4 \u2192 high",
            "high",
            "The policy's risk matrix.",
        ),
        RiskFactor(
            "floor",
            "a database migration change ('Add grades table'): at least medium (already high)",
            "medium",
            "Database changes carry higher operational risk",
        ),
    ]
    assert [(a.role, a.count) for a in required_approvals(outcome)] == [
        ("product_manager", 1),
        ("cto", 1),
    ]
    assert outcome.demands.window == "maintenance"
    notice = outcome.demands.notice
    assert notice is not None
    assert (notice.lead, notice.to, notice.urgent_lead) == (
        dt.timedelta(days=7),
        "affected_org_admins",
        dt.timedelta(days=1),
    )
    assert outcome.releasable is True


def test_floor_raises_migration_1x1_to_medium_with_reason(school_saas: PolicyDocument) -> None:
    outcome = assess(school_saas, impact=1, likelihood=1, changes=[MIGRATION])
    assert (outcome.base_level, outcome.level) == ("negligible", "medium")
    floor = outcome.factors[1]
    assert floor.source == "floor"
    assert floor.reason == "Database changes carry higher operational risk"
    assert (
        floor.description
        == "a database migration change ('Add grades table'): raises the level to medium"
    )
    assert outcome.demands.window == "maintenance"
    assert outcome.demands.notice is not None
    assert outcome.demands.notice.lead == dt.timedelta(days=7)


def test_low_without_migration_has_no_notice(school_saas: PolicyDocument) -> None:
    outcome = assess(school_saas, impact=1, likelihood=3, changes=[ChangeFacts(kind="fix")])
    assert outcome.level == "low"
    assert outcome.demands.notice is None
    assert outcome.demands.window == "anytime"
    assert len(outcome.factors) == 1


def test_extreme_not_releasable_with_advice(school_saas: PolicyDocument) -> None:
    outcome = assess(school_saas, impact=5, likelihood=5, changes=[])
    assert outcome.level == "extreme"
    assert outcome.releasable is False
    assert outcome.advice == "Reduce the risk and re-assess"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("impact", {"impact": 0, "likelihood": 3}),
        ("likelihood", {"impact": 3, "likelihood": 6}),
        ("impact", {"impact": None, "likelihood": 2}),
    ],
)
def test_scale_outside_1_to_5_names_the_field(
    school_saas: PolicyDocument, field: str, kwargs: dict[str, int | None]
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        assess(school_saas, changes=[], **kwargs)  # type: ignore[arg-type]
    assert field in exc.value.fields
    assert field in exc.value.message


def test_security_hotfix_uses_lane(school_saas: PolicyDocument) -> None:
    outcome = assess(
        school_saas, impact=2, likelihood=2, changes=[], kind="hotfix", hotfix_reason="security"
    )
    assert outcome.level == "low"
    assert outcome.demands.window == "anytime"
    assert outcome.demands.notice is not None
    assert outcome.demands.notice.lead == dt.timedelta(0)
    assert outcome.demands.notice.afterwards is not None
    assert outcome.demands.notice.afterwards.to == "affected_org_admins"
    assert outcome.factors[-1].source == "hotfix"


def test_hotfix_reason_must_be_allowed(school_saas: PolicyDocument) -> None:
    with pytest.raises(ValidationFailed) as exc:
        assess(
            school_saas, impact=2, likelihood=2, changes=[], kind="hotfix", hotfix_reason="cosmetic"
        )
    assert "hotfix_reason" in exc.value.fields


def test_hotfix_does_not_bypass_extreme(school_saas: PolicyDocument) -> None:
    outcome = assess(
        school_saas, impact=5, likelihood=5, changes=[], kind="hotfix", hotfix_reason="security"
    )
    assert outcome.releasable is False


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("hosted-monthly.yaml", "change_management"),
        ("oem-white-label.yaml", "product_manager"),
        ("field-software.yaml", "delivery_lead"),
    ],
)
def test_default_level_policies(name: str, role: str) -> None:
    doc = load_policy(example_source(name), name)
    outcome = assess(doc, impact=None, likelihood=None, changes=[MIGRATION])
    assert outcome.level == "standard"
    assert outcome.factors[0].source == "default"
    assert [a.role for a in required_approvals(outcome)] == [role]
