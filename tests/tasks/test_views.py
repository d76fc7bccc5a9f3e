"""The "my tasks" page and its POST-only actions; the release page's include."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.template import engines
from django.test import Client, RequestFactory

from releasedesk.audit.models import AuditEvent
from releasedesk.core.queue_models import WorkState
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.tasks.models import Task

pytestmark = pytest.mark.django_db
MAY_19 = dt.datetime(2027, 5, 19, 7, 0, tzinfo=dt.UTC)  # 09:00 Zurich, the review overdue


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_my_tasks_page_shows_only_mine_in_my_zone(release: Any, people: dict[str, Any]) -> None:
    with time_machine.travel(MAY_19, tick=False):
        html = signed_in(people["sam"]).get("/tasks/").content.decode()
    assert "Share release notes with customer teams" in html
    assert "Iterate knowledge-base articles" in html
    assert "Review release content" not in html  # Dana's and Cleo's
    assert "Field handover day" not in html  # delivery's
    assert html.count("2027-06-01 11:00 EDT (America/New_York)") == 2  # Sam's zone
    assert html.count("2027-06-01 17:00 CEST (Europe/Zurich)") == 2  # the policy zone
    assert "2027-06-01 15:00 UTC" in html
    assert 'data-testid="overdue"' not in html


def test_overdue_highlighted_and_done_from_the_page(release: Any, people: dict[str, Any]) -> None:
    review = Task.objects.get(release=release, title__startswith="Review")
    with time_machine.travel(MAY_19, tick=False):
        client = signed_in(people["dana"])
        html = client.get("/tasks/").content.decode()
        assert f'data-testid="task-{review.pk}" class="overdue"' in html
        assert "1 overdue" in html
        response = client.post(
            f"/tasks/{review.pk}/done/", {"comment": "Reviewed", "next": "/tasks/"}
        )
    assert (response.status_code, response["Location"]) == (302, "/tasks/")
    review.refresh_from_db()
    assert (review.status, review.comment, review.decided_by) == (
        "done",
        "Reviewed",
        people["dana"],
    )
    assert AuditEvent.objects.filter(action="task.done", actor_kind="staff").count() == 1
    with time_machine.travel(MAY_19, tick=False):
        finished = signed_in(people["dana"]).get("/tasks/?all=1").content.decode()
    assert "“Reviewed”" in finished
    assert '<span class="badge badge-ok">Done</span>' in finished


def test_get_never_acts_and_post_needs_csrf(release: Any, people: dict[str, Any]) -> None:
    review = Task.objects.get(release=release, title__startswith="Review")
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["dana"])
    assert client.get(f"/tasks/{review.pk}/done/").status_code == 405
    assert client.head(f"/tasks/{review.pk}/done/").status_code == 405
    assert client.post(f"/tasks/{review.pk}/done/", {}).status_code == 403  # no CSRF token
    review.refresh_from_db()
    assert (review.status, review.step.state) == ("open", WorkState.PENDING)


def test_skip_without_comment_and_non_owner_are_refused_with_a_message(
    release: Any, people: dict[str, Any]
) -> None:
    share = Task.objects.get(release=release, title__startswith="Share")
    sam = signed_in(people["sam"])
    page = sam.post(f"/tasks/{share.pk}/skip/", {"comment": ""}, follow=True).content.decode()
    assert "say why (skipping a task)" in page
    rita = signed_in(people["rita"])
    page = rita.post(f"/tasks/{share.pk}/done/", {}, follow=True).content.decode()
    assert (
        "only an owner of this task (customer_success) or an administrator can mark it done" in page
    )
    share.refresh_from_db()
    assert share.status == "open"
    assert not AuditEvent.objects.filter(action__startswith="task.").exists()


def test_outsider_and_anonymous(
    release: Any, outsider_contact: Any, people: dict[str, Any]
) -> None:
    share = Task.objects.get(release=release, title__startswith="Share")
    anonymous = Client()
    assert anonymous.get("/tasks/").status_code == 302  # to the sign-in page
    contact = Client()
    session = contact.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    assert contact.get("/tasks/").status_code == 404
    assert contact.post(f"/tasks/{share.pk}/done/", {}).status_code == 404
    # Staff reaching for a task that does not exist: 404 too.
    assert signed_in(people["sam"]).post("/tasks/999999/done/", {}).status_code == 404


def test_release_include_lists_tasks_and_hypercare(release: Any, people: dict[str, Any]) -> None:
    request = RequestFactory().get(f"/releases/{release.pk}/")
    request.user = people["dirk"]
    with time_machine.travel(MAY_19, tick=False):
        html = (
            engines["django"]
            .from_string('{% include "tasks/_release_tasks.html" %}')
            .render({"release": release}, request)
        )
    assert 'data-testid="release-tasks"' in html
    for title in (
        "Review release content and internal notes",
        "Share release notes with customer teams",
        "Iterate knowledge-base articles",
        "Field handover day",
        "Update the lending shop",
    ):
        assert title in html
    assert "when the release is completed" in html  # the event task has no date yet
    assert "because any change significant" in html
    assert "2027-06-15 → 2027-06-29 (inclusive) · Expect higher ticket volume" in html
    assert ">now</span>" not in html  # hypercare has not started
    # Dirk (delivery) may act on his own open tasks only.
    handover = Task.objects.get(release=release, title="Field handover day")
    review = Task.objects.get(release=release, title__startswith="Review")
    assert f'action="/tasks/{handover.pk}/done/"' in html
    assert f'action="/tasks/{review.pk}/done/"' not in html


def test_my_tasks_page_query_count_does_not_grow(
    field_policy: Any, field_app: Any, people: dict[str, Any], vendor_admin: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .conftest import make_release

    make_release(field_policy, field_app, people["rita"], people["dana"])
    with time_machine.travel(MAY_19, tick=False):
        dirk = signed_in(people["dirk"])
        dirk.get("/tasks/")  # warm up (session, user)
        with CaptureQueriesContext(connection) as one:
            assert dirk.get("/tasks/").content.decode().count('<tr data-testid="task-') == 1
    # Two more releases: three times the tasks on Dirk's list.
    for version in ("2027.6.1", "2027.6.2"):
        make_release(field_policy, field_app, people["rita"], people["dana"], version=version)
    with time_machine.travel(MAY_19, tick=False):
        with CaptureQueriesContext(connection) as three:
            html = dirk.get("/tasks/").content.decode()
        assert html.count('<tr data-testid="task-') == 3
        assert len(three.captured_queries) == len(one.captured_queries)
        assert signed_in(vendor_admin).get("/admin/tasks/task/").status_code == 200
