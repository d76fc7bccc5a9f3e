"""Delivery over real SMTP to a loopback aiosmtpd sink: Message-ID, delivered_at, retries,
permanent failures marking contacts unreachable and alerting staff."""

from __future__ import annotations

import datetime as dt
import hashlib
import smtplib
from typing import Any

import pytest
import time_machine
from django.db import transaction

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.models import Contact
from releasedesk.core import worker
from releasedesk.core.queue_models import StaffAlert, WorkState
from releasedesk.outbox import delivery, services
from releasedesk.outbox.audiences import contact_recipient
from releasedesk.outbox.models import Message
from tests.outbox.helpers import DUE, UTC, enqueue_notice, notice_context
from tests.outbox.sink import SmtpSink

pytestmark = pytest.mark.django_db

AT = dt.datetime(2027, 3, 25, 13, 0, 7, tzinfo=UTC)


def test_notice_is_delivered_over_smtp_with_stable_message_id(smtp_sink: SmtpSink, a1: Any) -> None:
    message = enqueue_notice(a1)
    key = message.key
    assert key == f"r-:i1:advance_notice:g1:c{a1.pk}"
    expected_id = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@releasedesk.localhost>"
    assert message.message_id == expected_id
    assert message.why == "admin of School A"

    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 1

    message.refresh_from_db()
    assert message.state == WorkState.DONE
    assert message.delivered_at == AT
    assert message.attempts == 1
    assert message.smtp_response == "250"
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["a1@school-a.test"]
    assert received.message_id == expected_id
    assert received.message["Subject"].strip() == (
        "Planned upgrade: Presenter 5.4.0 on 2027-04-01 16:00 CEST (Europe/Amsterdam)"
    )
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert "When: 2027-04-01 16:00 CEST (Europe/Amsterdam)" in received.text()
    assert "That is 2027-04-01 14:00 UTC." in received.text()
    assert "<p>Hello Ann Admin,</p>" in received.html()


def test_enqueue_is_idempotent_by_key(a1: Any) -> None:
    first = enqueue_notice(a1)
    second = enqueue_notice(a1)
    assert second.pk == first.pk
    assert Message.objects.count() == 1
    assert services.message_id_for(first.key) == first.message_id


def test_a_new_generation_is_a_new_message_with_another_id(a1: Any) -> None:
    first = enqueue_notice(a1)
    second = enqueue_notice(a1, generation=2)
    assert second.key == f"r-:i1:advance_notice:g2:c{a1.pk}"
    assert second.message_id != first.message_id


def test_nothing_is_due_before_due_at(smtp_sink: SmtpSink, a1: Any) -> None:
    enqueue_notice(a1)
    with time_machine.travel(DUE - dt.timedelta(seconds=1), tick=False):
        assert delivery.deliver_due(owner="w1") == 0
    assert smtp_sink.messages == []


@pytest.mark.django_db(transaction=True)
def test_enqueue_belongs_to_the_callers_transaction(a1: Any) -> None:
    recipient = contact_recipient(a1, "x")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        services.enqueue(
            recipient=recipient, kind="advance_notice", due_at=DUE, context=notice_context()
        )

    class Boom(Exception):
        pass

    def change_that_fails() -> None:
        with transaction.atomic():
            enqueue_notice(a1)
            raise Boom

    with pytest.raises(Boom):
        change_that_fails()
    assert Message.objects.count() == 0  # rolled back with the change that caused it


def test_refused_connection_retries_with_backoff_then_delivers(
    dead_smtp: SmtpSink, a1: Any
) -> None:
    message = enqueue_notice(a1)
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 1
    message.refresh_from_db()
    assert message.state == WorkState.PENDING
    assert message.attempts == 1
    assert message.due_at == AT + dt.timedelta(minutes=1)
    assert message.last_error.startswith("ConnectionRefusedError")
    assert message.delivered_at is None

    # Second failure: the backoff doubles.
    second = AT + dt.timedelta(minutes=1)
    with time_machine.travel(second, tick=False):
        assert delivery.deliver_due(owner="w1") == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == (WorkState.PENDING, 2)
    assert message.due_at == second + dt.timedelta(minutes=2)

    dead_smtp.start()
    third = second + dt.timedelta(minutes=2)
    with time_machine.travel(third, tick=False):
        assert delivery.deliver_due(owner="w1") == 1
    done = Message.objects.get(pk=message.pk)
    assert (done.state, done.attempts, done.delivered_at) == (WorkState.DONE, 3, third)
    assert [m.message_id for m in dead_smtp.messages] == [done.message_id]
    assert Contact.objects.get(pk=a1.pk).reachable is True


def test_refused_connection_does_not_burn_the_rest_of_the_batch(
    dead_smtp: SmtpSink, customer_a: Any, customer_b: Any
) -> None:
    for contact in Contact.objects.order_by("pk"):
        enqueue_notice(contact)
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 3
    states = list(Message.objects.order_by("pk").values_list("state", "attempts", "due_at"))
    assert states == [
        (WorkState.PENDING, 1, AT + dt.timedelta(minutes=1)),
        (WorkState.PENDING, 0, DUE),
        (WorkState.PENDING, 0, DUE),
    ]


def test_retries_stop_at_max_attempts(dead_smtp: SmtpSink, a1: Any) -> None:
    message = enqueue_notice(a1, max_attempts=2)
    now = AT
    with time_machine.travel(now, tick=False):
        delivery.deliver_due(owner="w1")
    now += dt.timedelta(minutes=1)
    with time_machine.travel(now, tick=False):
        delivery.deliver_due(owner="w1")
    message.refresh_from_db()
    assert (message.state, message.attempts) == (WorkState.FAILED, 2)
    assert message.finished_at == now
    # A refused connection says nothing about the address.
    assert Contact.objects.get(pk=a1.pk).reachable is True


def test_temporary_rcpt_failure_is_retried(smtp_sink: SmtpSink, a1: Any) -> None:
    smtp_sink.reject_rcpt["a1@school-a.test"] = "450 4.2.1 Mailbox busy, try later"
    message = enqueue_notice(a1)
    with time_machine.travel(AT, tick=False):
        delivery.deliver_due(owner="w1")
    message.refresh_from_db()
    assert (message.state, message.attempts) == (WorkState.PENDING, 1)
    assert message.last_error == "450 4.2.1 Mailbox busy, try later"
    assert Contact.objects.get(pk=a1.pk).reachable is True


def test_permanent_failure_marks_contact_unreachable_and_alerts_when_no_admin_left(
    smtp_sink: SmtpSink, customer_a: Any, customer_b: Any
) -> None:
    a1 = customer_a.contacts.get(email="a1@school-a.test")
    a2 = customer_a.contacts.get(email="a2@school-a.test")
    smtp_sink.reject_rcpt["a1@school-a.test"] = "550 5.1.1 No such user"
    first = enqueue_notice(a1)
    with time_machine.travel(AT, tick=False):
        delivery.deliver_due(owner="w1")
    first.refresh_from_db()
    assert (first.state, first.delivered_at) == (WorkState.FAILED, None)
    assert first.last_error == "550 5.1.1 No such user"
    a1.refresh_from_db()
    assert a1.reachable is False
    assert a1.unreachable_reason == "permanent delivery failure: 550 5.1.1 No such user"
    assert not StaffAlert.objects.exists()  # a2 is still reachable
    event = AuditEvent.objects.get(action="catalog.contact_unreachable")
    assert event.object_id == str(a1.pk)
    assert event.after is not None
    assert event.after["message_id"] == first.pk

    smtp_sink.reject_rcpt["a2@school-a.test"] = "550 5.1.1 No such user"
    second = enqueue_notice(a2)
    with time_machine.travel(AT, tick=False):
        delivery.deliver_due(owner="w1")
    second.refresh_from_db()
    assert second.state == WorkState.FAILED
    [alert] = StaffAlert.objects.all()
    assert alert.kind == "outbox.no_reachable_admin"
    assert alert.title == "School A has no reachable admin"
    assert (alert.object_type, alert.object_id) == ("catalog.customer", str(customer_a.pk))
    assert smtp_sink.messages == []


def test_data_rejection_for_the_message_fails_it_without_marking_the_contact(
    smtp_sink: SmtpSink, a1: Any
) -> None:
    smtp_sink.reject_data = "554 5.6.0 Message content rejected"
    message = enqueue_notice(a1)
    with time_machine.travel(AT, tick=False):
        delivery.deliver_due(owner="w1")
    message.refresh_from_db()
    assert (message.state, message.last_error) == (
        WorkState.FAILED,
        "554 5.6.0 Message content rejected",
    )
    assert Contact.objects.get(pk=a1.pk).reachable is True


def test_lost_lease_overwrites_nothing(smtp_sink: SmtpSink, a1: Any) -> None:
    message = enqueue_notice(a1)
    from releasedesk.core import queue

    with time_machine.travel(AT, tick=False):
        [claimed] = queue.claim(Message, now=AT, owner="w1", lease=delivery.LEASE)
    # The lease expires, the reaper hands the row to another worker, which claims it.
    later = AT + delivery.LEASE + dt.timedelta(seconds=1)
    assert queue.reap(Message, now=later) == 1
    [theirs] = queue.claim(Message, now=later, owner="w2", lease=delivery.LEASE)
    with time_machine.travel(later, tick=False):
        assert delivery.deliver_one(claimed, owner="w1") is None
        assert delivery.deliver_one(theirs, owner="w2") == WorkState.DONE
    message.refresh_from_db()
    assert (message.state, message.attempts, message.delivered_at) == (WorkState.DONE, 2, later)
    # Both attempts reached the server: one Message-ID, deduplicated by the receiver.
    assert {m.message_id for m in smtp_sink.messages} == {message.message_id}


@pytest.mark.django_db(transaction=True)
def test_worker_loop_delivers_through_the_registered_handler(smtp_sink: SmtpSink, a1: Any) -> None:
    assert delivery.handle_one_batch in worker.HANDLERS
    message = enqueue_notice(a1)
    with time_machine.travel(AT, tick=False):
        assert worker.run_turn([delivery.handle_one_batch]) is True
        assert worker.run_turn([delivery.handle_one_batch]) is False
    message.refresh_from_db()
    assert message.state == WorkState.DONE
    assert len(smtp_sink.messages) == 1


def test_late_cutoff_marks_a_notice_missed_instead_of_sending_it_late(
    smtp_sink: SmtpSink, a1: Any
) -> None:
    cutoff = dt.datetime(2027, 3, 25, 14, 0, tzinfo=UTC)
    message = enqueue_notice(a1, late_after=cutoff)
    with time_machine.travel(cutoff + dt.timedelta(minutes=1), tick=False):
        assert delivery.deliver_due(owner="w1") == 0
    message.refresh_from_db()
    assert message.state == WorkState.MISSED
    assert smtp_sink.messages == []
    assert StaffAlert.objects.filter(kind="queue.missed").count() == 1


def test_enqueue_audience_one_message_per_recipient_personalised_and_idempotent(
    smtp_sink: SmtpSink, presenter: Any, saas_eu: Any, customer_a: Any, customer_b: Any
) -> None:
    from releasedesk.outbox import audiences

    Contact.objects.filter(email="a2@school-a.test").update(reachable=False, unreachable_reason="x")
    audience = audiences.affected_org_admins([presenter], [saas_eu])
    for _ in range(2):
        with transaction.atomic():
            result = services.enqueue_audience(
                audience=audience,
                kind="advance_notice",
                due_at=DUE,
                context=notice_context(),
                subject_ref=f"i{saas_eu.pk}",
            )
    assert (result.created, result.existing) == (0, 2)
    assert [s.contact.email for s in result.skipped] == ["a2@school-a.test"]
    rows = list(Message.objects.order_by("to_address"))
    assert [(m.to_address, m.zone, m.why) for m in rows] == [
        (
            "a1@school-a.test",
            "Europe/Amsterdam",
            "admin of School A, which uses Presenter on saas-eu",
        ),
        (
            "b1@school-b.test",
            "Europe/Brussels",
            "admin of School B, which uses Presenter on saas-eu",
        ),
    ]
    assert rows[0].body_text.startswith("Hello Ann Admin,\n")
    assert rows[1].body_text.startswith("Hello Bea Admin,\n")
    assert "<p>Hello Bea Admin,</p>" in rows[1].body_html
    assert "When: 2027-04-01 16:00 CEST (Europe/Brussels)" in rows[1].body_text
    assert rows[0].message_id == services.message_id_for(rows[0].key)
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 2
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "a1@school-a.test",
        "b1@school-b.test",
    ]
    assert set(Message.objects.values_list("state", "delivered_at")) == {(WorkState.DONE, AT)}


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"5.1.1 gone")}), "permanent", 550),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (452, b"4.2.2 full")}), "temporary", 452),
        (smtplib.SMTPDataError(551, b"user not local"), "permanent", 551),
        (smtplib.SMTPDataError(554, b"content rejected"), "message", 554),
        (smtplib.SMTPDataError(451, b"try later"), "temporary", 451),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "channel", 535),
        (smtplib.SMTPSenderRefused(553, b"sender refused", "r@x.test"), "channel", 553),
        (smtplib.SMTPServerDisconnected("gone"), "temporary", None),
        (ConnectionRefusedError(111, "Connection refused"), "temporary", None),
        (TimeoutError("timed out"), "temporary", None),
    ],
)
def test_classify(exc: BaseException, kind: str, code: int | None) -> None:
    failure = delivery.classify(exc, "a@x.test")
    assert (failure.kind, failure.code) == (kind, code)


def test_temporary_data_failure_is_retried(smtp_sink: SmtpSink, a1: Any) -> None:
    smtp_sink.reject_data = "451 4.3.0 Temporary local problem"
    message = enqueue_notice(a1)
    with time_machine.travel(AT, tick=False):
        delivery.deliver_due(owner="w1")
    message.refresh_from_db()
    assert (message.state, message.attempts, message.due_at) == (
        WorkState.PENDING,
        1,
        AT + dt.timedelta(minutes=1),
    )
    assert message.last_error == "451 4.3.0 Temporary local problem"
    assert Contact.objects.get(pk=a1.pk).reachable is True


def test_authentication_failure_alerts_staff_and_retries_without_marking(a1: Any) -> None:
    from releasedesk.core import queue

    class RefusingBackend:
        def send_messages(self, messages: Any) -> int:
            raise smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")

        def close(self) -> None:
            pass

    message = enqueue_notice(a1)
    [claimed] = queue.claim(Message, now=AT, owner="w1", lease=delivery.LEASE)
    with time_machine.travel(AT, tick=False):
        state = delivery.deliver_one(claimed, owner="w1", connection=RefusingBackend())  # type: ignore[arg-type]
    assert state == WorkState.PENDING
    message.refresh_from_db()
    assert message.last_error == "535 5.7.8 bad credentials"
    [alert] = StaffAlert.objects.all()
    assert alert.kind == "outbox.channel_failure"
    assert Contact.objects.get(pk=a1.pk).reachable is True


def test_a_refused_sender_stops_the_batch_and_raises_one_alert(
    smtp_sink: SmtpSink, customer_a: Any, customer_b: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for contact in Contact.objects.order_by("pk"):
        enqueue_notice(contact)

    def refuse(self: Any, messages: Any) -> int:
        raise smtplib.SMTPSenderRefused(553, b"5.7.1 sender not allowed", "releases@localhost")

    from django.core.mail.backends.smtp import EmailBackend

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 3
    states = list(Message.objects.order_by("pk").values_list("state", "attempts"))
    assert states == [(WorkState.PENDING, 1), (WorkState.PENDING, 0), (WorkState.PENDING, 0)]
    later = AT + dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        delivery.deliver_due(owner="w1")
    assert StaffAlert.objects.filter(kind="outbox.channel_failure").count() == 1
    assert Contact.objects.filter(reachable=False).count() == 0
