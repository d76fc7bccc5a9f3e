"""The sign-in link leaves through the outbox: one message per request, written with its audit
event, rendered per locale with the expiry in the contact's zone and UTC, delivered by the
worker over SMTP, hidden from staff previews and scrubbed once finished or used."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.audit.models import AuditEvent
from releasedesk.core import worker
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox import masking
from releasedesk.outbox.delivery import deliver_due
from releasedesk.outbox.models import Message
from releasedesk.portal import services
from releasedesk.portal.auth import SESSION_KEY
from tests.outbox.sink import SmtpSink

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # 10:00 CET in Amsterdam
EXPIRES = T0 + dt.timedelta(hours=1)  # PORTAL_LINK_MAX_AGE = 3600
LINK_RE = re.compile(r"http://[^\s]+/portal/login/link/([^\s/]+)/")


def _request(client: Client, email: str, at: dt.datetime = T0) -> Any:
    with time_machine.travel(at, tick=False):
        return client.post(reverse("portal:login"), {"email": email})


def _deliver(at: dt.datetime = T0) -> int:
    with time_machine.travel(at, tick=False):
        return deliver_due(owner="test-worker", now=at)


def _token(body: str) -> str:
    match = LINK_RE.search(body)
    assert match, body
    return match.group(1)


def test_a_request_queues_one_message_and_the_worker_delivers_it(
    client: Client, a1: Any, settings: Any
) -> None:
    settings.PORTAL_LINK_MAX_AGE = 3600
    assert _request(client, "a1@school-a.test").status_code == 200
    assert mail.outbox == []  # nothing leaves in the request
    message = Message.objects.get()
    assert (message.kind, message.state) == ("sign_in", WorkState.PENDING)
    assert (message.due_at, message.late_after) == (T0, EXPIRES)
    assert (message.to_address, message.contact_id, message.release_id) == (
        "a1@school-a.test",
        a1.pk,
        None,
    )
    assert (message.locale, message.zone) == ("en", "Europe/Amsterdam")
    assert message.key == f"r-:{message.subject_ref}:sign_in:g1:c{a1.pk}"
    assert message.why == "asked for a portal sign-in link for School A"
    event = AuditEvent.objects.get(action="portal.sign_in_link_sent")
    assert event.after == {"contact_id": a1.pk, "message_id": message.pk}

    assert _deliver(T0 + dt.timedelta(seconds=2)) == 1
    message.refresh_from_db()
    assert message.state == WorkState.DONE
    assert message.delivered_at == T0 + dt.timedelta(seconds=2)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["a1@school-a.test"]
    assert sent.subject == "Your sign-in link for School A"
    assert sent.extra_headers["Message-ID"] == message.message_id
    body = str(sent.body)
    assert body.startswith("Hello Ann Admin,\n")
    assert (
        "The link works once and expires at 2027-03-01 11:00 CET (Europe/Amsterdam) "
        "(2027-03-01 10:00 UTC)." in body
    )
    # The link in the mail signs in (once).
    url = reverse("portal:link", kwargs={"token": _token(body)})
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        assert client.post(url).status_code == 302
    assert client.session[SESSION_KEY] == a1.pk


@pytest.mark.parametrize(
    ("locale", "subject", "expiry"),
    [
        (
            "nl",
            "Uw aanmeldlink voor School A",
            "De link werkt één keer en verloopt op 2027-03-01 11:00 CET (Europe/Amsterdam) "
            "(2027-03-01 10:00 UTC).",
        ),
        (
            "de",
            "Ihr Anmeldelink für School A",
            "Der Link funktioniert einmal und läuft am 2027-03-01 11:00 CET (Europe/Amsterdam) "
            "(2027-03-01 10:00 UTC) ab.",
        ),
    ],
)
def test_rendered_in_the_contacts_language(
    client: Client, a1: Any, locale: str, subject: str, expiry: str
) -> None:
    a1.locale = locale
    a1.save()
    _request(client, "a1@school-a.test")
    _deliver()
    assert [m.subject for m in mail.outbox] == [subject]
    assert expiry in str(mail.outbox[0].body)
    assert Message.objects.get().locale == locale


def test_expiry_in_the_contacts_own_zone_in_summer(client: Client, a1: Any) -> None:
    a1.timezone = "America/New_York"
    a1.save()
    summer = dt.datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    _request(client, "a1@school-a.test", at=summer)
    _deliver(summer)
    assert "expires at 2027-07-01 09:00 EDT (America/New_York) (2027-07-01 13:00 UTC)." in str(
        mail.outbox[0].body
    )


def test_each_request_is_a_new_message_and_a_new_link(client: Client, a1: Any) -> None:
    _request(client, "a1@school-a.test")
    _request(client, "a1@school-a.test", at=T0 + dt.timedelta(minutes=1))
    _deliver(T0 + dt.timedelta(minutes=1))
    keys = set(Message.objects.values_list("key", flat=True))
    assert len(keys) == 2
    assert len(set(Message.objects.values_list("message_id", flat=True))) == 2
    first, second = (_token(str(m.body)) for m in mail.outbox)
    assert first != second
    with time_machine.travel(T0 + dt.timedelta(minutes=2), tick=False):
        assert Client().post(reverse("portal:link", kwargs={"token": first})).status_code == 302
        assert Client().post(reverse("portal:link", kwargs={"token": second})).status_code == 302


def test_unknown_address_queues_nothing(client: Client, a1: Any) -> None:
    _request(client, "nobody@nowhere.test")
    assert Message.objects.count() == 0
    assert _deliver() == 0
    assert mail.outbox == []


def test_a_message_not_sent_before_the_link_expires_is_never_sent(client: Client, a1: Any) -> None:
    _request(client, "a1@school-a.test")
    assert _deliver(EXPIRES + dt.timedelta(seconds=1)) == 0
    message = Message.objects.get()
    assert message.state == WorkState.MISSED
    assert mail.outbox == []


def test_delivered_over_smtp_to_the_loopback_sink(
    client: Client, a1: Any, smtp_sink: SmtpSink
) -> None:
    _request(client, "a1@school-a.test")
    assert _deliver() == 1
    (received,) = smtp_sink.messages
    message = Message.objects.get()
    assert received.rcpt_tos == ["a1@school-a.test"]
    assert received.message_id == message.message_id
    assert received.message["Subject"] == "Your sign-in link for School A"
    token = _token(received.text())
    assert f'<a href="http://127.0.0.1:8000/portal/login/link/{token}/">' in received.html()


def test_the_worker_delivers_it_to_the_demo_mailbox(
    client: Client, a1: Any, settings: Any, tmp_path: Path
) -> None:
    # What `releasedesk demo` configures when no mail server is set (use_demo_mailbox).
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(tmp_path)},
        }
    }
    _request(client, "a1@school-a.test")
    handlers = worker.load_handlers()
    with time_machine.travel(T0, tick=False):
        while worker.run_turn(handlers):
            pass
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    text = files[0].read_text()
    assert "Subject: Your sign-in link for School A" in text
    assert "To: a1@school-a.test" in text
    assert "/portal/login/link/" in text


# --- staff previews hide the link -------------------------------------------------------------


def _api_headers(user: Any) -> dict[str, str]:
    raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
    ApiToken.objects.create(
        user=user, name="t", prefix=raw[:11], token_hash=hash_token(raw), scope="read"
    )
    return {"Authorization": f"Bearer {raw}"}


def test_staff_preview_and_api_hide_the_sign_in_link(
    client: Client, a1: Any, vendor_admin: Any
) -> None:
    _request(client, "a1@school-a.test")
    message = Message.objects.get()
    token = _token(message.body_text)  # pending: the stored body still holds the link
    assert token in message.body_html

    staff = Client()
    staff.force_login(vendor_admin)
    page = staff.get(reverse("outbox:detail", args=[message.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert token not in content
    assert "/portal/login/link/" not in content
    assert "(sign-in link hidden)" in content
    assert "expires at 2027-03-01 11:00 CET (Europe/Amsterdam)" in content

    detail = staff.get(f"/api/v1/outbox/{message.pk}", headers=_api_headers(vendor_admin))
    assert detail.status_code == 200
    data = detail.json()
    assert token not in detail.content.decode()
    assert "Use this link to sign in" in data["body_text"]
    assert "\n\n(sign-in link hidden)\n\n" in data["body_text"]
    assert "<p>(sign-in link hidden)</p>" in data["body_html"]
    assert "<a " not in data["body_html"]


def test_masking_leaves_other_links_alone() -> None:
    text = (
        "See https://rd.test/consent/abc/ and https://rd.test/portal/login/link/AbC:1x:sig/ "
        "or /portal/login/link/tok/"
    )
    assert masking.mask_text(text) == (
        "See https://rd.test/consent/abc/ and (sign-in link hidden) or (sign-in link hidden)"
    )
    html = '<p><a href="https://rd.test/portal/login/link/T:o:k/">https://rd.test/portal/login/link/T:o:k/</a></p>'
    assert masking.mask_html(html) == "<p>(sign-in link hidden)</p>"


# --- scrubbing --------------------------------------------------------------------------------


def test_sent_bodies_are_scrubbed_by_the_worker_step(client: Client, a1: Any) -> None:
    _request(client, "a1@school-a.test")
    _request(client, "a1@school-a.test", at=T0 + dt.timedelta(minutes=30))
    first, second = Message.objects.order_by("due_at")
    # Only the first one is delivered; the second stays pending (its link is still valid).
    Message.objects.filter(pk=second.pk).update(due_at=T0 + dt.timedelta(days=1))
    _deliver(T0 + dt.timedelta(minutes=30))
    assert services.scrub_sign_in_messages(now=T0 + dt.timedelta(minutes=31)) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.body_text, first.body_html) == (services.SCRUBBED_TEXT, "")
    assert first.state == WorkState.DONE
    assert first.delivered_at == T0 + dt.timedelta(minutes=30)
    assert "/portal/login/link/" in second.body_text
    # Once its link has expired, the pending one is scrubbed too (and never sent: missed).
    later = T0 + dt.timedelta(minutes=90, seconds=1)
    assert services.scrub_sign_in_messages(now=later) == 1
    second.refresh_from_db()
    assert second.body_text == services.SCRUBBED_TEXT
    assert services.scrub_sign_in_messages(now=later) == 0  # nothing left to do
    # The delivered mail kept its link; the stored copy did not.
    assert "/portal/login/link/" in str(mail.outbox[0].body)


@pytest.mark.parametrize("state", [WorkState.FAILED, WorkState.CANCELLED, WorkState.MISSED])
def test_failed_cancelled_and_missed_bodies_are_scrubbed(
    client: Client, a1: Any, state: str
) -> None:
    _request(client, "a1@school-a.test")
    Message.objects.update(state=state, finished_at=T0)
    assert services.scrub_sign_in_messages(now=T0) == 1
    assert Message.objects.get().body_text == services.SCRUBBED_TEXT


def test_scrubbing_leaves_other_kinds_alone(a1: Any) -> None:
    from tests.outbox.helpers import enqueue_notice

    notice = enqueue_notice(a1)
    Message.objects.filter(pk=notice.pk).update(state=WorkState.DONE)
    assert services.scrub_sign_in_messages(now=T0) == 0
    notice.refresh_from_db()
    assert notice.body_text != services.SCRUBBED_TEXT


def test_using_the_link_scrubs_its_message_at_once(client: Client, a1: Any) -> None:
    _request(client, "a1@school-a.test")
    _deliver()
    token = _token(str(mail.outbox[0].body))
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        client.post(reverse("portal:link", kwargs={"token": token}))
    message = Message.objects.get()
    assert message.body_text == services.SCRUBBED_TEXT
    assert message.updated_at == T0 + dt.timedelta(minutes=1)


def test_worker_step_runs_at_most_every_interval(
    client: Client, a1: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = [float("-inf")]  # when this process last scrubbed (time.monotonic)
    monkeypatch.setattr(services, "_last_scrub", last)
    assert services.handle_one_sign_in_scrub in worker.load_handlers()
    _request(client, "a1@school-a.test")
    _deliver()
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        assert services.handle_one_sign_in_scrub() is True
        _request(client, "a1@school-a.test", at=T0 + dt.timedelta(minutes=1))
        _deliver(T0 + dt.timedelta(minutes=1))
        assert services.handle_one_sign_in_scrub() is False  # too soon: skipped
        assert Message.objects.exclude(body_text=services.SCRUBBED_TEXT).count() == 1
        last[0] = time.monotonic() - services.SCRUB_EVERY - 0.001  # the interval has passed
        assert services.handle_one_sign_in_scrub() is True
        last[0] = time.monotonic() - services.SCRUB_EVERY - 0.001
        assert services.handle_one_sign_in_scrub() is False  # ran: nothing left to scrub
    assert set(Message.objects.values_list("body_text", flat=True)) == {services.SCRUBBED_TEXT}


def test_django_admin_hides_the_sign_in_link_too(
    client: Client, a1: Any, django_user_model: Any
) -> None:
    _request(client, "a1@school-a.test")
    message = Message.objects.get()
    token = _token(message.body_text)
    admin_user = django_user_model.objects.create_superuser(
        username="root", email="root@vendor.test", password="correct-horse-battery"
    )
    staff = Client()
    staff.force_login(admin_user)
    page = staff.get(reverse("admin:outbox_message_change", args=[message.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert token not in content
    assert "(sign-in link hidden)" in content
    assert "Use this link to sign in" in content
