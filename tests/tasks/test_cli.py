"""`releasedesk task list|done|skip`."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from releasedesk.audit.models import AuditEvent
from releasedesk.tasks.models import Task

pytestmark = pytest.mark.django_db
MAY_19 = dt.datetime(2027, 5, 19, 7, 0, tzinfo=dt.UTC)


def run(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(MAY_19, tick=False):
        call_command("task", *args, stdout=out)
    return out.getvalue()


def test_list_mine_in_utc_policy_zone_and_my_zone(release: Any, people: dict[str, Any]) -> None:
    share = Task.objects.get(release=release, title__startswith="Share")
    iterate = Task.objects.get(release=release, title__startswith="Iterate")
    assert run("list", "--as", "sam").splitlines() == [
        f"#{iterate.pk} [open] 2027.6: Iterate knowledge-base articles (customer_success) due "
        "2027-06-01 15:00 UTC = 2027-06-01 17:00 CEST (Europe/Zurich) = "
        "2027-06-01 11:00 EDT (America/New_York)",
        f"#{share.pk} [open] 2027.6: Share release notes with customer teams (customer_success) "
        "due 2027-06-01 15:00 UTC = 2027-06-01 17:00 CEST (Europe/Zurich) = "
        "2027-06-01 11:00 EDT (America/New_York)",
    ]
    review = Task.objects.get(release=release, title__startswith="Review")
    assert run("list", "--as", "dana").splitlines() == [
        f"#{review.pk} [open OVERDUE] 2027.6: Review release content and internal notes "
        "(delivery_lead, customer_success_lead) due 2027-05-18 15:00 UTC = "
        "2027-05-18 17:00 CEST (Europe/Zurich)"
    ]


def test_list_release_as_json_and_by_status(release: Any) -> None:
    rows = json.loads(run("list", "--release", "2027.6", "--json"))
    assert [(r["title"], r["status"], r["due_at"]) for r in rows] == [
        ("Review release content and internal notes", "open", "2027-05-18T15:00:00+00:00"),
        ("Iterate knowledge-base articles", "open", "2027-06-01T15:00:00+00:00"),
        ("Share release notes with customer teams", "open", "2027-06-01T15:00:00+00:00"),
        ("Update the lending shop", "waiting", "2027-06-14T22:00:00+00:00"),
        ("Field handover day", "open", "2027-06-15T15:00:00+00:00"),
    ]
    waiting = run("list", "--release", str(release.pk), "--status", "waiting").strip()
    assert waiting.endswith("Update the lending shop (delivery) waits for release completed")


def test_done_and_skip(release: Any, people: dict[str, Any]) -> None:
    share = Task.objects.get(release=release, title__startswith="Share")
    iterate = Task.objects.get(release=release, title__startswith="Iterate")
    assert run("done", str(share.pk), "--as", "sam").strip() == (
        f"Task #{share.pk} 'Share release notes with customer teams' done."
    )
    assert run("skip", str(iterate.pk), "--as", "sam", "--comment", "Nothing new").strip() == (
        f"Task #{iterate.pk} 'Iterate knowledge-base articles' skipped."
    )
    assert [
        (e.action, e.actor_kind, e.actor_id)
        for e in AuditEvent.objects.filter(action__startswith="task.").order_by("seq")
    ] == [("task.done", "staff", people["sam"].pk), ("task.skipped", "staff", people["sam"].pk)]
    assert run("list", "--as", "sam").strip() == "No tasks."


def test_errors_change_nothing(release: Any, people: dict[str, Any]) -> None:
    share = Task.objects.get(release=release, title__startswith="Share")
    with pytest.raises(CommandError, match="no active staff member 'nobody'"):
        run("done", str(share.pk), "--as", "nobody")
    with pytest.raises(CommandError, match=r"only an owner of this task \(customer_success\)"):
        run("done", str(share.pk), "--as", "rita")
    with pytest.raises(CommandError, match="give --as USERNAME"):
        run("list")
    with pytest.raises(CommandError, match=r"no release '9\.9'"):
        run("list", "--release", "9.9")
    share.refresh_from_db()
    assert share.status == "open"
