"""SCENARIOS.md S3 (hosted instances, opt-out) steps 1-5 end to end through the worker on a
moving clock: the real planner, persisted timeline, gates, notice/consent performers, outbox
delivery over SMTP to a loopback aiosmtpd sink, the simulated executor, and the e-mailed
consent links used through the web pages (GET shows, only POST acts).

Release 7.2 (target 2027-01-18) is approved on 2027-01-20; change management passes the
service-acceptance stage on Monday 2027-02-01 10:00. Upgrades: second Tuesday 18:00
Europe/London, 48 h notice (sent 1 h earlier: 2027-02-07 17:00 UTC), opt-out until 13:00
on the upgrade day, silence proceeds, a confirmation after verification.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from releasedesk.consent.models import Consent
from releasedesk.core.context import SYSTEM
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.timeline.models import ScheduledStep
from releasedesk.timeline.replan import replan_release
from releasedesk.timeline.services import pass_stage
from tests.consent.world import (
    apply_example,
    customer_with_instance,
    drive,
    links_in,
    path_of,
    release_approved,
    staff,
    staff_actor,
    subjects,
    text_of,
    utc,
)

pytestmark = pytest.mark.django_db(transaction=True)

APPROVED = utc(2027, 1, 20, 10)
STAGE_PASSED = utc(2027, 2, 1, 10)  # Monday 10:00 GMT
SEND = utc(2027, 2, 7, 17)  # 49 h before
DELIVER_BY = utc(2027, 2, 7, 18)  # 48 h before
DEADLINE = utc(2027, 2, 9, 13)
UPGRADE = utc(2027, 2, 9, 18)
NEXT_UPGRADE = utc(2027, 3, 9, 18)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def hosted(roles: dict[str, Any]) -> dict[str, Any]:
    from releasedesk.catalog.models import Product

    product = Product.objects.create(slug="hosted-app", name="Hosted app")
    policy = apply_example("hosted-monthly")
    cm = staff("carla-cm", roles, "change_management")
    cs = staff("cass-cs", roles, "customer_success")
    rm = staff("rene-rm", roles, "product_manager")
    world: dict[str, Any] = {"product": product, "policy": policy, "cm": cm, "cs": cs, "rm": rm}
    for slug, name, zone in (
        ("h1", "Hosted One", "Europe/London"),
        ("h2", "Hosted Two", "Europe/London"),
        ("h3", "Hosted Three", "Europe/Amsterdam"),
    ):
        customer, instance, contacts = customer_with_instance(
            product,
            slug=slug,
            name=name,
            zone=zone,
            contacts=((f"{name} Admin", f"admin@{slug}.test", ["admin"]),),
        )
        world[slug] = {"customer": customer, "instance": instance, "admin": contacts[0]}
    return world


def _release(world: dict[str, Any]) -> Any:
    return release_approved(
        world["policy"],
        world["product"],
        version="7.2",
        target=dt.date(2027, 1, 18),
        creator=world["rm"],
        approvers=[(world["cm"], "change_management")],
        at=APPROVED,
    )


def _pass_stage(world: dict[str, Any], release: Any) -> None:
    pass_stage(
        release=release,
        stage="service_acceptance",
        actor=staff_actor(world["cm"]),
        user=world["cm"],
    )
    # The stage pass changes the plan's facts: plan again (customers become schedulable).
    replan_release(release, actor=SYSTEM)


def _step(release: Any, key: str) -> ScheduledStep:
    found: ScheduledStep = ScheduledStep.objects.get(release=release, key=f"r{release.pk}:{key}")
    return found


def test_s3_steps_1_2_3_5_notice_opt_out_at_1259_refused_at_1301_silent_upgraded(
    hosted: dict[str, Any], smtp_sink: Any
) -> None:
    w = hosted
    release = _release(w)
    h1, h2, h3 = (w[k]["instance"] for k in ("h1", "h2", "h3"))

    # Step 5: until the stage passes nobody is scheduled or notified.
    drive(APPROVED, STAGE_PASSED - dt.timedelta(minutes=1))
    kinds = set(ScheduledStep.objects.filter(release=release).values_list("kind", flat=True))
    assert kinds == {"stage_gate"}
    assert Message.objects.count() == 0
    assert smtp_sink.messages == []
    assert Consent.objects.count() == 0

    with time_machine.travel(STAGE_PASSED, tick=False):
        _pass_stage(w, release)

    # Step 1: upgrade 2027-02-09 18:00 GMT, notice delivered by 2027-02-07 18:00 UTC,
    # opt-out deadline 2027-02-09 13:00 GMT.
    for inst in (h1, h2, h3):
        upgrade = _step(release, f"i{inst.pk}:upgrade")
        assert (upgrade.due_at, upgrade.zone) == (UPGRADE, "Europe/London")
        notice = _step(release, f"i{inst.pk}:notice:2027-02-09")
        assert (notice.due_at, notice.late_after) == (SEND, DELIVER_BY)
        assert _step(release, f"i{inst.pk}:consent_deadline:2027-02-09").due_at == DEADLINE
    consents = {c.instance_id: c for c in Consent.objects.filter(release=release)}
    assert {c.state for c in consents.values()} == {"pending"}
    assert {c.deadline for c in consents.values()} == {DEADLINE}

    drive(STAGE_PASSED, DELIVER_BY)
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "admin@h1.test",
        "admin@h2.test",
        "admin@h3.test",
    ]
    notices = Message.objects.filter(release=release, kind="advance_notice")
    assert {m.delivered_at for m in notices} == {SEND}  # SMTP 250 at 17:00 <= 18:00
    h1_mail = smtp_sink.to("admin@h1.test")[0]
    text = text_of(h1_mail)
    assert "When: 2027-02-09 18:00 GMT (Europe/London)\nThat is 2027-02-09 18:00 UTC." in text
    assert (
        "You can opt out until 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC)" in text
    )
    h3_text = text_of(smtp_sink.to("admin@h3.test")[0])
    assert "2027-02-09 19:00 CET (Europe/Amsterdam)" in h3_text  # the recipient's zone
    h1_links = links_in(h1_mail)
    h2_links = links_in(smtp_sink.to("admin@h2.test")[0])
    assert set(h1_links) == {"opt_out", "postpone"}

    client = Client()
    opt_out = path_of(h1_links["opt_out"])

    def h1_opts_out_1259() -> None:
        # GET and HEAD (mail scanners) change nothing.
        assert client.get(opt_out).status_code == 200
        assert client.head(opt_out).status_code == 200
        assert Consent.objects.get(instance=h1).state == "pending"
        response = client.post(opt_out)
        assert response.status_code == 200
        assert b"your answer was recorded" in response.content

    refused: dict[str, Any] = {}

    def h2_opts_out_1301() -> None:
        refused["response"] = client.post(path_of(h2_links["opt_out"]))

    drive(
        DELIVER_BY,
        UPGRADE + dt.timedelta(minutes=30),
        events={
            utc(2027, 2, 9, 12, 59): h1_opts_out_1259,
            utc(2027, 2, 9, 13, 1): h2_opts_out_1301,
        },
    )

    # Step 2: the 12:59 opt-out counts; H1 moves to the next cycle with a fresh 48 h notice.
    c1 = Consent.objects.get(release=release, instance=h1, slot_date=dt.date(2027, 2, 9))
    assert (c1.state, c1.decided_at, c1.channel) == ("opted_out", utc(2027, 2, 9, 12, 59), "email")
    assert c1.decided_by_contact == w["h1"]["admin"]
    up1 = _step(release, f"i{h1.pk}:upgrade")
    assert (up1.state, up1.due_at) == (WorkState.PENDING, NEXT_UPGRADE)
    fresh = _step(release, f"i{h1.pk}:notice:2027-03-09")
    assert (fresh.due_at, fresh.late_after) == (utc(2027, 3, 7, 17), utc(2027, 3, 7, 18))
    moved = [m for m in smtp_sink.to("admin@h1.test") if "moved" in str(m.message["Subject"])]
    assert len(moved) == 1
    moved_text = text_of(moved[0])
    assert "New date: 2027-03-09 18:00 GMT (Europe/London)" in moved_text
    assert (
        "It was planned for 2027-02-09 18:00 GMT (Europe/London) (2027-02-09 18:00 UTC)"
        in moved_text
    )
    assert "You opted out of the upgrade planned for 2027-02-09." in moved_text

    # ... and at 13:01 the opt-out is refused with a page that says so and whom to contact.
    response = refused["response"]
    assert response.status_code == 409
    page = response.content.decode()
    assert "The deadline for this upgrade was 2027-02-09 13:00 GMT (Europe/London)" in page
    assert "Please contact your customer success manager" in page
    c2 = Consent.objects.get(release=release, instance=h2)
    assert (c2.state, c2.decided_at) == ("no_response", None)

    # Step 3: the silent customers are upgraded at 18:00 and confirmed after verification.
    for inst in (h2, h3):
        inst.refresh_from_db()
        assert inst.current_version == "7.2"
        assert _step(release, f"i{inst.pk}:upgrade").state == WorkState.DONE
        assert _step(release, f"i{inst.pk}:verify").state == WorkState.DONE
        assert _step(release, f"i{inst.pk}:confirm").state == WorkState.DONE
    h1.refresh_from_db()
    assert h1.current_version == "7.1"
    confirmations = Message.objects.filter(release=release, kind="confirmation")
    assert sorted(m.to_address for m in confirmations) == ["admin@h2.test", "admin@h3.test"]
    assert all(m.delivered_at is not None and m.delivered_at >= UPGRADE for m in confirmations)
    assert subjects(smtp_sink.to("admin@h3.test")) == [
        "Planned upgrade: Hosted app 7.2 on 2027-02-09 19:00 CET (Europe/Amsterdam)",
        "Upgrade completed: Hosted app 7.2",
    ]

    # The fresh notice for H1 is delivered by 2027-03-07 18:00 UTC and H1 upgrades on 03-09.
    drive(UPGRADE + dt.timedelta(minutes=30), NEXT_UPGRADE + dt.timedelta(hours=1))
    fresh_msgs = Message.objects.filter(
        release=release, kind="advance_notice", contact=w["h1"]["admin"]
    )
    assert sorted(m.delivered_at for m in fresh_msgs) == [SEND, utc(2027, 3, 7, 17)]
    h1.refresh_from_db()
    assert h1.current_version == "7.2"
    release.refresh_from_db()
    assert release.status == "completed"


def test_s3_step4_mail_server_down_until_47h_before_the_upgrade(
    hosted: dict[str, Any], dead_smtp: Any
) -> None:
    w = hosted
    release = _release(w)
    h1 = w["h1"]["instance"]
    with time_machine.travel(STAGE_PASSED, tick=False):
        _pass_stage(w, release)
    back_up = UPGRADE - dt.timedelta(hours=47)  # 2027-02-07 19:00 UTC
    drive(STAGE_PASSED, UPGRADE + dt.timedelta(minutes=30), events={back_up: dead_smtp.start})

    # No notice was delivered 48 hours ahead: no upgrade ran on 2027-02-09.
    first = Message.objects.filter(release=release, kind="advance_notice", contact=w["h1"]["admin"])
    assert [m.delivered_at for m in first] == [None]
    assert first[0].state in (WorkState.MISSED, WorkState.FAILED)
    h1.refresh_from_db()
    assert h1.current_version == "7.1"
    # The late notice was never sent after its deliver-by instant; only the new date was.
    assert subjects(dead_smtp.to("admin@h1.test")) == [
        "Your upgrade date moved: Hosted app 7.2 now on 2027-03-09 18:00 GMT (Europe/London)"
    ]
    # The worker's notice gate stopped it at 18:00 and asked for a new plan ...
    from releasedesk.releases.selectors import audit_trail

    # (Every customer's notice failed; the first upgrade claimed at 18:00 — lowest row id,
    # whichever instance that is — trips the gate, and its re-plan moves all three.)
    gate_events = [e.after or {} for e in audit_trail(release) if e.action == "step.gate_replan"]
    upgrades = {f"r{release.pk}:i{w[k]['instance'].pk}:upgrade" for k in ("h1", "h2", "h3")}
    assert len(gate_events) == 1
    assert gate_events[0]["key"] in upgrades
    assert gate_events[0]["gates"] == ["notice_delivered"]
    assert (
        "The notice for this upgrade was not delivered (it had to arrive by 2027-02-07 18:00 GMT"
        in gate_events[0]["message"]
    )
    # ... it is replanned into the next cycle and re-notified.
    upgrade = _step(release, f"i{h1.pk}:upgrade")
    assert (upgrade.state, upgrade.due_at) == (WorkState.PENDING, NEXT_UPGRADE)
    moved = [m for m in dead_smtp.to("admin@h1.test") if "moved" in str(m.message["Subject"])]
    assert len(moved) == 1
    text = text_of(moved[0])
    assert "New date: 2027-03-09 18:00 GMT (Europe/London)" in text
    assert "could not be delivered early enough" in text
    fresh = _step(release, f"i{h1.pk}:notice:2027-03-09")
    assert (fresh.due_at, fresh.late_after) == (utc(2027, 3, 7, 17), utc(2027, 3, 7, 18))

    drive(UPGRADE + dt.timedelta(minutes=30), NEXT_UPGRADE + dt.timedelta(hours=1))
    delivered = Message.objects.get(
        release=release, kind="advance_notice", subject_ref=f"i{h1.pk}.notice.2027-03-09"
    )
    assert delivered.delivered_at == utc(2027, 3, 7, 17)
    h1.refresh_from_db()
    assert h1.current_version == "7.2"
