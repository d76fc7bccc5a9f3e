# ruff: noqa: F811 - the S4 fixtures are imported from tests.tasks.conftest and requested by name
"""SCENARIOS.md S4 step 1 end to end through the worker on a moving clock (time_machine):
field software, release date Tuesday 2027-06-15, Europe/Zurich.

The release is approved six weeks ahead; from then on only the worker acts (timeline steps
and outbox delivery to a real SMTP sink on loopback, the knowledge base a loopback webhook)
while people do what the seed says: review the content, sign off and publish notes, mark
tasks done or skip them (page, API, CLI). Every time is asserted to the minute in UTC and in
Zurich time; every recipient exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.template import engines
from django.test import Client, RequestFactory

from releasedesk.audit.models import AuditEvent
from releasedesk.calendars.entries import collect
from releasedesk.catalog.models import Instance
from releasedesk.core.queue_models import WorkState
from releasedesk.notes import services as notes
from releasedesk.notes.models import ReleaseNote
from releasedesk.outbox.models import Message
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.tasks.models import Task
from releasedesk.timeline.models import ScheduledStep
from tests.outbox.sink import SmtpSink
from tests.tasks.conftest import (  # noqa: F401 - fixtures
    _fast_passwords,
    field_app,
    field_customers,
    field_policy,
    people,
    release,
    staff_actor,
)
from tests.tasks.fakes import KB_SECRET, Api, FakeKnowledgeBase, run_until

pytestmark = pytest.mark.django_db
ZURICH = ZoneInfo("Europe/Zurich")


def utc(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC)


def zurich(instant: dt.datetime) -> str:
    value = instant.astimezone(ZURICH)
    return f"{value:%Y-%m-%d %H:%M} {value.tzname()}"


@pytest.fixture
def kb(settings: Any, tmp_path: Any) -> Iterator[FakeKnowledgeBase]:
    fake = FakeKnowledgeBase()
    settings.NOTES_KB_WEBHOOK_URL = fake.url
    settings.NOTES_KB_WEBHOOK_SECRET = KB_SECRET
    settings.NOTES_EXPORT_DIR = tmp_path / "docs"
    settings.BASE_URL = "https://rd.example.test"
    yield fake
    fake.close()


def task(release: Any, title: str) -> Task:
    return Task.objects.select_related("step").get(release=release, title=title)


def delivered(release: Any, **filters: Any) -> list[tuple[str, str, dt.datetime | None]]:
    rows = Message.objects.filter(release=release, **filters).order_by("delivered_at", "to_address")
    return [(m.to_address, m.kind, m.delivered_at) for m in rows]


def audit(release: Any, action: str) -> list[dict[str, Any]]:
    return [
        dict(e.after or {})
        for e in AuditEvent.objects.filter(scope=f"release:{release.pk}", action=action).order_by(
            "seq"
        )
    ]


def test_s4_step1_timeline_tasks_publication_newsletter_and_hypercare(
    release: Any,
    people: dict[str, Any],
    field_customers: dict[str, Any],
    smtp_sink: SmtpSink,
    kb: FakeKnowledgeBase,
    settings: Any,
) -> None:
    dana, cleo, sam, dirk, rita = (people[n] for n in ("dana", "cleo", "sam", "dirk", "rita"))
    settings.NOTES_SIGNOFF_ROLES = ["customer_success_lead"]

    # --- approved 2027-05-03: every task exists at once, weeks ahead -------------------------
    rows = {
        t.title: (t.owners, zurich(t.due_at), t.status)
        for t in Task.objects.filter(release=release)
    }
    assert rows == {
        "Review release content and internal notes": (
            ["delivery_lead", "customer_success_lead"],
            "2027-05-18 17:00 CEST",
            "open",
        ),
        "Share release notes with customer teams": (
            ["customer_success"],
            "2027-06-01 17:00 CEST",
            "open",
        ),
        "Iterate knowledge-base articles": (["customer_success"], "2027-06-01 17:00 CEST", "open"),
        "Field handover day": (["delivery"], "2027-06-15 17:00 CEST", "open"),
        "Update the lending shop": (["delivery"], "2027-06-15 00:00 CEST", "waiting"),
    }
    steps = {s.kind: s for s in ScheduledStep.objects.filter(release=release)}
    assert (steps["publish"].due_at, steps["send"].due_at) == (utc(2027, 6, 1, 15),) * 2
    assert (steps["hypercare"].due_at, steps["hypercare"].ends_at) == (
        utc(2027, 6, 14, 22),
        utc(2027, 6, 29, 22),
    )

    # --- T-4 weeks: the review --------------------------------------------------------------
    run_until(utc(2027, 5, 3, 8), utc(2027, 5, 18, 16))
    assert [(m.rcpt_tos, m.message["Subject"]) for m in smtp_sink.messages] == [
        (
            ["cleo@vendor.test"],
            "Reminder: Review release content and internal notes (release 2027.6) due "
            "2027-05-18 17:00 CEST (Europe/Zurich)",
        ),
        (
            ["dana@vendor.test"],
            "Reminder: Review release content and internal notes (release 2027.6) due "
            "2027-05-18 17:00 CEST (Europe/Zurich)",
        ),
    ]
    review = task(release, "Review release content and internal notes")
    assert delivered(release, subject_ref=f"task{review.pk}") == [
        ("cleo@vendor.test", "reminder", utc(2027, 5, 17, 15)),  # 2027-05-17 17:00 CEST
        ("dana@vendor.test", "reminder", utc(2027, 5, 17, 15)),
    ]
    assert review.step.state == WorkState.BLOCKED  # due: waiting for a person

    # Dana's task page at 18:00 Zurich: overdue, highlighted, in her zone.
    page = Client()
    with time_machine.travel(utc(2027, 5, 18, 16), tick=False):
        page.force_login(dana)
        html = page.get("/tasks/").content.decode()
        assert "Review release content and internal notes" in html
        assert 'data-testid="overdue"' in html
        assert "2027-05-18 17:00 CEST (Europe/Zurich)" in html
        response = page.post(
            f"/tasks/{review.pk}/done/", {"comment": "Content and internal notes reviewed"}
        )
    assert response.status_code == 302
    review.refresh_from_db()
    review.step.refresh_from_db()
    assert (review.status, review.outcome, review.decided_by, review.decided_at) == (
        "done",
        "done",
        dana,
        utc(2027, 5, 18, 16),
    )
    assert audit(release, "task.done")[0]["comment"] == "Content and internal notes reviewed"

    # --- before T-2 weeks: notes composed, signed off; the distributors' published ----------
    with time_machine.travel(utc(2027, 5, 25, 9), tick=False):
        notes.compose_notes(release=release, actor=staff_actor(cleo))
        for audience in ("distributors", "customers"):
            note = ReleaseNote.objects.get(release=release, audience=audience)
            notes.sign_off_note(note=note, actor=staff_actor(cleo), user=cleo)
        notes.publish_note(
            note=ReleaseNote.objects.get(release=release, audience="distributors"),
            actor=staff_actor(cleo),
        )
    customers_note = ReleaseNote.objects.get(release=release, audience="customers")
    assert customers_note.state == "signed_off"  # the timeline publishes it

    # --- T-2 weeks: knowledge base, newsletter, two tasks for customer success -------------
    smtp_sink.messages.clear()
    run_until(utc(2027, 5, 25, 9), utc(2027, 6, 1, 15, 5))
    customers_note.refresh_from_db()
    assert (customers_note.state, customers_note.published_at) == (
        "published",
        utc(2027, 6, 1, 15),
    )
    assert [(p["valid"], p["json"]["data"]["audience"]) for p in kb.received] == [
        (True, "customers")
    ]
    assert "watch the crash rate" not in str(kb.received[0]["json"])  # internal note
    # The newsletter waited for the publication (30 s), then went to exactly: the reseller's
    # contact (distributors, partner notes) and the customer's admin (customers, public).
    newsletter = Message.objects.filter(release=release, kind="newsletter")
    assert sorted((m.to_address, m.subject_ref, m.delivered_at) for m in newsletter) == [
        ("cora@c2.test", "newsletter-customers", utc(2027, 6, 1, 15, 0, 30)),
        ("rolf@r1.test", "newsletter-distributors", utc(2027, 6, 1, 15, 0, 30)),
    ]
    assert all("watch the crash rate" not in m.body_text for m in newsletter)
    share = task(release, "Share release notes with customer teams")
    iterate = task(release, "Iterate knowledge-base articles")
    assert delivered(release, subject_ref=f"task{share.pk}") == [
        ("sam@vendor.test", "reminder", utc(2027, 5, 31, 15))
    ]
    sam_mail = next(m for m in smtp_sink.to("sam@vendor.test") if "Share" in m.message["Subject"])
    assert "Your time: 2027-06-01 11:00 EDT (America/New_York)" in sam_mail.text()
    assert "= 2027-06-01 15:00 UTC" in sam_mail.text()

    # Sam marks one done through the API and skips the other from the CLI, with comments.
    with time_machine.travel(utc(2027, 6, 1, 16), tick=False):
        response = Api(sam).post(f"/{share.pk}/done", {"comment": "Shared in the CS channel"})
        assert (response.status_code, response.json()["status"]) == (200, "done")
        out = StringIO()
        call_command(
            "task", "skip", str(iterate.pk), "--as", "sam", "--comment", "No KB changes", stdout=out
        )
    assert (
        out.getvalue().strip() == f"Task #{iterate.pk} 'Iterate knowledge-base articles' skipped."
    )
    iterate.refresh_from_db()
    iterate.step.refresh_from_db()
    assert (iterate.status, iterate.comment, iterate.step.state) == (
        "skipped",
        "No KB changes",
        WorkState.SKIPPED,
    )
    assert [(a["status"], a["comment"]) for a in audit(release, "task.skipped")] == [
        ("skipped", "No KB changes")
    ]

    # --- release day: rollout, completion, the lending shop; hypercare starts --------------
    smtp_sink.messages.clear()
    run_until(utc(2027, 6, 1, 16), utc(2027, 6, 15, 8))
    prod = Instance.objects.get(slug="field-prod")
    assert prod.current_version == "2027.6"
    release.refresh_from_db()
    assert (release.status, release.finished_at) == ("completed", utc(2027, 6, 14, 22, 0, 5))
    lending = task(release, "Update the lending shop")
    assert (lending.status, lending.appeared_at, lending.due_at) == (
        "open",
        utc(2027, 6, 14, 22, 0, 5),
        utc(2027, 6, 14, 22, 0, 5),
    )
    handover = task(release, "Field handover day")
    # Dirk (delivery): reminded of the handover a day ahead, told of the lending shop at once.
    assert [(m.rcpt_tos, m.message["Subject"].split(":")[0]) for m in smtp_sink.messages] == [
        (["dirk@vendor.test"], "Reminder"),
        (["dirk@vendor.test"], "New task"),
    ]
    assert delivered(release, subject_ref=f"task{handover.pk}") == [
        ("dirk@vendor.test", "reminder", utc(2027, 6, 14, 15))  # 2027-06-14 17:00 CEST
    ]
    assert delivered(release, subject_ref=f"task{lending.pk}") == [
        ("dirk@vendor.test", "reminder", utc(2027, 6, 14, 22, 0, 5))
    ]
    hypercare = ScheduledStep.objects.get(release=release, kind="hypercare")
    assert (hypercare.state, hypercare.finished_at) == (WorkState.DONE, utc(2027, 6, 14, 22))
    calendar = collect(utc(2027, 6, 1, 0), utc(2027, 7, 15, 0), kinds={"hypercare"})
    assert [(e.title, e.days) for e in calendar.of_kind("hypercare")] == [
        (
            "2027.6: Hypercare: Expect higher ticket volume",
            (dt.date(2027, 6, 15), dt.date(2027, 6, 29)),
        )
    ]

    # Dirk's page the morning after: both tasks, the lending shop overdue, the handover not.
    with time_machine.travel(utc(2027, 6, 15, 8), tick=False):
        page.force_login(dirk)
        html = page.get("/tasks/").content.decode()
        request = RequestFactory().get(f"/releases/{release.pk}/")
        request.user = dirk
        panel = (
            engines["django"]
            .from_string('{% include "tasks/_release_tasks.html" %}')
            .render({"release": release}, request)
        )
    assert html.count('data-testid="overdue"') == 1
    assert f'data-testid="task-{lending.pk}" class="overdue"' in html
    assert f'data-testid="task-{handover.pk}">' in html
    assert "2027-06-15 17:00 CEST (Europe/Zurich)" in html
    assert "2027-06-15 → 2027-06-29 (inclusive) · Expect higher ticket volume" in panel
    assert 'badge-bad">now</span>' in panel

    # Rita (sales) owns neither and cannot mark them; Dirk can.
    response = Api(rita).post(f"/{lending.pk}/done", {})
    assert response.status_code == 403
    with time_machine.travel(utc(2027, 6, 15, 9), tick=False):
        response = Api(dirk).post(f"/{lending.pk}/done", {"comment": "Lending shop shows 2027.6"})
    assert (response.status_code, response.json()["status"]) == (200, "done")
    lending.refresh_from_db()
    assert lending.decided_at == utc(2027, 6, 15, 9)

    # The outsider (a customer contact) sees nothing of it; a read-only token cannot act.
    outsider = Client()
    session = outsider.session
    session[SESSION_KEY] = field_customers["cora"].pk
    session.save()
    assert outsider.get("/tasks/").status_code == 404
    assert outsider.get(f"/api/v1/tasks/{handover.pk}").status_code == 404
    assert Api(dirk, scope="read").post(f"/{handover.pk}/done", {}).status_code == 403
    handover.refresh_from_db()
    assert handover.status == "open"

    # Nothing the timeline did was left undone or failed.
    states = dict(ScheduledStep.objects.filter(release=release).values_list("kind", "state"))
    assert states["publish"] == states["send"] == states["upgrade"] == WorkState.DONE
    timeline_actions = [e.action for e in AuditEvent.objects.filter(scope=f"release:{release.pk}")]
    for action in ("step.published", "step.sent", "hypercare.started", "task.appeared"):
        assert action in timeline_actions, action
