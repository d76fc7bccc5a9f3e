"""S2 (OEM white label) on the timeline: step 3 — per OEM, white-label documentation updated by
the vendor (a task for the docs team) or by the OEM (a notice with the notes under its own
name); release notes to OEM partner contacts on release day; the 4-weekly digest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db.models import Q

from releasedesk.catalog.models import Contact, Customer, Instance, Product
from releasedesk.core.queue_models import WorkState
from releasedesk.notes import services as notes
from releasedesk.notes.models import Digest, ReleaseNote
from releasedesk.outbox.models import Message
from releasedesk.tasks.models import Task
from releasedesk.timeline.execution import handle_one_timeline_steps
from releasedesk.timeline.models import ScheduledStep

from .conftest import staff_actor

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "oem-white-label.yaml"
APPROVED = dt.datetime(2027, 1, 25, 9, 0, tzinfo=dt.UTC)


def utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.UTC)


@pytest.fixture
def oem(
    roles: dict[str, Any], product_manager: Any, settings: Any, tmp_path: Path
) -> dict[str, Any]:
    from releasedesk.accounts.models import User
    from releasedesk.policies.services import apply_policy
    from releasedesk.releases import services

    settings.NOTES_EXPORT_DIR = tmp_path / "docs"
    settings.NOTES_KB_WEBHOOK_URL = ""
    policy = apply_policy(
        source=EXAMPLE.read_text(), filename="oem-white-label.yaml", actor=None
    ).policy
    product = Product.objects.create(slug="platform", name="Platform")
    Instance.objects.create(
        slug="vendor-prod", name="Vendor production", kind="shared", product=product,
        current_version="2027.1", timezone="Europe/Berlin",
    )  # fmt: skip
    x = Customer.objects.create(
        slug="oem-x", name="OEM X", kind="oem_partner", timezone="Europe/Berlin",
        contract_overrides={"docs_responsibility": "vendor"},
    )  # fmt: skip
    y = Customer.objects.create(
        slug="oem-y", name="OEM Y", kind="oem_partner", timezone="Europe/Amsterdam", locale="nl",
        contract_overrides={"docs_responsibility": "customer"},
    )  # fmt: skip
    for owner, slug, name in ((x, "wl-x", "X Cloud"), (y, "wl-y", "Y Suite")):
        Instance.objects.create(
            slug=slug, name=name, kind="white_label", product=product, owner=owner,
            current_version="2027.1", timezone="Europe/Berlin",
        )  # fmt: skip
    xavier = Contact.objects.create(
        customer=x, name="Xavier", email="xavier@oem-x.test", roles=["oem_partner"]
    )
    yara = Contact.objects.create(
        customer=y, name="Yara", email="yara@oem-y.test", roles=["oem_partner"], locale="nl"
    )
    docs_writer = User.objects.create_user(
        username="doris", email="doris@vendor.test", is_staff=True, timezone="Europe/Berlin"
    )
    docs_writer.roles.set([roles["docs"]])
    creator = User.objects.create_user(username="ray", is_staff=True)
    with time_machine.travel(APPROVED, tick=False):
        release = services.create_release(
            actor=staff_actor(creator), created_by=creator, policy=policy, products=[product],
            version="2027.2", target_date=dt.date(2027, 2, 3),
        )  # fmt: skip
        services.assess_release(
            release=release, actor=staff_actor(creator), assessor=creator, impact=None,
            likelihood=None,
        )  # fmt: skip
        services.approve_release(
            release=release, actor=staff_actor(product_manager), user=product_manager,
            role="product_manager",
        )  # fmt: skip
    release.refresh_from_db()
    return {"release": release, "x": x, "y": y, "xavier": xavier, "yara": yara,
            "doris": docs_writer, "pm": product_manager, "policy": policy}  # fmt: skip


def _step(release: Any, suffix: str) -> ScheduledStep:
    return ScheduledStep.objects.get(release=release, key__endswith=suffix)


def _publish_partner_notes(oem: dict[str, Any], at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        notes.compose_notes(release=oem["release"], actor=staff_actor(oem["pm"]))
        for note in ReleaseNote.objects.filter(release=oem["release"]):
            notes.sign_off_note(note=note, actor=staff_actor(oem["pm"]), user=oem["pm"])
        notes.publish_note(
            note=ReleaseNote.objects.get(release=oem["release"], audience="partners"),
            actor=staff_actor(oem["pm"]),
        )


def _run(step: ScheduledStep, at: dt.datetime) -> ScheduledStep:
    with time_machine.travel(at, tick=False):
        assert handle_one_timeline_steps(now=at, owner="t", filter=Q(pk=step.pk))
    step.refresh_from_db()
    return step


def test_vendor_updates_x_docs_a_task_for_the_docs_team(oem: dict[str, Any]) -> None:
    release = oem["release"]
    wl_x = Instance.objects.get(slug="wl-x")
    task = Task.objects.get(release=release)  # the only task of this policy: X's docs
    assert (task.key, task.title, task.owners) == (
        f"r{release.pk}:i{wl_x.pk}:docs",
        "Update the white-label documentation of OEM X",
        ["docs"],
    )
    # Due with X's upgrade: 2027-02-10 10:00 CET = 09:00 UTC; reminded a day before.
    assert (task.due_at, task.zone, task.remind_at) == (
        utc(2027, 2, 10, 9),
        "Europe/Berlin",
        utc(2027, 2, 9, 9),
    )
    reminder = Message.objects.get(subject_ref=f"task{task.pk}")
    assert (reminder.to_address, reminder.due_at) == ("doris@vendor.test", utc(2027, 2, 9, 9))
    assert not Task.objects.filter(
        key__contains=f"i{Instance.objects.get(slug='wl-y').pk}"
    ).exists()


def test_oem_updates_its_own_docs_a_notice_with_the_notes_under_its_name(
    oem: dict[str, Any],
) -> None:
    release = oem["release"]
    wl_y = Instance.objects.get(slug="wl-y")
    docs = _step(release, f":i{wl_y.pk}:docs")
    assert (docs.kind, docs.due_at, docs.payload["after"]) == (
        "send",
        utc(2027, 2, 10, 9),
        f"r{release.pk}:i{wl_y.pk}:upgrade",
    )
    # Y's upgrade went through (its own scenario): the notice may go now. Without published
    # notes it fails closed and says why.
    ScheduledStep.objects.filter(key=docs.payload["after"]).update(state=WorkState.DONE)
    blocked = _run(docs, utc(2027, 2, 10, 9))
    assert blocked.state == WorkState.BLOCKED
    assert blocked.last_error == (
        "Documentation notice not sent (fails closed): release 2027.2 has no published partner "
        "or public notes"
    )
    _publish_partner_notes(oem, utc(2027, 2, 10, 9, 30))
    ScheduledStep.objects.filter(pk=docs.pk).update(state=WorkState.PENDING, last_error="")
    done = _run(docs, utc(2027, 2, 10, 10))
    assert done.state == WorkState.DONE
    sent = Message.objects.get(release=release, subject_ref=f"docs-c{oem['y'].pk}")
    assert (sent.to_address, sent.kind, sent.due_at) == (
        "yara@oem-y.test",
        "release_notes",
        utc(2027, 2, 10, 10),
    )
    # The partner notes exist in English only (the policy names no other locale).
    assert sent.subject == "Documentation update needed: Y Suite 2027.2"
    assert "Y Suite 2027.2" in sent.body_text
    assert "Platform" not in sent.body_text
    assert sent.why == "partner contact of OEM Y, which updates its own documentation"
    assert not Message.objects.filter(to_address="xavier@oem-x.test", kind="release_notes").exists()


def test_docs_notice_refused_when_the_contract_changed_since_planning(
    oem: dict[str, Any],
) -> None:
    release = oem["release"]
    wl_y = Instance.objects.get(slug="wl-y")
    docs = _step(release, f":i{wl_y.pk}:docs")
    ScheduledStep.objects.filter(key=docs.payload["after"]).update(state=WorkState.DONE)
    Customer.objects.filter(pk=oem["y"].pk).update(contract_overrides={})  # no re-plan
    blocked = _run(docs, utc(2027, 2, 10, 9))
    assert blocked.state == WorkState.BLOCKED
    assert blocked.last_error.startswith(
        "Not sent: the vendor's docs team updates OEM Y's white-label documentation (default)"
    )
    assert not Message.objects.filter(release=release, kind="release_notes").exists()


def test_partner_notes_to_oem_contacts_on_release_day(oem: dict[str, Any]) -> None:
    release = oem["release"]
    prod = Instance.objects.get(slug="vendor-prod")
    send = _step(release, f":i{prod.pk}:send:partners")
    assert send.due_at == utc(2027, 2, 3, 9)  # 10:00 CET on the release day
    assert sorted(send.payload["contact_ids"]) == sorted([oem["xavier"].pk, oem["yara"].pk])
    blocked = _run(send, utc(2027, 2, 3, 9))
    assert blocked.state == WorkState.BLOCKED
    assert "no published 'partners' notes" in blocked.last_error
    _publish_partner_notes(oem, utc(2027, 2, 3, 9, 5))
    ScheduledStep.objects.filter(pk=send.pk).update(state=WorkState.PENDING, last_error="")
    assert _run(send, utc(2027, 2, 3, 9, 10)).state == WorkState.DONE
    rows = Message.objects.filter(release=release, kind="release_notes").order_by("to_address")
    assert [(m.to_address, m.locale, m.subject_ref) for m in rows] == [
        ("xavier@oem-x.test", "en", "notes-partners"),
        ("yara@oem-y.test", "en", "notes-partners"),  # partner notes exist in English only
    ]
    assert rows[0].subject == "Release notes: Platform 2027.2"
    # Performed again (a retry), nothing is sent twice: the keys are the same.
    ScheduledStep.objects.filter(pk=send.pk).update(state=WorkState.PENDING)
    _run(send, utc(2027, 2, 3, 9, 20))
    assert Message.objects.filter(release=release, kind="release_notes").count() == 2


def test_digest_of_the_period_that_ended_before_the_cycle_day(oem: dict[str, Any]) -> None:
    from releasedesk.releases import services

    release = oem["release"]
    digest = _step(release, ":digest:docs_portal:public")
    assert (digest.due_at, digest.payload["day"]) == (utc(2027, 2, 3, 9), "2027-02-03")
    # An earlier release's public notes were published on 2027-01-20 (in the period).
    earlier = services.create_release(
        actor=staff_actor(oem["pm"]), created_by=oem["pm"], policy=oem["policy"],
        products=list(release.products.all()), version="2027.1.5",
        target_date=dt.date(2027, 1, 20),
    )  # fmt: skip
    with time_machine.travel(utc(2027, 1, 20, 12), tick=False):
        notes.compose_notes(release=earlier, actor=staff_actor(oem["pm"]))
        note = ReleaseNote.objects.get(release=earlier, audience="public")
        notes.sign_off_note(note=note, actor=staff_actor(oem["pm"]), user=oem["pm"])
        notes.publish_note(note=note, actor=staff_actor(oem["pm"]), channels=[])
    assert _run(digest, utc(2027, 2, 3, 9)).state == WorkState.DONE
    made = Digest.objects.get()
    assert (made.audience, made.locale, made.period_start, made.period_end) == (
        "public",
        "en",
        dt.date(2027, 1, 6),
        dt.date(2027, 2, 2),
    )
    assert list(made.notes.all()) == [note]


def test_vendor_docs_task_waits_for_x_upgrade_then_for_the_docs_team(oem: dict[str, Any]) -> None:
    release = oem["release"]
    wl_x = Instance.objects.get(slug="wl-x")
    docs = _step(release, f":i{wl_x.pk}:docs")
    ScheduledStep.objects.filter(key=docs.payload["after"]).update(state=WorkState.DONE)
    waiting = _run(docs, utc(2027, 2, 10, 9))
    assert (waiting.state, waiting.last_error) == (
        WorkState.BLOCKED,
        "Waiting for role:docs to do: Update the white-label documentation of OEM X",
    )
    # X's contract now says X updates its own docs, and nobody re-planned: refused.
    Customer.objects.filter(pk=oem["x"].pk).update(
        contract_overrides={"docs_responsibility": "customer"}
    )
    ScheduledStep.objects.filter(pk=docs.pk).update(state=WorkState.PENDING)
    refused = _run(docs, utc(2027, 2, 10, 9, 5))
    assert (refused.state, refused.last_error) == (
        WorkState.BLOCKED,
        "Not the vendor's task any more: OEM X updates its own white-label documentation "
        "(contract setting); the plan is out of date — re-plan the release",
    )
