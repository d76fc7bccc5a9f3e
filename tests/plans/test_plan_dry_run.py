"""The plan dry run through the API, the CLI and the release page (S1 step 1)."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from releasedesk.releases.models import Release
from releasedesk.timeline.models import ScheduledStep
from tests.planning.test_snapshot import approved_540
from tests.releases.test_api import Api

pytestmark = pytest.mark.django_db

__all__ = ["approved_540"]

MONDAY = dt.datetime(2027, 3, 22, 9, 5, tzinfo=dt.UTC)  # 10:05 CET, both approvals given


@pytest.fixture
def at_approval() -> Any:
    with time_machine.travel(MONDAY, tick=False):
        yield


def _upgrade(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in steps if s["kind"] == "upgrade")


def test_api_plan_shows_each_step_in_utc_and_local_time_with_reason(
    approved_540: Release, product_manager: Any, at_approval: None
) -> None:
    stored = list(ScheduledStep.objects.values_list("key", "state", "due_at", "updated_at"))
    response = Api(product_manager, "read").get(f"/{approved_540.pk}/plan")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["planned_at"].startswith("2027-03-22T09:05")
    upgrade = _upgrade(body["steps"])
    assert upgrade["due_at"].startswith("2027-04-01T14:00")
    assert upgrade["local_text"] == "2027-04-01 16:00 CEST (Europe/Amsterdam)"
    assert upgrade["reason"].startswith("first Thursday window that leaves 7 days' notice")
    notice = next(s for s in body["steps"] if s["kind"] == "notice")
    assert notice["late_after"].startswith("2027-03-25T14:00")
    assert body["problems"] == []
    # a dry run writes nothing (the approval stored the timeline; it stays as it was)
    assert list(ScheduledStep.objects.values_list("key", "state", "due_at", "updated_at")) == stored


def test_api_what_if_and_customer_filter(
    approved_540: Release, product_manager: Any, customer_c: Any, at_approval: None
) -> None:
    api = Api(product_manager, "read")
    body = api.get(f"/{approved_540.pk}/plan", at="2027-04-05").json()
    assert body["proposed_date"] == "2027-04-05"
    assert _upgrade(body["steps"])["local_text"] == "2027-04-08 16:00 CEST (Europe/Amsterdam)"
    # customer C does not use Presenter: no step concerns it
    body = api.get(f"/{approved_540.pk}/plan", customer=customer_c.pk).json()
    assert (body["total"], body["steps"]) == (0, [])
    body = api.get(f"/{approved_540.pk}/plan", kind="upgrade", limit=1).json()
    assert [s["kind"] for s in body["steps"]] == ["upgrade"]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"at": "next thursday"}, 422, "at"),
        ({"at": "2027-04-05T16:00"}, 422, "at"),
        ({"customer": 999999}, 404, None),
        ({"limit": 5000}, 422, None),
    ],
)
def test_api_plan_bad_input_is_a_clear_4xx(
    approved_540: Release,
    product_manager: Any,
    at_approval: None,
    params: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    response = Api(product_manager, "read").get(f"/{approved_540.pk}/plan", **params)
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["error"]["fields"]


def test_cli_plan_text_and_json(approved_540: Release, at_approval: None) -> None:
    out = StringIO()
    call_command("release", "plan", str(approved_540.pk), stdout=out)
    text = out.getvalue()
    assert "2027-04-01 16:00 CEST (Europe/Amsterdam)  = 2027-04-01 14:00 UTC  upgrade" in text
    assert "first Thursday window that leaves 7 days' notice" in text
    out = StringIO()
    call_command(
        "release", "plan", str(approved_540.pk), "--json", "--at", "2027-04-05", stdout=out
    )
    body = json.loads(out.getvalue())
    assert _upgrade(body["steps"])["due_at"] == "2027-04-08T14:00:00+00:00"


def test_release_page_shows_the_timeline_grouped_by_day(
    approved_540: Release, client: Any, vendor_admin: Any, customer_a: Any, at_approval: None
) -> None:
    vendor_admin.timezone = "America/New_York"
    vendor_admin.save()
    client.force_login(vendor_admin)
    page = client.get(f"/releases/{approved_540.pk}/").content.decode()
    assert 'data-testid="plan"' in page
    assert "Thursday 2027-04-01" in page
    # the viewer's zone, the step's own zone and UTC
    assert "2027-04-01 10:00 EDT (America/New_York)" in page
    assert "2027-04-01 16:00 CEST (Europe/Amsterdam)" in page
    assert "2027-04-01 14:00 UTC" in page
    filtered = client.get(f"/releases/{approved_540.pk}/", {"customer": customer_a.pk})
    assert filtered.status_code == 200
    bad = client.get(f"/releases/{approved_540.pk}/", {"at": "someday"}).content.decode()
    assert "neither a date" in bad


def test_a_staff_change_freeze_moves_the_plan(
    approved_540: Release, product_manager: Any, vendor_admin: Any, at_approval: None
) -> None:
    from releasedesk.calendars.services import declare_freeze
    from releasedesk.core.context import Actor

    declare_freeze(
        actor=Actor(kind="staff", id=vendor_admin.pk),
        declared_by=vendor_admin,
        starts_at=dt.datetime(2027, 3, 31, 22, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 4, 2, 22, 0, tzinfo=dt.UTC),
        reason="Exam week: no changes",
    )
    body = Api(product_manager, "read").get(f"/{approved_540.pk}/plan").json()
    upgrade = _upgrade(body["steps"])
    assert upgrade["local_text"] == "2027-04-08 16:00 CEST (Europe/Amsterdam)"
    assert "Exam week: no changes" in upgrade["reason"]
