"""The bytes on the wire: the headers and parts of a delivered notice, parsed with the stdlib
`email` parser from what the loopback sink received; `OutboxEmail.message()` against Django's
own `EmailMultiAlternatives.message()`; the batch's 250s fenced by owner and attempt."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from releasedesk.catalog.models import Contact
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox import delivery, services
from releasedesk.outbox.audiences import contact_recipient
from releasedesk.outbox.models import Message
from releasedesk.outbox.rendering import Rendered, render_html
from tests.outbox.helpers import DUE, UTC, enqueue_notice
from tests.outbox.sink import SmtpSink

pytestmark = pytest.mark.django_db

AT = dt.datetime(2027, 3, 25, 13, 0, 7, tzinfo=UTC)
SUBJECT = "Wartungsfenster für Präsentationen: Änderungen am 2027-04-01 16:00 CEST (Europe/Berlin)"
TEXT = (
    "Guten Tag Jörg Müller,\n\n"
    "wir aktualisieren Presenter auf saas-eu. Die Präsentationen laden doppelt so schnell, und "
    "Quizze lassen sich exportieren — Einzelheiten in den Versionshinweisen.\n\n"
    "Wann: 2027-04-01 16:00 CEST (Europe/Berlin)\n"
    "Das ist 2027-04-01 14:00 UTC.\n"
)
FROM = '"Vendor Müller, Release Desk" <releases@vendor.test>'
HEADER_NAMES = [
    "MIME-Version",
    "Content-Type",
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-ReleaseDesk-Key",
]


def _enqueue_rendered(contact: Any, subject: str = SUBJECT, text: str = TEXT) -> Message:
    rendered = Rendered(subject=subject, text=text, html=render_html(subject, text, locale="de"))
    with transaction.atomic():
        return services.enqueue(
            recipient=contact_recipient(contact, "admin of School A"),
            kind="advance_notice",
            due_at=DUE,
            rendered=rendered,
            subject_ref="i1",
        )


def test_delivered_notice_carries_exactly_the_expected_headers(
    smtp_sink: SmtpSink, a1: Any, settings: Any
) -> None:
    message = _enqueue_rendered(a1)
    settings.DEFAULT_FROM_EMAIL = FROM
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 1

    [received] = smtp_sink.messages
    assert received.mail_from == "releases@vendor.test"
    assert received.rcpt_tos == ["a1@school-a.test"]
    raw = received.raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    # 7-bit headers: the umlauts travel as RFC 2047 encoded-words, every line folded to 78.
    assert head.isascii()
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert b"=?utf-8?" in head

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert list(parsed.keys()) == HEADER_NAMES
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Subject"] == SUBJECT
    [sender] = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Vendor Müller, Release Desk",
        "releases@vendor.test",
    )
    [to] = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("", "a1@school-a.test")
    assert parsed["Date"] == "Thu, 25 Mar 2027 13:00:07 +0000"
    assert parsed["Date"].datetime == AT
    assert parsed["Message-ID"] == message.message_id
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-ReleaseDesk-Key"] == message.key == f"r-:i1:advance_notice:g1:c{a1.pk}"

    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert list(text.items()) == [
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),  # a line longer than 78
    ]
    assert list(html.items()) == [
        ("Content-Type", 'text/html; charset="utf-8"'),
        ("Content-Transfer-Encoding", html["Content-Transfer-Encoding"]),
        ("MIME-Version", "1.0"),
    ]
    # The parts decode to the stored texts (lines end in CRLF on the wire).
    assert text.get_content().replace("\r\n", "\n") == message.body_text == TEXT
    assert html.get_content().replace("\r\n", "\n") == message.body_html
    assert "<p>Guten Tag Jörg Müller,</p>" in html.get_content()

    message.refresh_from_db()
    assert (message.state, message.delivered_at, message.smtp_response) == (
        WorkState.DONE,
        AT,
        "250",
    )


def _normalised(raw: bytes) -> tuple[list[tuple[str, str]], list[list[tuple[str, str]]], bytes]:
    """Top-level headers, each part's headers, and the body bytes with the boundary replaced."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    boundary = parsed.get_boundary()
    assert boundary
    top = [
        (k, re.sub(r"boundary=\S+", "boundary=B", str(v).replace(boundary, "B")))
        for k, v in parsed.items()
    ]
    parts = [list((k, str(v)) for k, v in part.items()) for part in parsed.iter_parts()]
    body = raw.split(b"\r\n\r\n", 1)[1].replace(boundary.encode(), b"B")
    return top, parts, body


CASES: dict[str, dict[str, Any]] = {
    "ascii notice": dict(subject="Planned upgrade: Presenter 5.4.0", text="Hello Ann,\n\nShort.\n"),
    "long ascii subject": dict(
        subject="Planned upgrade: Presenter 5.4.0 on 2027-04-01 16:00 CEST (Europe/Amsterdam)",
        text="Hello Ann Admin,\n\n" + "A line that is long enough to need folding. " * 4 + "\n",
    ),
    "german, comma in the sender's name": dict(subject=SUBJECT, text=TEXT, from_email=FROM),
    "dutch": dict(
        subject="Geplande upgrade: Presenter 5.4.0 — één wijziging",
        text="Beste Ann,\n\nWe werken Presenter bij naar 5.4.0.\n",
        from_email="ReleaseDesk <releases@localhost>",
    ),
    "extra header": dict(
        subject="Release notes",
        text="Hello,\n\nNotes.\n",
        headers={"List-Unsubscribe": "<https://releasedesk.example/portal/unsubscribe/TOKEN>"},
    ),
    "display name in To": dict(
        subject="Hi", text="Hello\n", to=['"Admin, Ann" <a1@school-a.test>', "b1@school-b.test"]
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_outbox_email_message_is_djangos_message_with_another_boundary(case: str) -> None:
    values: dict[str, Any] = dict(CASES[case])
    subject, text = values.pop("subject"), values.pop("text")
    headers = {"Message-ID": "<abc@releasedesk.localhost>", "Auto-Submitted": "auto-generated"}
    headers.update(values.pop("headers", {}))
    kwargs: dict[str, Any] = dict(
        subject=subject,
        body=text,
        from_email=values.pop("from_email", "ReleaseDesk <releases@localhost>"),
        to=values.pop("to", ["a1@school-a.test"]),
        headers=headers,
    )
    html = render_html(subject, text, locale="de")
    ours = delivery.OutboxEmail(**kwargs)
    ours.attach_alternative(html, "text/html")
    theirs = EmailMultiAlternatives(**kwargs)
    theirs.attach_alternative(html, "text/html")
    with time_machine.travel(AT, tick=False):
        fast = ours.message(policy=email.policy.SMTP)
        stock = theirs.message(policy=email.policy.SMTP)
    assert isinstance(fast.policy, delivery._WirePolicy)  # the fast path was taken
    assert _normalised(fast.as_bytes()) == _normalised(stock.as_bytes())
    # Read back through the message object itself, too.
    assert str(fast["Subject"]) == subject
    assert fast.get_content_type() == "multipart/alternative"


def test_what_the_fast_path_does_not_cover_is_built_by_django() -> None:
    mail = delivery.OutboxEmail(
        subject="Hi", body="Hello\n", to=["a1@school-a.test"], cc=["a2@school-a.test"]
    )
    mail.attach_alternative("<p>Hello</p>", "text/html")
    built = mail.message(policy=email.policy.SMTP)
    assert not isinstance(built.policy, delivery._WirePolicy)
    assert built["Cc"] == "a2@school-a.test"
    idna = delivery.OutboxEmail(subject="Hi", body="Hello\n", to=["a@müller.test"])
    idna.attach_alternative("<p>Hello</p>", "text/html")
    assert idna.message(policy=email.policy.SMTP)["To"] == "a@xn--mller-kva.test"


def test_batch_250s_are_fenced_by_owner_and_attempt(
    smtp_sink: SmtpSink, customer_a: Any, customer_b: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [enqueue_notice(c) for c in Contact.objects.order_by("pk")]
    stolen = messages[2]
    send = delivery._send

    def send_then_lose_the_last_lease(message: Message, conn: Any, *, owner: str) -> Any:
        result = send(message, conn, owner=owner)
        if message.pk == messages[0].pk:
            # Meanwhile the last row's lease expired and another worker claimed it.
            Message.objects.filter(pk=stolen.pk).update(
                lease_owner="w2", attempts=F("attempts") + 1
            )
        return result

    monkeypatch.setattr(delivery, "_send", send_then_lose_the_last_lease)
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 3
    rows = list(
        Message.objects.order_by("pk").values_list(
            "state", "lease_owner", "attempts", "delivered_at", "smtp_response"
        )
    )
    assert rows == [
        (WorkState.DONE, "", 1, AT, "250"),
        (WorkState.DONE, "", 1, AT, "250"),
        (WorkState.RUNNING, "w2", 2, None, ""),  # the new owner's row: nothing overwritten
    ]
    # w1 did send it (at least once); the receiver deduplicates by the stable Message-ID.
    assert [m.message_id for m in smtp_sink.messages] == [m.message_id for m in messages]


def test_a_batch_costs_the_same_queries_whatever_its_size(
    smtp_sink: SmtpSink, customer_a: Any, customer_b: Any
) -> None:
    contacts = list(Contact.objects.order_by("pk"))
    counts: list[int] = []
    for batch in (contacts[:1], contacts):
        for contact in batch:
            enqueue_notice(contact, generation=len(counts) + 1)
        with time_machine.travel(AT, tick=False), CaptureQueriesContext(connection) as queries:
            assert delivery.deliver_due(owner="w1") == len(batch)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert set(Message.objects.values_list("state", "delivered_at")) == {(WorkState.DONE, AT)}


def test_an_anymail_esp_backend_gets_the_same_message(a1: Any, settings: Any) -> None:
    """ESP backends read the EmailMessage's attributes, never `message()`: the subclass
    changes nothing for them."""
    from django.core import mail

    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}
    settings.ANYMAIL = {}
    mail.outbox = []
    message = _enqueue_rendered(a1)
    with time_machine.travel(AT, tick=False):
        assert delivery.deliver_due(owner="w1") == 1
    [sent] = mail.outbox
    assert isinstance(sent, delivery.OutboxEmail)
    params = sent.anymail_test_params  # type: ignore[attr-defined]
    assert params["subject"] == SUBJECT
    assert [str(a) for a in params["to"]] == ["a1@school-a.test"]
    assert params["text_body"] == TEXT
    assert params["html_body"] == message.body_html
    assert dict(params["extra_headers"]) == {
        "Message-ID": message.message_id,
        "Auto-Submitted": "auto-generated",
        "X-ReleaseDesk-Key": message.key,
    }
    message.refresh_from_db()
    assert (message.state, message.delivered_at) == (WorkState.DONE, AT)
