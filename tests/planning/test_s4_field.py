"""SCENARIOS.md S4 (field software, announcement timeline) at the planner level: step 1."""

from __future__ import annotations

import dataclasses
import datetime as dt

from releasedesk.planning.planner import plan
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ChangeSnapshot,
    Facts,
    Plan,
    ReleaseSnapshot,
)

from .conftest import both, in_utc, local, policy, utc

ZURICH = "Europe/Zurich"
RELEASE = ReleaseSnapshot(
    id=9,
    version="2027.6",
    target_date=dt.date(2027, 6, 15),
    product_ids=(1,),
    changes=(ChangeSnapshot("feature", significant=True, title="New route planner"),),
)


def field_plan(release: ReleaseSnapshot = RELEASE, **facts: object) -> Plan:
    return plan(
        release,
        policy("field-software"),
        CatalogueSnapshot(),
        Facts(approvals_complete_at=utc("2027-05-01 08:00"), **facts),  # type: ignore[arg-type]
        utc("2027-05-01 08:00"),
    )


def test_step1_timeline_tasks_at_17_zurich() -> None:
    result = field_plan()
    assert result.problems == ()
    assert result.warnings == ()
    rows = [(s.kind, s.label, *both(s)) for s in result.steps if s.kind != "hypercare"]
    assert rows == [
        (
            "task",
            "Review release content and internal notes",
            "2027-05-18 15:00",
            "2027-05-18 17:00 CEST",
        ),
        (
            "send",
            "Send the newsletter to distributors, customers",
            "2027-06-01 15:00",
            "2027-06-01 17:00 CEST",
        ),
        (
            "publish",
            "Publish the customers release notes on knowledge base",
            "2027-06-01 15:00",
            "2027-06-01 17:00 CEST",
        ),
        ("task", "Iterate knowledge-base articles", "2027-06-01 15:00", "2027-06-01 17:00 CEST"),
        (
            "task",
            "Share release notes with customer teams",
            "2027-06-01 15:00",
            "2027-06-01 17:00 CEST",
        ),
        ("task", "Field handover day", "2027-06-15 15:00", "2027-06-15 17:00 CEST"),
        ("task", "Update the lending shop", "2027-06-15 15:00", "2027-06-15 17:00 CEST"),
    ]
    steps = result.by_key()
    review = steps["r9:task:review-release-content-and-internal-notes"]
    assert review.payload["owners"] == ["delivery_lead", "customer_success_lead"]
    assert review.audience == "role:delivery_lead,role:customer_success_lead"
    assert review.reason == (
        "T-4 weeks from the release date 2027-06-15, 17:00 (the default time for date-only tasks)"
    )
    assert steps["r9:send:newsletter:distributors+customers"].payload["newsletter"] == [
        "distributors",
        "customers",
    ]
    handover = steps["r9:task:field-handover-day"]
    assert handover.reason.endswith("; because any change significant")
    lending = steps["r9:task:update-the-lending-shop"]
    assert lending.status == "planned"
    assert lending.payload["waits_for"] == "release_completed"
    assert lending.reason == (
        "as soon as the release is completed (waits for that event; expected around "
        "2027-06-15 17:00 CEST)"
    )


def test_step1_hypercare_is_inclusive() -> None:
    hypercare = field_plan().by_key()["r9:hypercare"]
    assert both(hypercare) == ("2027-06-14 22:00", "2027-06-15 00:00 CEST")
    assert in_utc(hypercare.ends_at) == "2027-06-29 22:00"
    assert hypercare.ends_at is not None
    assert local(hypercare.ends_at, ZURICH) == "2027-06-30 00:00 CEST"  # through 06-29
    assert hypercare.payload["first_day"] == "2027-06-15"
    assert hypercare.payload["last_day"] == "2027-06-29"
    assert hypercare.label == "Hypercare: Expect higher ticket volume"


def test_field_handover_only_when_a_change_is_significant() -> None:
    quiet = dataclasses.replace(RELEASE, changes=(ChangeSnapshot("fix"),))
    keys = field_plan(quiet).by_key()
    assert "r9:task:field-handover-day" not in keys
    assert "r9:task:review-release-content-and-internal-notes" in keys


def test_event_task_due_when_the_release_completed() -> None:
    done = utc("2027-06-16 09:12")
    lending = field_plan(release_completed_at=done).by_key()["r9:task:update-the-lending-shop"]
    assert both(lending) == ("2027-06-16 09:12", "2027-06-16 11:12 CEST")
    assert lending.reason == "as soon as the release is completed (2027-06-16 11:12 CEST)"
