"""/api/v1/tasks: mine, a release's, one; done and skip with comments; owners, tokens, scoping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from releasedesk.audit.models import AuditEvent
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.tasks.models import Task

from .conftest import make_release
from .fakes import Api

pytestmark = pytest.mark.django_db
MAY_20 = dt.datetime(2027, 5, 20, 8, 0, tzinfo=dt.UTC)  # after the review was due


def task(release: Any, title: str) -> Task:
    return Task.objects.get(release=release, title=title)


def test_mine_lists_my_open_tasks_with_local_times(release: Any, people: dict[str, Any]) -> None:
    with time_machine.travel(MAY_20, tick=False):
        response = Api(people["sam"]).get("/mine")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    rows = [
        (r["title"], r["status"], r["overdue"], r["owners"], r["due_local"], r["due_yours"])
        for r in body["items"]
    ]
    assert rows == [
        (
            "Iterate knowledge-base articles",
            "open",
            False,
            ["customer_success"],
            "2027-06-01 17:00 CEST (Europe/Zurich)",
            "2027-06-01 11:00 EDT (America/New_York)",
        ),
        (
            "Share release notes with customer teams",
            "open",
            False,
            ["customer_success"],
            "2027-06-01 17:00 CEST (Europe/Zurich)",
            "2027-06-01 11:00 EDT (America/New_York)",
        ),
    ]
    assert body["items"][0]["due_at"] == "2027-06-01T15:00:00Z"


def test_mine_marks_overdue_and_hides_waiting_event_tasks(
    release: Any, people: dict[str, Any]
) -> None:
    with time_machine.travel(MAY_20, tick=False):
        dana = Api(people["dana"]).get("/mine").json()
        dirk = Api(people["dirk"]).get("/mine").json()
    assert [(r["title"], r["overdue"]) for r in dana["items"]] == [
        ("Review release content and internal notes", True)
    ]
    # The lending shop waits for the release to complete: not in anyone's list yet.
    assert [r["title"] for r in dirk["items"]] == ["Field handover day"]


def test_team_membership_makes_an_owner(release: Any, people: dict[str, Any], roles: Any) -> None:
    from releasedesk.accounts.models import Team, User

    ursula = User.objects.create_user(username="ursula", email="u@vendor.test", is_staff=True)
    field_team = Team.objects.create(slug="field-team", name="Field team")
    field_team.members.add(ursula)
    field_team.roles.add(roles["delivery"])
    with time_machine.travel(MAY_20, tick=False):
        rows = Api(ursula).get("/mine").json()["items"]
    assert [r["title"] for r in rows] == ["Field handover day"]


def test_release_tasks_with_status_filter(release: Any, people: dict[str, Any]) -> None:
    api = Api(people["rita"])
    everything = api.get(f"/releases/{release.pk}").json()
    assert everything["count"] == 5
    waiting = api.get(f"/releases/{release.pk}", status="waiting").json()
    assert [r["title"] for r in waiting["items"]] == ["Update the lending shop"]
    bad = api.get(f"/releases/{release.pk}", status="finished")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"status": "unknown status"}


def test_done_by_an_owner_is_audited_and_cancels_the_reminder(
    release: Any, people: dict[str, Any]
) -> None:
    review = task(release, "Review release content and internal notes")
    with time_machine.travel(dt.datetime(2027, 5, 10, 9, tzinfo=dt.UTC), tick=False):
        response = Api(people["cleo"]).post(f"/{review.pk}/done", {"comment": "Early review"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["outcome"], body["comment"], body["decided_by_id"]) == (
        "done",
        "done",
        "Early review",
        people["cleo"].pk,
    )
    assert body["decided_at"] == "2027-05-10T09:00:00Z"
    review.refresh_from_db()
    assert review.step.state == WorkState.DONE
    assert set(
        Message.objects.filter(subject_ref=f"task{review.pk}").values_list("state", flat=True)
    ) == {"cancelled"}
    event = AuditEvent.objects.get(action="task.done")
    assert (event.actor_kind, event.scope, event.after) == (
        "token",
        f"release:{release.pk}",
        {
            "task": review.pk,
            "key": review.key,
            "status": "done",
            "comment": "Early review",
            "user_id": people["cleo"].pk,
        },
    )
    # Done once: again is a conflict.
    again = Api(people["cleo"]).post(f"/{review.pk}/done", {})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_transition")


def test_skip_needs_a_comment(release: Any, people: dict[str, Any]) -> None:
    share = task(release, "Share release notes with customer teams")
    api = Api(people["sam"])
    assert api.post(f"/{share.pk}/skip", {"comment": ""}).status_code == 422
    response = api.post(f"/{share.pk}/skip", {"comment": "Teams already briefed"})
    assert (response.status_code, response.json()["status"]) == (200, "skipped")
    share.refresh_from_db()
    assert (share.step.state, share.comment) == (WorkState.SKIPPED, "Teams already briefed")


def test_waiting_event_task_cannot_be_done_yet(release: Any, people: dict[str, Any]) -> None:
    lending = task(release, "Update the lending shop")
    response = Api(people["dirk"]).post(f"/{lending.pk}/done", {})
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "task 'Update the lending shop' waits for its event (release completed); it can be "
        "done once that happened"
    )


def test_non_owner_read_only_token_outsider_and_anonymous(
    release: Any, people: dict[str, Any], outsider_contact: Any, vendor_admin: Any
) -> None:
    handover = task(release, "Field handover day")
    refused = Api(people["rita"]).post(f"/{handover.pk}/done", {})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "only an owner of this task (delivery) or an administrator can mark it done"
    )
    read_only = Api(people["dirk"], scope="read").post(f"/{handover.pk}/done", {})
    assert read_only.status_code == 403
    client = Client()
    assert client.get(f"/api/v1/tasks/{handover.pk}").status_code == 401
    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    for path in (f"/{handover.pk}", f"/releases/{release.pk}", "/mine"):
        response = client.get("/api/v1/tasks" + path)
        assert response.status_code == 404, path
    posted = client.post(f"/api/v1/tasks/{handover.pk}/done", {}, content_type="application/json")
    assert posted.status_code in (403, 404)
    handover.refresh_from_db()
    assert handover.status == "open"
    # An administrator may act on any task.
    done = Api(vendor_admin).post(f"/{handover.pk}/done", {"comment": "done for Dirk"})
    assert done.status_code == 200


def test_unknown_task_is_404_and_ids_are_bounded(release: Any, people: dict[str, Any]) -> None:
    api = Api(people["rita"])
    assert api.get("/999999").status_code == 404
    assert api.get("/99999999999999").status_code == 422


def test_release_list_query_count_does_not_grow(
    field_policy: Any, field_app: Any, people: dict[str, Any]
) -> None:
    from releasedesk.catalog.models import Instance

    one = make_release(field_policy, field_app, people["rita"], people["dana"])
    api = Api(people["rita"])
    api.get(f"/releases/{one.pk}")  # warm up (token, sessions)
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"/releases/{one.pk}").json()["count"] == 5
    # More tasks on the release (a white-label docs task per OEM would add rows like these).
    from releasedesk.tasks.models import TaskOwner
    from releasedesk.timeline.models import ScheduledStep

    base = ScheduledStep.objects.filter(release=one, kind="task").first()
    assert base is not None
    for i in range(10):
        step = ScheduledStep.objects.create(
            release=one, kind="task", key=f"extra-{i}", due_at=base.due_at, zone=base.zone,
            label=f"Extra {i}", reason="test", instance=Instance.objects.first(),
        )  # fmt: skip
        extra = Task.objects.create(
            release=one, step=step, key=step.key, title=step.label, due_at=step.due_at,
            zone=step.zone,
        )  # fmt: skip
        TaskOwner.objects.create(task=extra, slug="delivery")
    with CaptureQueriesContext(connection) as big:
        assert api.get(f"/releases/{one.pk}").json()["count"] == 15
    assert len(big.captured_queries) == len(small.captured_queries)
