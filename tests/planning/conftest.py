"""Builders for the planner tests: the example policies and small catalogues (S1-S4)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from releasedesk.core.timeutil import to_local
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ChangeSnapshot,
    ContactSnapshot,
    CustomerSnapshot,
    Facts,
    InstanceSnapshot,
    ProductSnapshot,
    ReleaseSnapshot,
    Step,
    SubscriptionSnapshot,
)
from releasedesk.policies.loader import load_policy
from releasedesk.policies.risk import ChangeFacts, assess
from releasedesk.policies.schema import PolicyDocument

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
SCHOOL_ICS = "calendars/school-holidays-noord.ics"


@cache
def policy(name: str) -> PolicyDocument:
    return load_policy((EXAMPLES / f"{name}.yaml").read_text(), f"{name}.yaml")


@cache
def calendars() -> dict[str, str]:
    return {SCHOOL_ICS: (EXAMPLES / SCHOOL_ICS).read_text()}


def utc(text: str) -> dt.datetime:
    """'2027-04-01 14:00' -> aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def local(instant: dt.datetime, zone: str) -> str:
    value = to_local(instant, zone)
    return f"{value:%Y-%m-%d %H:%M} {value.tzname()}"


def in_utc(instant: dt.datetime | None) -> str:
    assert instant is not None
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M}"


def both(step: Step) -> tuple[str, str]:
    """(UTC, local with abbreviation) of a step's due time, to the minute."""
    return in_utc(step.due_at), local(step.due_at, step.zone)


def school_release(
    *,
    rid: int = 54,
    version: str = "5.4.0",
    impact: int = 4,
    likelihood: int = 4,
    changes: tuple[ChangeSnapshot, ...] = (ChangeSnapshot("database_migration"),),
    kind: str = "regular",
    hotfix_reason: str = "",
    target: dt.date = dt.date(2027, 3, 22),
    override: str = "",
) -> ReleaseSnapshot:
    outcome = assess(
        policy("school-saas"),
        impact=impact,
        likelihood=likelihood,
        changes=[ChangeFacts(c.kind, c.significant, c.reversible, c.title) for c in changes],
        kind=kind,
        hotfix_reason=hotfix_reason or None,
    )
    return ReleaseSnapshot(
        id=rid,
        version=version,
        target_date=target,
        product_ids=(1,),
        kind=kind,
        hotfix_reason=hotfix_reason,
        level=outcome.level,
        demands=outcome.demands,
        changes=changes,
        blackout_override_reason=override,
    )


# S1: Presenter (1) on the shared saas-eu (10); A (a1, a2) and B (b1) use it; C uses
# another product (2) on another instance (11).
S1_CATALOGUE = CatalogueSnapshot(
    products=(ProductSnapshot(1, "presenter", "Presenter"), ProductSnapshot(2, "grades", "Grades")),
    instances=(
        InstanceSnapshot(10, "saas-eu", "shared", 1),
        InstanceSnapshot(11, "grades-eu", "shared", 2),
    ),
    customers=(
        CustomerSnapshot(1, "School A", zone="Europe/Amsterdam"),
        CustomerSnapshot(2, "School B", zone="Europe/Amsterdam"),
        CustomerSnapshot(3, "School C", zone="Europe/Amsterdam"),
    ),
    contacts=(
        ContactSnapshot(101, 1, ("admin",)),
        ContactSnapshot(102, 1, ("admin",)),
        ContactSnapshot(103, 2, ("admin",)),
        ContactSnapshot(104, 3, ("admin",)),
        ContactSnapshot(105, 1, ("technical",)),
    ),
    subscriptions=(
        SubscriptionSnapshot(1, 1, 10),
        SubscriptionSnapshot(2, 1, 10),
        SubscriptionSnapshot(3, 2, 11),
    ),
)


def school_facts(approved: dt.datetime | None, **kwargs: object) -> Facts:
    return Facts(approvals_complete_at=approved, calendars=calendars(), **kwargs)  # type: ignore[arg-type]
