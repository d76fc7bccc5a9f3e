"""Publish, send and hypercare steps of the S4 timeline performed by the worker: publication
fails closed until the notes are signed off, the newsletter until they are published; a task
step waits for a person; hypercare is informational."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db.models import Q

from releasedesk.audit.models import AuditEvent
from releasedesk.core.queue_models import WorkState
from releasedesk.notes import services as notes
from releasedesk.notes.models import ReleaseNote
from releasedesk.outbox.models import Message
from releasedesk.tasks.models import Task
from releasedesk.timeline import services as timeline
from releasedesk.timeline.execution import handle_one_timeline_steps
from releasedesk.timeline.models import ScheduledStep, StepRun

from .conftest import staff_actor
from .fakes import KB_SECRET, FakeKnowledgeBase

pytestmark = pytest.mark.django_db
T2 = dt.datetime(2027, 6, 1, 15, 0, tzinfo=dt.UTC)  # 2027-06-01 17:00 CEST


@pytest.fixture
def kb(settings: Any, tmp_path: Any) -> Iterator[FakeKnowledgeBase]:
    fake = FakeKnowledgeBase()
    settings.NOTES_KB_WEBHOOK_URL = fake.url
    settings.NOTES_KB_WEBHOOK_SECRET = KB_SECRET
    settings.NOTES_EXPORT_DIR = tmp_path / "docs"
    settings.NOTES_SIGNOFF_ROLES = ["customer_success_lead"]
    yield fake
    fake.close()


def run(step: ScheduledStep, at: dt.datetime) -> ScheduledStep:
    with time_machine.travel(at, tick=False):
        assert handle_one_timeline_steps(now=at, owner="t", filter=Q(pk=step.pk))
    step.refresh_from_db()
    return step


def kind(release: Any, k: str) -> ScheduledStep:
    return ScheduledStep.objects.get(release=release, kind=k)


def compose(release: Any, user: Any, *sign: str) -> None:
    with time_machine.travel(T2 - dt.timedelta(days=3), tick=False):
        notes.compose_notes(release=release, actor=staff_actor(user))
        for audience in sign:
            note = ReleaseNote.objects.get(release=release, audience=audience)
            notes.sign_off_note(note=note, actor=staff_actor(user), user=user)


def test_publish_fails_closed_until_signed_off_then_posts_once(
    release: Any, people: dict[str, Any], kb: FakeKnowledgeBase
) -> None:
    cleo = people["cleo"]
    compose(release, cleo)  # drafts only
    publish = run(kind(release, "publish"), T2)
    assert publish.state == WorkState.BLOCKED
    assert publish.last_error == (
        "Not published (fails closed): the 'customers' notes of 2027.6 are not signed off in: "
        "en; nothing was published"
    )
    assert kb.received == []
    assert ReleaseNote.objects.get(release=release, audience="customers").state == "draft"
    compose(release, cleo, "customers")
    with time_machine.travel(T2 + dt.timedelta(minutes=5), tick=False):
        timeline.retry_step(step=publish, actor=staff_actor(cleo), reason="signed off now")
    done = run(publish, T2 + dt.timedelta(minutes=5))
    assert done.state == WorkState.DONE
    assert [(p["valid"], p["json"]["data"]["audience"]) for p in kb.received] == [
        (True, "customers")
    ]
    after = AuditEvent.objects.get(scope=f"release:{release.pk}", action="step.published").after
    assert after is not None
    assert (after["audience"], after["channel"], after["locales"]) == (
        "customers",
        "knowledge_base",
        ["en"],
    )


def test_publish_blocked_when_no_knowledge_base_is_configured(
    release: Any, people: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    settings.NOTES_KB_WEBHOOK_URL = ""
    settings.NOTES_EXPORT_DIR = tmp_path / "docs"
    settings.NOTES_SIGNOFF_ROLES = ["customer_success_lead"]
    compose(release, people["cleo"], "customers")
    publish = run(kind(release, "publish"), T2)
    assert (publish.state, publish.last_error) == (
        WorkState.BLOCKED,
        "Not published (fails closed): no knowledge base is configured (set "
        "RELEASEDESK_KB_WEBHOOK_URL and _SECRET)",
    )


def test_newsletter_fails_closed_without_published_notes(
    release: Any, people: dict[str, Any], field_customers: dict[str, Any], kb: FakeKnowledgeBase
) -> None:
    compose(release, people["cleo"], "customers", "distributors")
    ScheduledStep.objects.filter(release=release, kind="publish").update(state=WorkState.SKIPPED)
    send = run(kind(release, "send"), T2)
    assert (send.state, send.last_error) == (
        WorkState.BLOCKED,
        "Newsletter not sent (fails closed): release 2027.6 has no published notes for "
        "'distributors'",
    )
    assert not Message.objects.filter(kind="newsletter").exists()


def test_newsletter_waits_for_the_publication_due_at_the_same_instant(
    release: Any, people: dict[str, Any], field_customers: dict[str, Any], kb: FakeKnowledgeBase
) -> None:
    compose(release, people["cleo"], "customers", "distributors")
    send = run(kind(release, "send"), T2)
    assert (send.state, send.due_at, send.last_error, send.attempts) == (
        WorkState.PENDING,
        T2 + dt.timedelta(seconds=30),
        "Waits for the publication of the notes it announces",
        0,
    )


def test_task_step_waits_for_a_person_and_keeps_its_task(release: Any) -> None:
    review = ScheduledStep.objects.get(release=release, label__startswith="Review")
    Task.objects.filter(step=review).delete()  # e.g. a step stored before the tasks app
    at = dt.datetime(2027, 5, 18, 15, 0, tzinfo=dt.UTC)
    step = run(review, at)
    assert (step.state, step.last_error) == (
        WorkState.BLOCKED,
        "Waiting for role:delivery_lead,role:customer_success_lead to do: Review release "
        "content and internal notes",
    )
    assert StepRun.objects.get(step=step).status == "waiting"
    task = Task.objects.get(step=step)
    assert (task.status, task.owners) == ("open", ["delivery_lead", "customer_success_lead"])


def test_hypercare_step_is_informational_and_audited(release: Any) -> None:
    hypercare = run(kind(release, "hypercare"), dt.datetime(2027, 6, 14, 22, tzinfo=dt.UTC))
    assert hypercare.state == WorkState.DONE
    after = AuditEvent.objects.get(scope=f"release:{release.pk}", action="hypercare.started").after
    assert after is not None
    assert (after["first_day"], after["last_day"]) == ("2027-06-15", "2027-06-29")
