"""Consent services, performers, facts and gates without the web layer: the opt-out cap
(refused, customer success alerted, stated in the notice), releases that cannot be opted
out of, decisions by phone, notice delivery facts, the gates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.consent import facts, services
from releasedesk.consent.gates import consent as consent_gate
from releasedesk.consent.gates import notice_delivered
from releasedesk.consent.models import Consent
from releasedesk.consent.performers import perform_notice
from releasedesk.core.context import Actor
from releasedesk.core.errors import ValidationFailed
from releasedesk.core.queue_models import StaffAlert, WorkState
from releasedesk.outbox.models import Message
from releasedesk.timeline.gates import GateContext
from releasedesk.timeline.models import ScheduledStep
from tests.consent.conftest import DEADLINE, SEND
from tests.consent.world import utc

pytestmark = pytest.mark.django_db

BEFORE = utc(2027, 2, 8, 9)


def _step(world: dict[str, Any], slug: str, what: str) -> ScheduledStep:
    found: ScheduledStep = ScheduledStep.objects.get(
        release=world["release"], key=f"r{world['release'].pk}:i{world[slug]['instance'].pk}:{what}"
    )
    return found


def _earlier_opt_out(world: dict[str, Any], slug: str) -> Consent:
    """H*'s opt-out of an earlier release (7.1, January): the streak is 1."""
    from releasedesk.releases.models import Release

    earlier = Release.objects.create(
        policy=world["policy"], version="7.1", target_date=dt.date(2026, 12, 14)
    )
    at = utc(2027, 1, 12, 12)
    return Consent.objects.create(
        release=earlier,
        target="hosted",
        instance=world[slug]["instance"],
        customer=world[slug]["customer"],
        slot_date=dt.date(2027, 1, 12),
        slot_start=utc(2027, 1, 12, 18),
        deadline=utc(2027, 1, 12, 13),
        zone="Europe/London",
        mode="opt_out",
        state="opted_out",
        decided_at=at,
        channel="portal",
        created_at=at,
        updated_at=at,
    )


def _cap(world: dict[str, Any], slug: str, limit: int) -> None:
    customer = world[slug]["customer"]
    customer.contract_overrides = {"max_consecutive_opt_outs": limit}
    customer.save(update_fields=["contract_overrides"])


def test_opt_out_beyond_the_cap_is_refused_and_customer_success_alerted(
    planned: dict[str, Any], at: Any
) -> None:
    _cap(planned, "h1", 1)
    _earlier_opt_out(planned, "h1")
    at(BEFORE)
    consent, admin = planned["h1"]["consent"], planned["h1"]["admin"]
    with pytest.raises(services.OptOutRefused) as refused:
        services.decide(
            consent=consent,
            decision="opted_out",
            actor=Actor(kind="contact", id=admin.pk),
            channel="portal",
            contact=admin,
        )
    assert refused.value.message == (
        "This opt-out cannot be accepted: Hosted One production has already been opted out 1 "
        "time in a row, the most the agreement allows (1). The upgrade goes ahead as planned "
        "on 2027-02-09 18:00 GMT (Europe/London) = 2027-02-09 18:00 UTC. Customer success has "
        "been told and will contact you."
    )
    consent.refresh_from_db()
    assert (consent.state, consent.decided_at) == ("pending", None)
    alert = StaffAlert.objects.get(kind="consent.opt_out_refused")
    assert alert.title.startswith("Customer success: Hosted One asked to opt h1-prod out of 7.2")
    staff_mail = Message.objects.get(kind="staff_alert")
    assert staff_mail.to_address == "cass-cs@vendor.test"
    assert staff_mail.subject == "Opt-out refused: Hosted One, h1-prod"
    from releasedesk.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="consent.opt_out_refused").count() == 1


def test_the_notice_states_the_cap_and_what_is_left(planned: dict[str, Any], at: Any) -> None:
    _cap(planned, "h1", 2)
    _earlier_opt_out(planned, "h1")
    at(SEND)
    step = _step(planned, "h1", "notice:2027-02-09")
    assert perform_notice(step, SEND).state == WorkState.DONE
    mails = Message.objects.filter(kind="advance_notice", subject_ref__startswith="i").order_by(
        "to_address"
    )
    assert [m.to_address for m in mails] == ["admin@h1.test", "tech@h1.test"]
    body = mails[0].body_text
    assert (
        "You can opt out until 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC). "
        "If we do not hear from you, the upgrade goes ahead. You can opt out at most 2 times "
        "in a row; 1 opt-out left."
    ) in body
    assert "- Opt out of this upgrade: http://" in body
    assert "- Propose another date: http://" in body
    assert mails[0].late_after == utc(2027, 2, 7, 18)  # never delivered late
    # Performed again (a crash before the step was recorded): no second message.
    perform_notice(step, SEND)
    assert Message.objects.filter(kind="advance_notice").count() == 2


def test_a_release_that_cannot_be_opted_out_of_says_so_without_links(
    planned: dict[str, Any], at: Any
) -> None:
    at(SEND)
    step = _step(planned, "h2", "notice:2027-02-09")
    step.payload = {**step.payload, "opt_out_allowed": False}
    step.save(update_fields=["payload"])
    perform_notice(step, SEND)
    body = Message.objects.filter(kind="advance_notice").first()
    assert body is not None
    assert "This upgrade cannot be opted out of." in body.body_text
    assert "/consent/link/" not in body.body_text


def test_staff_record_a_phone_decision_received_before_the_deadline(
    planned: dict[str, Any], at: Any
) -> None:
    cm = planned["cm"]
    consent = planned["h2"]["consent"]
    at(DEADLINE + dt.timedelta(minutes=10))  # typed in at 13:10, the call came at 12:55
    with pytest.raises(ValidationFailed):
        services.decide(
            consent=consent,
            decision="approved",  # not an answer to an opt-out request
            actor=Actor(kind="staff", id=cm.pk),
            channel="staff_phone",
            user=cm,
        )
    with pytest.raises(services.DeadlinePassed):
        services.decide(
            consent=consent,
            decision="opted_out",
            actor=Actor(kind="staff", id=cm.pk),
            channel="staff_phone",
            user=cm,
        )
    services.decide(
        consent=consent,
        decision="opted_out",
        actor=Actor(kind="staff", id=cm.pk),
        channel="staff_phone",
        user=cm,
        comment="Customer called: exam week",
        received_at=utc(2027, 2, 9, 12, 55),
    )
    consent.refresh_from_db()
    assert (consent.state, consent.decided_at, consent.channel) == (
        "opted_out",
        utc(2027, 2, 9, 12, 55),
        "staff_phone",
    )
    assert (consent.decided_by_user_id, consent.decided_by_contact_id) == (cm.pk, None)


def test_notice_delivery_facts(planned: dict[str, Any], at: Any) -> None:
    at(SEND)
    release = planned["release"]
    step = _step(planned, "h1", "notice:2027-02-09")
    perform_notice(step, SEND)
    assert facts.notice_delivery(release.pk, step.key) is None  # queued, not delivered
    admin_msg, tech_msg = Message.objects.filter(kind="advance_notice").order_by("to_address")
    Message.objects.filter(pk=admin_msg.pk).update(
        state=WorkState.DONE, delivered_at=utc(2027, 2, 7, 17, 1)
    )
    assert facts.notice_delivery(release.pk, step.key) is None  # the tech's is still queued
    Message.objects.filter(pk=tech_msg.pk).update(state=WorkState.FAILED)  # address bounced
    assert facts.notice_delivery(release.pk, step.key) == utc(2027, 2, 7, 17, 1)


def test_gates_at_the_moment_of_the_upgrade(notified: dict[str, Any], at: Any) -> None:
    release = notified["release"]
    at(utc(2027, 2, 9, 18))
    up1 = _step(notified, "h1", "upgrade")
    ctx = GateContext(step=up1, release=release, now=utc(2027, 2, 9, 18))
    assert notice_delivered(ctx) is None
    assert consent_gate(ctx) is None
    # An opt-out recorded in time (without the re-plan having moved the step yet) stops it.
    Consent.objects.filter(pk=notified["h1"]["consent"].pk).update(
        state="opted_out", decided_at=utc(2027, 2, 9, 12, 59), channel="portal"
    )
    failure = consent_gate(ctx)
    assert failure is not None
    assert (failure.gate, failure.action) == ("consent", "replan")
    assert failure.message == (
        "The customer opted out 2027-02-09 12:59 GMT (Europe/London) = 2027-02-09 12:59 UTC, "
        "before the deadline 2027-02-09 13:00 GMT (Europe/London) = 2027-02-09 13:00 UTC"
    )
    # A notice delivered after start - 48 h fails the notice guarantee.
    Message.objects.filter(
        subject_ref=f"i{notified['h2']['instance'].pk}.notice.2027-02-09"
    ).update(delivered_at=utc(2027, 2, 7, 18, 0, 1))
    up2 = _step(notified, "h2", "upgrade")
    late = notice_delivered(GateContext(step=up2, release=release, now=utc(2027, 2, 9, 18)))
    assert late is not None
    assert late.action == "replan"
    assert late.message.startswith(
        "The notice was delivered 2027-02-07 18:00 GMT (Europe/London) = 2027-02-07 18:00 UTC, "
        "after 2027-02-07 18:00 GMT"
    )


def test_a_removed_upgrade_sends_a_cancellation_to_the_people_told(
    notified: dict[str, Any], at: Any
) -> None:
    from releasedesk.releases import services as release_services
    from releasedesk.releases.models import Approval

    release, cm = notified["release"], notified["cm"]
    at(BEFORE)
    approval = Approval.objects.get(release=release, role="change_management")
    release_services.revoke_approval(
        release=release,
        approval_id=approval.pk,
        actor=Actor(kind="staff", id=cm.pk),
        user=cm,
        comment="Found a blocker",
    )
    cancellations = Message.objects.filter(kind="cancellation").order_by("to_address")
    assert [m.to_address for m in cancellations] == [
        "admin@h1.test",
        "admin@h2.test",
        "tech@h1.test",
        "tech@h2.test",
    ]
    body = cancellations[0].body_text
    assert "It was planned for: 2027-02-09 18:00 GMT (Europe/London)" in body
    assert "Release 7.2 no longer goes ahead as planned" in body
    # Undecided consents of the slots that went away are dropped.
    assert Consent.objects.filter(release=release).count() == 0


def test_a_reminder_is_skipped_once_the_consent_was_answered(
    notified: dict[str, Any], at: Any
) -> None:
    from releasedesk.consent.performers import perform_reminder

    release, h1 = notified["release"], notified["h1"]
    at(BEFORE)
    step = ScheduledStep.objects.create(
        release=release,
        key=f"r{release.pk}:i{h1['instance'].pk}:reminder:2027-02-09",
        kind="reminder",
        due_at=BEFORE,
        instance=h1["instance"],
        customer=h1["customer"],
        audience="instance_contacts",
        label="Reminder",
        zone="Europe/London",
        reason="test",
        target="hosted",
        payload={"contact_ids": [h1["admin"].pk], "deadline": DEADLINE.isoformat()},
    )
    assert perform_reminder(step, BEFORE).state == WorkState.DONE
    reminder = Message.objects.get(kind="reminder")
    assert reminder.to_address == "admin@h1.test"
    assert "You can opt out until 2027-02-09 13:00 GMT (Europe/London)" in reminder.body_text
    services.decide(
        consent=h1["consent"],
        decision="opted_out",
        actor=Actor(kind="contact", id=h1["admin"].pk),
        channel="portal",
        contact=h1["admin"],
    )
    skipped = perform_reminder(step, BEFORE)
    assert (skipped.state, skipped.error) == (WorkState.SKIPPED, "already answered: opted_out")
    assert Message.objects.filter(kind="reminder").count() == 1
