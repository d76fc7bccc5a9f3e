"""Partner Atom feed URLs are revocable per (policy, audience): rotating the audience's feed
key (service, API, CLI; audited) makes every earlier URL answer 404 and issues a new one."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from io import StringIO
from typing import Any

import feedparser
import pytest
import time_machine
from django.core import signing
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.audit.models import AuditEvent
from releasedesk.core.errors import ValidationFailed
from releasedesk.notes import channels, services
from releasedesk.notes.models import FeedKey
from releasedesk.portal.auth import SESSION_KEY
from tests.notes.conftest import staff

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
FEED = "/notes/feeds/field-notes/distributors/de.atom"
API = "/api/v1/notes"


def _api(user: Any, scope: str = "write") -> Client:
    raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
    ApiToken.objects.create(
        user=user, name="t", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
    )
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _get(client: Client, token: str) -> Any:
    return client.get(FEED, {"token": token})


def _entries(response: Any) -> list[Any]:
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0
    assert feed.version == "atom10"
    return list(feed.entries)


@pytest.fixture
def published(release: Any, publish_all: Callable[..., Any]) -> Any:
    with time_machine.travel(T0, tick=False):
        publish_all(release)
    return release


def test_rotation_revokes_the_old_url_and_the_new_one_works(
    client: Client, published: Any, policy: Any, docs_writer: Any
) -> None:
    old = channels.feed_token("field-notes", "distributors")
    assert [e.title for e in _entries(_get(client, old))] == ["Field Suite 7.2.0 — Summer release"]

    at = dt.datetime(2027, 6, 2, 8, 30, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        key = services.rotate_feed_token(
            policy=policy, audience="distributors", actor=staff(docs_writer)
        )
    assert (key.version, key.rotated_at) == (2, at)
    assert _get(client, old).status_code == 404

    new = channels.feed_token("field-notes", "distributors")
    assert new != old
    assert [e.title for e in _entries(_get(client, new))] == ["Field Suite 7.2.0 — Summer release"]

    event = AuditEvent.objects.get(action="notes.feed_url_rotated")
    assert (event.actor_kind, event.actor_id) == ("staff", docs_writer.pk)
    assert event.object_id == str(policy.pk)
    assert event.before == {"audience": "distributors", "version": 1}
    assert event.after == {"audience": "distributors", "version": 2}

    # Rotating again revokes the second URL too.
    services.rotate_feed_token(policy=policy, audience="distributors", actor=staff(docs_writer))
    assert _get(client, new).status_code == 404
    assert _get(client, channels.feed_token("field-notes", "distributors")).status_code == 200
    assert FeedKey.objects.get().version == 3


def test_tampered_foreign_and_malformed_tokens_answer_404(
    client: Client, published: Any, policy: Any
) -> None:
    good = channels.feed_token("field-notes", "distributors")
    assert _get(client, good).status_code == 200
    body, _, sig = good.rpartition(":")
    tampered = f"{body}:{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    for token in (
        "",
        "forged",
        tampered,
        good + "x",
        "x" * 600,
        # another audience of the same policy (public, but signed like a partner token)
        channels.feed_token("field-notes", "customers"),
        # the same audience name in another policy
        channels.feed_token("other-policy", "distributors"),
        # the right payload signed for another purpose (a calendar feed's salt)
        signing.dumps(
            {"p": "field-notes", "a": "distributors", "v": 1},
            salt="releasedesk.calendars.feed.customer",
            compress=True,
        ),
        # a version that was never issued
        channels.feed_token("field-notes", "distributors", version=2),
    ):
        assert _get(client, token).status_code == 404, token
    assert client.get(FEED).status_code == 404  # no token at all


def test_a_url_from_before_versions_works_until_the_first_rotation(
    client: Client, published: Any, policy: Any, docs_writer: Any
) -> None:
    legacy = signing.dumps(
        {"p": "field-notes", "a": "distributors"}, salt=channels.FEED_SALT, compress=True
    )
    assert _get(client, legacy).status_code == 200
    services.rotate_feed_token(policy=policy, audience="distributors", actor=staff(docs_writer))
    assert _get(client, legacy).status_code == 404


def test_get_never_writes(client: Client, published: Any, policy: Any, docs_writer: Any) -> None:
    events = AuditEvent.objects.count()
    token = channels.feed_token("field-notes", "distributors")
    assert _get(client, token).status_code == 200
    assert _get(client, "forged").status_code == 404
    assert client.get("/notes/feeds/field-notes/customers/en.atom").status_code == 200
    feeds = _api(docs_writer).get(f"{API}/feeds", {"policy": "field-notes"})
    assert feeds.status_code == 200
    assert FeedKey.objects.count() == 0
    assert AuditEvent.objects.count() == events
    # The rotate endpoint is POST only.
    assert _api(docs_writer).get(f"{API}/feeds/rotate").status_code == 405
    assert FeedKey.objects.count() == 0


def test_only_partner_audiences_can_be_rotated(policy: Any, docs_writer: Any) -> None:
    with pytest.raises(ValidationFailed, match="'customers' is public"):
        services.rotate_feed_token(policy=policy, audience="customers", actor=staff(docs_writer))
    with pytest.raises(ValidationFailed, match="'internal' is internal"):
        services.rotate_feed_token(policy=policy, audience="internal", actor=staff(docs_writer))
    with pytest.raises(ValidationFailed, match="unknown audience 'nobody'"):
        services.rotate_feed_token(policy=policy, audience="nobody", actor=staff(docs_writer))
    assert FeedKey.objects.count() == 0
    assert not AuditEvent.objects.filter(action="notes.feed_url_rotated").exists()


# --- API --------------------------------------------------------------------------------------


def test_api_rotates_and_answers_the_new_urls(
    client: Client, published: Any, policy: Any, docs_writer: Any
) -> None:
    old = channels.feed_token("field-notes", "distributors")
    api = _api(docs_writer)
    at = dt.datetime(2027, 6, 2, 8, 30, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        response = api.post(
            f"{API}/feeds/rotate",
            {"policy": "field-notes", "audience": "distributors"},
            content_type="application/json",
        )
        new = channels.feed_token("field-notes", "distributors")
    assert response.status_code == 200
    base = "https://rd.example.test/notes/feeds/field-notes/distributors"
    assert response.json() == {
        "policy": "field-notes",
        "audience": "distributors",
        "version": 2,
        "rotated_at": "2027-06-02T08:30:00Z",
        "feeds": [
            {
                "audience": "distributors",
                "tier": "partner",
                "locale": "en",
                "url": f"{base}/en.atom?token={new}",
            },
            {
                "audience": "distributors",
                "tier": "partner",
                "locale": "de",
                "url": f"{base}/de.atom?token={new}",
            },
        ],
    }
    assert _get(client, old).status_code == 404
    assert _get(client, new).status_code == 200
    listed = api.get(f"{API}/feeds", {"policy": "field-notes"}).json()
    partner_urls = {f["url"] for f in listed if f["tier"] == "partner"}
    assert all("token=" in url for url in partner_urls)
    assert not any(old in url for url in partner_urls)
    token = next(iter(partner_urls)).split("token=")[1]
    assert _get(client, token).status_code == 200


def test_api_refusals(policy: Any, docs_writer: Any, catalogue: dict[str, Any]) -> None:
    body = {"policy": "field-notes", "audience": "distributors"}

    def post(c: Client, payload: dict[str, str] = body) -> Any:
        return c.post(f"{API}/feeds/rotate", payload, content_type="application/json")

    assert post(Client()).status_code == 401
    read_only = post(_api(docs_writer, scope="read"))
    assert read_only.status_code == 403
    contact = catalogue["oem_x"].contacts.first()
    portal = Client()
    session = portal.session
    session[SESSION_KEY] = contact.pk
    session.save()
    assert post(portal).status_code == 403
    writer = _api(docs_writer)
    unknown_policy = post(writer, {"policy": "nope", "audience": "distributors"})
    assert unknown_policy.status_code == 404
    assert unknown_policy.json()["error"]["fields"] == {"policy": "not found"}
    public = post(writer, {"policy": "field-notes", "audience": "customers"})
    assert public.status_code == 422
    assert public.json()["error"]["fields"] == {"audience": "not a partner audience"}
    assert post(writer, {"policy": "field-notes", "audience": "x" * 65}).status_code == 422
    assert FeedKey.objects.count() == 0


# --- CLI --------------------------------------------------------------------------------------


def test_cli_rotate_feed(client: Client, published: Any, policy: Any, docs_writer: Any) -> None:
    old = channels.feed_token("field-notes", "distributors")
    out = StringIO()
    call_command("notes", "rotate-feed", "field-notes", "distributors", "--as", "docs", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "distributors: feed key now version 2; every earlier URL is revoked"
    assert lines[1].startswith(
        "distributors (partner, en): https://rd.example.test/notes/feeds/field-notes/distributors/en.atom?token="
    )
    assert lines[2].startswith("distributors (partner, de): ")
    new = lines[2].split("token=")[1]
    assert _get(client, old).status_code == 404
    assert _get(client, new).status_code == 200
    event = AuditEvent.objects.get(action="notes.feed_url_rotated")
    assert (event.actor_kind, event.actor_id) == ("staff", docs_writer.pk)
    with pytest.raises(CommandError, match="required: --as"):
        call_command("notes", "rotate-feed", "field-notes", "distributors")
    with pytest.raises(CommandError, match="is public"):
        call_command("notes", "rotate-feed", "field-notes", "customers", "--as", "docs")
    with pytest.raises(CommandError, match="no policy 'nope'"):
        call_command("notes", "rotate-feed", "nope", "distributors", "--as", "docs")


def test_staff_feed_page_lists_urls_and_replaces_a_partner_url(
    client: Client, published: Any, policy: Any, docs_writer: Any, customer_a: Any
) -> None:
    client.force_login(docs_writer)
    old = channels.feed_token("field-notes", "distributors")
    page = client.get("/notes/feeds/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/notes/feeds/field-notes/distributors/de.atom?token={old}" in html
    assert "/notes/feeds/field-notes/customers/" in html  # public: no token, no button
    assert html.count("Replace URLs") == 1  # the one partner audience
    assert FeedKey.objects.count() == 0  # GET writes nothing

    response = client.post(
        "/notes/feeds/rotate/", {"policy": "field-notes", "audience": "distributors"}
    )
    assert response.status_code == 302
    assert _get(Client(), old).status_code == 404
    new = channels.feed_token("field-notes", "distributors")
    assert f"?token={new}" in client.get("/notes/feeds/").content.decode()
    refused = client.post(
        "/notes/feeds/rotate/", {"policy": "field-notes", "audience": "customers"}, follow=True
    )
    assert "only partner feeds have a secret URL to rotate" in refused.content.decode()
    assert FeedKey.objects.get().version == 2

    portal = Client()
    session = portal.session
    session[SESSION_KEY] = customer_a.contacts.first().pk
    session.save()
    assert portal.get("/notes/feeds/").status_code == 404
    assert (
        portal.post(
            "/notes/feeds/rotate/", {"policy": "field-notes", "audience": "distributors"}
        ).status_code
        == 404
    )
    assert FeedKey.objects.get().version == 2
