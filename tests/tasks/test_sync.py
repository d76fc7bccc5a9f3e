"""Tasks follow the stored timeline: created when the plan is stored (weeks ahead), with owners,
due dates (17:00 Zurich) and reminders a day before; moved and dropped with a re-plan."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.tasks.models import Task

from .conftest import APPROVED_AT, make_release, staff_actor

pytestmark = pytest.mark.django_db
ZURICH = ZoneInfo("Europe/Zurich")


def utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.UTC)


def local(instant: dt.datetime, zone: str = "Europe/Zurich") -> str:
    value = instant.astimezone(ZoneInfo(zone))
    return f"{value:%Y-%m-%d %H:%M} {value.tzname()}"


def test_tasks_exist_as_soon_as_the_plan_is_stored(release: Any) -> None:
    rows = [
        (t.title, t.owners, t.due_at, local(t.due_at), t.event, t.condition, t.status)
        for t in Task.objects.filter(release=release).order_by("due_at", "title")
    ]
    assert rows == [
        (
            "Review release content and internal notes",
            ["delivery_lead", "customer_success_lead"],
            utc(2027, 5, 18, 15),
            "2027-05-18 17:00 CEST",
            "",
            "",
            "open",
        ),
        (
            "Iterate knowledge-base articles",
            ["customer_success"],
            utc(2027, 6, 1, 15),
            "2027-06-01 17:00 CEST",
            "",
            "",
            "open",
        ),
        (
            "Share release notes with customer teams",
            ["customer_success"],
            utc(2027, 6, 1, 15),
            "2027-06-01 17:00 CEST",
            "",
            "",
            "open",
        ),
        (
            # No date of its own: shown as waiting; the estimate is the rollout's start
            # (the anytime window opens at 00:00 on the release day).
            "Update the lending shop",
            ["delivery"],
            utc(2027, 6, 14, 22),
            "2027-06-15 00:00 CEST",
            "release_completed",
            "",
            "waiting",
        ),
        (
            "Field handover day",
            ["delivery"],
            utc(2027, 6, 15, 15),
            "2027-06-15 17:00 CEST",
            "",
            "any_change_significant",
            "open",
        ),
    ]
    # Every task is its step's twin.
    for task in Task.objects.filter(release=release).select_related("step"):
        assert (task.key, task.due_at, task.step.kind) == (task.step.key, task.step.due_at, "task")


def test_reminders_a_day_before_to_exactly_the_owners(release: Any, people: dict[str, Any]) -> None:
    review = Task.objects.get(release=release, title__startswith="Review")
    # A calendar day before, same local time: 2027-05-17 17:00 CEST = 15:00 UTC.
    assert review.remind_at == utc(2027, 5, 17, 15)
    msgs = Message.objects.filter(subject_ref=f"task{review.pk}").order_by("to_address")
    assert [(m.to_address, m.kind, m.state, m.due_at, m.late_after) for m in msgs] == [
        ("cleo@vendor.test", "reminder", "pending", utc(2027, 5, 17, 15), utc(2027, 5, 18, 15)),
        ("dana@vendor.test", "reminder", "pending", utc(2027, 5, 17, 15), utc(2027, 5, 18, 15)),
    ]
    dana = msgs.get(to_address="dana@vendor.test")
    assert dana.subject == (
        "Reminder: Review release content and internal notes (release 2027.6) due "
        "2027-05-18 17:00 CEST (Europe/Zurich)"
    )
    assert "Due: 2027-05-18 17:00 CEST (Europe/Zurich) = 2027-05-18 15:00 UTC" in dana.body_text
    assert dana.why == "an owner of this task (delivery_lead)"
    # Sam (customer success) reads his in New York time.
    share = Task.objects.get(release=release, title__startswith="Share")
    sam = Message.objects.get(subject_ref=f"task{share.pk}")
    assert sam.to_address == "sam@vendor.test"
    assert "Your time: 2027-06-01 11:00 EDT (America/New_York)" in sam.body_text
    # The event task has no date yet: no reminder until its event happens.
    lending = Task.objects.get(release=release, title="Update the lending shop")
    assert lending.remind_at is None
    assert not Message.objects.filter(subject_ref=f"task{lending.pk}").exists()


def test_handover_only_when_a_change_is_significant(
    field_policy: Any, field_app: Any, people: dict[str, Any]
) -> None:
    quiet = make_release(field_policy, field_app, people["rita"], people["dana"], significant=False)
    titles = set(Task.objects.filter(release=quiet).values_list("title", flat=True))
    assert "Field handover day" not in titles
    assert "Review release content and internal notes" in titles


def test_a_moved_release_date_moves_tasks_and_their_reminders(
    release: Any, people: dict[str, Any]
) -> None:
    from releasedesk.releases import services

    review = Task.objects.get(release=release, title__startswith="Review")
    old = list(Message.objects.filter(subject_ref=f"task{review.pk}").values_list("pk", flat=True))
    with time_machine.travel(APPROVED_AT + dt.timedelta(days=1), tick=False):
        # A new date voids the approval (the plan's steps are superseded) ...
        services.edit_release(
            release=release, actor=staff_actor(people["rita"]), target_date=dt.date(2027, 6, 22)
        )
        review.refresh_from_db()
        assert review.status == "cancelled"
        assert set(Message.objects.filter(pk__in=old).values_list("state", flat=True)) == {
            "cancelled"
        }
        # ... and the new approval plans the new date.
        services.approve_release(
            release=release,
            actor=staff_actor(people["dana"]),
            user=people["dana"],
            role="delivery_lead",
        )
    review.refresh_from_db()
    assert review.due_at == utc(2027, 5, 25, 15)  # T-4 weeks from 2027-06-22, 17:00 CEST
    assert (review.remind_at, review.status) == (utc(2027, 5, 24, 15), "open")
    fresh = Message.objects.filter(subject_ref=f"task{review.pk}", state=WorkState.PENDING)
    assert sorted((m.to_address, m.due_at) for m in fresh) == [
        ("cleo@vendor.test", utc(2027, 5, 24, 15)),
        ("dana@vendor.test", utc(2027, 5, 24, 15)),
    ]


def test_a_task_nobody_owns_alerts_staff(
    field_policy: Any, field_app: Any, people: dict[str, Any]
) -> None:
    from releasedesk.core.queue_models import StaffAlert

    people["sam"].roles.clear()  # nobody in customer success any more
    release = make_release(field_policy, field_app, people["rita"], people["dana"])
    alerts = StaffAlert.objects.filter(kind="tasks.no_owner").order_by("title")
    assert [(a.title, a.detail) for a in alerts] == [
        (
            "Nobody can be reminded of task 'Iterate knowledge-base articles' of release 2027.6",
            "No active staff member with an e-mail address holds customer_success (as a role "
            "or a team); give someone the role or a team.",
        ),
        (
            "Nobody can be reminded of task 'Share release notes with customer teams' of "
            "release 2027.6",
            "No active staff member with an e-mail address holds customer_success (as a role "
            "or a team); give someone the role or a team.",
        ),
    ]
    assert {a.object_id for a in alerts} == {
        str(t.pk) for t in Task.objects.filter(release=release, owner_rows__slug="customer_success")
    }


def test_an_event_task_appears_when_the_release_completes(
    release: Any, people: dict[str, Any]
) -> None:
    from releasedesk.core.context import SYSTEM
    from releasedesk.releases.models import Release
    from releasedesk.tasks.services import EVENT_RELEASE_COMPLETED, event_happened

    lending = Task.objects.get(release=release, title="Update the lending shop")
    done_at = utc(2027, 6, 15, 6, 30)  # 08:30 CEST
    Release.objects.filter(pk=release.pk).update(status="completed")
    with time_machine.travel(done_at, tick=False):
        appeared = event_happened(
            release=release, event=EVENT_RELEASE_COMPLETED, now=done_at, actor=SYSTEM
        )
    assert [t.pk for t in appeared] == [lending.pk]
    lending.refresh_from_db()
    assert (lending.status, lending.appeared_at, lending.due_at) == ("open", done_at, done_at)
    msg = Message.objects.get(subject_ref=f"task{lending.pk}")
    assert (msg.to_address, msg.due_at, msg.late_after) == ("dirk@vendor.test", done_at, None)
    assert msg.subject.startswith("New task: Update the lending shop (release 2027.6)")
    # Happening twice changes nothing.
    with time_machine.travel(done_at, tick=False):
        assert event_happened(release=release, event=EVENT_RELEASE_COMPLETED, now=done_at) == []
