from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from releasedesk.audit.models import AuditEvent
from releasedesk.core import clock
from releasedesk.outbox.delivery import deliver_due
from releasedesk.portal import services
from releasedesk.portal.auth import SESSION_KEY

pytestmark = pytest.mark.django_db

LINK_RE = re.compile(r"http://[^\s]+/portal/login/link/([^\s/]+)/")


def _request_link(client: Client, email: str, *, deliver: bool = True) -> Any:
    """POST the sign-in form, then let the outbox deliver what it queued (as the worker
    would; the test mail backend is Django's locmem, i.e. `mail.outbox`)."""
    response = client.post(reverse("portal:login"), {"email": email})
    if deliver:
        deliver_due(owner="test-worker", now=clock.now())
    return response


def _token_from_mail(index: int = -1) -> str:
    match = LINK_RE.search(str(mail.outbox[index].body))
    assert match, mail.outbox[index].body
    return match.group(1)


def test_login_page_renders(client: Client) -> None:
    response = client.get(reverse("portal:login"))
    assert response.status_code == 200
    assert b"Send me a sign-in link" in response.content


def test_known_address_gets_one_mail_with_link(client: Client, a1: Any) -> None:
    response = _request_link(client, "A1@School-A.test")
    assert response.status_code == 200
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["a1@school-a.test"]
    assert "School A" in message.subject
    assert "(Europe/Amsterdam)" in message.body
    assert "UTC)" in message.body
    event = AuditEvent.objects.get(action="portal.sign_in_link_sent")
    assert event.object_id == str(a1.pk)
    assert "school-a.test" not in str(event.after)


def test_unknown_address_gets_the_same_answer(client: Client, a1: Any) -> None:
    known = _request_link(client, "a1@school-a.test")
    unknown = _request_link(client, "nobody@nowhere.test")
    assert unknown.status_code == known.status_code == 200

    def normalise(response: Any, email: str) -> str:
        text = response.content.decode().replace(email, "EMAIL")
        return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1T", text)

    assert normalise(known, "a1@school-a.test") == normalise(unknown, "nobody@nowhere.test")
    assert len(mail.outbox) == 1


def test_erased_or_unreachable_contact_gets_no_link(
    client: Client, a1: Any, customer_a: Any
) -> None:
    a2 = customer_a.contacts.get(email="a2@school-a.test")
    a2.reachable = False
    a2.save()
    a1.erased_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    a1.save()
    assert _request_link(client, "a1@school-a.test").status_code == 200
    assert _request_link(client, "a2@school-a.test").status_code == 200
    assert mail.outbox == []


def test_get_shows_button_and_does_not_sign_in(client: Client, a1: Any) -> None:
    _request_link(client, "a1@school-a.test")
    token = _token_from_mail()
    url = reverse("portal:link", kwargs={"token": token})
    response = client.get(url)
    assert response.status_code == 200
    assert b"Sign in" in response.content
    assert b"School A" in response.content
    assert SESSION_KEY not in client.session
    assert client.get(reverse("portal:home")).status_code == 302
    # GET twice still works: GET never consumes the link
    assert client.get(url).status_code == 200


def test_post_signs_in_once(client: Client, a1: Any) -> None:
    _request_link(client, "a1@school-a.test")
    url = reverse("portal:link", kwargs={"token": _token_from_mail()})
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.session[SESSION_KEY] == a1.pk
    assert (
        AuditEvent.objects.filter(
            action="portal.signed_in", actor_kind="contact", actor_id=a1.pk
        ).count()
        == 1
    )
    other = Client()
    reused = other.post(url)
    assert reused.status_code == 400
    assert b"already been used" in reused.content
    assert SESSION_KEY not in other.session
    assert other.get(url).status_code == 400


def test_tampered_link_rejected(client: Client, a1: Any) -> None:
    token = services.make_sign_in_token(a1)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.post(reverse("portal:link", kwargs={"token": tampered}))
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert SESSION_KEY not in client.session


def test_wrong_purpose_rejected(client: Client, a1: Any) -> None:
    payload = {"c": a1.pk, "n": "x" * 22, "e": services._email_fingerprint(a1.email)}
    token = signing.TimestampSigner(salt="releasedesk.portal.consent").sign_object(payload)
    response = client.post(reverse("portal:link", kwargs={"token": token}))
    assert response.status_code == 400
    assert b"meant for something else" in response.content
    assert SESSION_KEY not in client.session


def test_expired_link_rejected(client: Client, a1: Any, settings: Any) -> None:
    settings.PORTAL_LINK_MAX_AGE = 3600
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        token = services.make_sign_in_token(a1)
    with time_machine.travel(dt.datetime(2027, 3, 1, 10, 0, 1, tzinfo=dt.UTC), tick=False):
        response = client.post(reverse("portal:link", kwargs={"token": token}))
    assert response.status_code == 400
    assert b"expired" in response.content
    assert SESSION_KEY not in client.session
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 59, 59, tzinfo=dt.UTC), tick=False):
        response = client.post(reverse("portal:link", kwargs={"token": token}))
    assert response.status_code == 302


def test_link_of_contact_erased_after_sending_is_rejected(client: Client, a1: Any) -> None:
    token = services.make_sign_in_token(a1)
    a1.erased_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    a1.save()
    response = client.post(reverse("portal:link", kwargs={"token": token}))
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_link_of_unreachable_contact_is_rejected(client: Client, a1: Any) -> None:
    token = services.make_sign_in_token(a1)
    a1.reachable = False
    a1.save()
    assert client.post(reverse("portal:link", kwargs={"token": token})).status_code == 400


def test_link_after_email_change_is_rejected(client: Client, a1: Any) -> None:
    token = services.make_sign_in_token(a1)
    a1.email = "new@school-a.test"
    a1.save()
    assert client.post(reverse("portal:link", kwargs={"token": token})).status_code == 400


def test_erased_contact_is_signed_out(client: Client, a1: Any) -> None:
    client.post(reverse("portal:link", kwargs={"token": services.make_sign_in_token(a1)}))
    assert client.get(reverse("portal:home")).status_code == 200
    a1.erased_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    a1.save()
    assert client.get(reverse("portal:home")).status_code == 302


def test_link_requests_are_throttled(client: Client, a1: Any, settings: Any) -> None:
    settings.LOGIN_THROTTLE_LIMIT = 5
    settings.LOGIN_THROTTLE_WINDOW = 900
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        for _ in range(5):
            assert _request_link(client, "a1@school-a.test").status_code == 200
        blocked = _request_link(client, "a1@school-a.test")
        assert blocked.status_code == 429
        assert b"Try again in 15 minutes" in blocked.content
        # unknown addresses are throttled the same way (no enumeration through the throttle)
        for _ in range(5):
            _request_link(client, "nobody@nowhere.test")
        assert _request_link(client, "nobody@nowhere.test").status_code == 429
    assert len(mail.outbox) == 5
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 15, 1, tzinfo=dt.UTC), tick=False):
        assert _request_link(client, "a1@school-a.test").status_code == 200


def test_sign_out_needs_post(client: Client, a1: Any) -> None:
    client.post(reverse("portal:link", kwargs={"token": services.make_sign_in_token(a1)}))
    assert client.get(reverse("portal:logout")).status_code == 405
    assert client.session[SESSION_KEY] == a1.pk
    response = client.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    assert client.get(reverse("portal:home")).status_code == 302


def test_address_at_two_customers_gets_one_link_each(
    client: Client, a1: Any, customer_b: Any
) -> None:
    from releasedesk.catalog.models import Contact

    other = Contact.objects.create(
        customer=customer_b, name="Ann at B", email="a1@school-a.test", roles=["admin"]
    )
    _request_link(client, "a1@school-a.test")
    assert sorted(m.subject for m in mail.outbox) == [
        "Your sign-in link for School A",
        "Your sign-in link for School B",
    ]
    link_b = next(m for m in mail.outbox if "School B" in m.subject)
    token = LINK_RE.search(str(link_b.body))
    assert token is not None
    client.post(reverse("portal:link", kwargs={"token": token.group(1)}))
    assert client.session[SESSION_KEY] == other.pk


def test_signed_in_contact_skips_the_login_page(client: Client, a1: Any) -> None:
    client.post(reverse("portal:link", kwargs={"token": services.make_sign_in_token(a1)}))
    response = client.get(reverse("portal:login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
