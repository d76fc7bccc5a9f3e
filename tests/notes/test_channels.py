"""Channels: docs-portal files on disk, the signed knowledge-base webhook against a loopback
fake, white-label exports, and the Atom feeds read by feedparser."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
import time_machine

from releasedesk.audit.models import AuditEvent
from releasedesk.notes import channels, services
from releasedesk.notes.models import Publication, ReleaseNote
from tests.notes.conftest import INTERNAL_SECRETS, staff

UTC = dt.UTC
SECRET = "whsec_" + base64.b64encode(b"kb-test-secret-0123456789abcdef").decode()


# --- a loopback knowledge base ------------------------------------------------------------


class FakeKnowledgeBase:
    """Accepts Standard Webhooks posts, verifies each signature itself and answers with the
    next status of `statuses` (the last one repeats)."""

    def __init__(self, secret: str) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = [200]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                msg_id = self.headers["webhook-id"]
                ts = self.headers["webhook-timestamp"]
                expected = base64.b64encode(
                    hmac.new(fake.key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
                ).decode()
                given = [s.split(",", 1)[1] for s in self.headers["webhook-signature"].split()]
                valid = any(hmac.compare_digest(expected, g) for g in given)
                fake.received.append(
                    {"id": msg_id, "timestamp": ts, "valid": valid, "json": json.loads(body)}
                )
                status = fake.statuses.pop(0) if len(fake.statuses) > 1 else fake.statuses[0]
                self.send_response(status if valid else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/releases"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kb(settings: Any) -> Iterator[FakeKnowledgeBase]:
    fake = FakeKnowledgeBase(SECRET)
    settings.NOTES_KB_WEBHOOK_URL = fake.url
    settings.NOTES_KB_WEBHOOK_SECRET = SECRET
    yield fake
    fake.close()


def _note(release: Any, audience: str, locale: str = "en") -> ReleaseNote:
    return ReleaseNote.objects.get(release=release, audience=audience, locale=locale)


def _signed(release: Any, user: Any, audience: str, locale: str = "en") -> ReleaseNote:
    services.compose_notes(release=release, actor=staff(user))
    note = _note(release, audience, locale)
    services.sign_off_note(note=note, actor=staff(user), user=user)
    return note


# --- docs portal export ---------------------------------------------------------------------


def test_docs_export_writes_markdown_html_and_index(
    release: Any, docs_writer: Any, export_dir: Path, publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    base = export_dir / "field-notes" / "customers" / "en"
    assert sorted(p.name for p in base.iterdir()) == [
        "7.2.0.html",
        "7.2.0.md",
        "index.html",
        "index.md",
    ]
    md = (base / "7.2.0.md").read_text()
    assert md.startswith("# Field Suite 7.2.0 — Summer release\n\n*Release date: 2027-06-15*\n")
    assert "- **Offline maps** — Maps now work without a connection." in md
    html = (base / "7.2.0.html").read_text()
    assert "<title>Field Suite 7.2.0 — Summer release</title>" in html
    assert "<li><strong>Offline maps</strong> — Maps now work without a connection.</li>" in html
    assert (base / "index.md").read_text() == (
        "# Release notes\n\n- [Field Suite 7.2.0 — Summer release](7.2.0.html)\n"
    )
    # Partner notes go to their feed by default, internal notes nowhere: only public files.
    assert sorted(p.name for p in (export_dir / "field-notes").iterdir()) == ["customers"]
    for path in export_dir.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for secret in INTERNAL_SECRETS:
                assert secret not in text, (path, secret)
    pub = Publication.objects.get(note=_note(release, "customers"), channel="docs_portal")
    assert pub.details["files"] == [
        "field-notes/customers/en/7.2.0.html",
        "field-notes/customers/en/7.2.0.md",
        "field-notes/customers/en/index.html",
        "field-notes/customers/en/index.md",
    ]


def test_docs_index_lists_newest_version_first(
    make_release: Callable[..., Any],
    docs_writer: Any,
    export_dir: Path,
    publish_all: Callable[..., Any],
) -> None:
    publish_all(make_release("7.9.0", target_date=dt.date(2027, 3, 2), title=""))
    publish_all(make_release("7.10.0", target_date=dt.date(2027, 4, 6), title=""))
    index = (export_dir / "field-notes" / "customers" / "de" / "index.md").read_text()
    assert index == (
        "# Versionshinweise\n\n"
        "- [Field Suite 7.10.0](7.10.0.html)\n"
        "- [Field Suite 7.9.0](7.9.0.html)\n"
    )


def test_an_unwritable_export_dir_retries_with_backoff(
    release: Any, docs_writer: Any, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings.NOTES_EXPORT_DIR = blocker / "docs"
    note = _signed(release, docs_writer, "customers")
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 0, tzinfo=UTC), tick=False):
        pubs = services.publish_note(note=note, actor=staff(docs_writer), channels=["docs_portal"])
    (pub,) = pubs
    assert pub.state == "pending"
    assert pub.attempts == 1
    assert pub.due_at == dt.datetime(2027, 6, 1, 9, 0, 30, tzinfo=UTC)
    assert pub.last_error.startswith("cannot write the export: ")
    settings.NOTES_EXPORT_DIR = tmp_path / "docs"
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 0, 29, tzinfo=UTC), tick=False):
        assert services.handle_one_publication() is False  # not due yet
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 0, 30, tzinfo=UTC), tick=False):
        assert services.handle_one_publication() is True
    pub.refresh_from_db()
    assert (pub.state, pub.attempts, pub.last_error) == ("done", 2, "")
    assert pub.delivered_at == dt.datetime(2027, 6, 1, 9, 0, 30, tzinfo=UTC)
    assert (tmp_path / "docs" / "field-notes" / "customers" / "en" / "7.2.0.md").exists()


# --- knowledge base -------------------------------------------------------------------------


def test_kb_post_is_signed_and_verified_by_the_receiver(
    release: Any, docs_writer: Any, kb: FakeKnowledgeBase
) -> None:
    note = _signed(release, docs_writer, "customers")
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 0, tzinfo=UTC), tick=False):
        pubs = services.publish_note(
            note=note, actor=staff(docs_writer), channels=["knowledge_base"]
        )
    (pub,) = pubs
    assert (pub.state, pub.attempts, pub.details["status"]) == ("done", 1, 200)
    (got,) = kb.received
    assert got["valid"] is True
    assert got["id"] == channels.webhook_id(f"notes:n{note.pk}:knowledge_base:r1")
    assert got["id"] == pub.details["webhook_id"]
    assert got["timestamp"] == str(int(dt.datetime(2027, 6, 1, 9, 0, tzinfo=UTC).timestamp()))
    data = got["json"]["data"]
    assert got["json"]["type"] == "release_notes.published"
    assert (data["release"], data["audience"], data["tier"], data["locale"]) == (
        "7.2.0",
        "customers",
        "public",
        "en",
    )
    assert data["title"] == "Field Suite 7.2.0 — Summer release"
    body = json.dumps(got["json"])
    for secret in INTERNAL_SECRETS:
        assert secret not in body
    assert (
        AuditEvent.objects.filter(
            action="notes.publication_delivered", object_id=str(pub.pk)
        ).count()
        == 1
    )


def test_kb_retry_carries_the_same_webhook_id(
    release: Any, docs_writer: Any, kb: FakeKnowledgeBase
) -> None:
    kb.statuses = [503, 200]
    note = _signed(release, docs_writer, "customers")
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 0, tzinfo=UTC), tick=False):
        (pub,) = services.publish_note(
            note=note, actor=staff(docs_writer), channels=["knowledge_base"]
        )
    assert (pub.state, pub.last_error) == ("pending", "knowledge base answered HTTP 503")
    assert pub.due_at == dt.datetime(2027, 6, 1, 9, 0, 30, tzinfo=UTC)
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 1, tzinfo=UTC), tick=False):
        pub = services.deliver_kb_post(pub)
    assert (pub.state, pub.attempts) == ("done", 2)
    assert [r["id"] for r in kb.received] == [kb.received[0]["id"]] * 2
    assert all(r["valid"] for r in kb.received)


def test_kb_rejection_fails_permanently_and_can_be_retried(
    release: Any, docs_writer: Any, kb: FakeKnowledgeBase
) -> None:
    kb.statuses = [422, 200]
    note = _signed(release, docs_writer, "customers")
    (pub,) = services.publish_note(note=note, actor=staff(docs_writer), channels=["knowledge_base"])
    assert (pub.state, pub.last_error) == ("failed", "knowledge base answered HTTP 422")
    assert AuditEvent.objects.filter(action="notes.publication_failed").count() == 1
    pub = services.retry_publication(publication=pub, actor=staff(docs_writer))
    assert (pub.state, pub.attempts) == ("pending", 0)
    pub = services.deliver_publication(pub)
    assert pub.state == "done"


def test_a_wrong_secret_is_caught_by_the_receiver(
    release: Any, docs_writer: Any, kb: FakeKnowledgeBase, settings: Any
) -> None:
    settings.NOTES_KB_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"some-other-secret").decode()
    note = _signed(release, docs_writer, "customers")
    (pub,) = services.publish_note(note=note, actor=staff(docs_writer), channels=["knowledge_base"])
    assert kb.received[0]["valid"] is False
    assert (pub.state, pub.last_error) == ("failed", "knowledge base answered HTTP 401")


def test_kb_unreachable_is_temporary(
    release: Any, docs_writer: Any, kb: FakeKnowledgeBase, settings: Any
) -> None:
    kb.close()
    note = _signed(release, docs_writer, "customers")
    (pub,) = services.publish_note(note=note, actor=staff(docs_writer), channels=["knowledge_base"])
    assert pub.state == "pending"
    assert pub.last_error.startswith("knowledge base unreachable: ConnectError")


def test_signature_matches_the_standard_webhooks_example() -> None:
    # The example of the Standard Webhooks specification (svix test vector).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert channels.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


# --- white label ----------------------------------------------------------------------------


def test_white_label_variant_uses_the_oem_name(
    release: Any,
    docs_writer: Any,
    catalogue: dict[str, Any],
    export_dir: Path,
    publish_all: Callable[..., Any],
) -> None:
    publish_all(release)
    note = _note(release, "distributors", "de")
    pub = services.publish_white_label(
        note=note, customer=catalogue["oem_x"], actor=staff(docs_writer)
    )
    assert pub.state == "done"
    md = (export_dir / "white-label" / "lernwerk" / "de" / "7.2.0.md").read_text()
    assert md.startswith("# Lernwerk Platform 7.2.0 — Summer release\n")
    assert "Field Suite" not in md
    for secret in INTERNAL_SECRETS:
        assert secret not in md


# --- Atom feeds -----------------------------------------------------------------------------


def test_public_feed_is_open_and_parses(
    client: Any, release: Any, docs_writer: Any, publish_all: Callable[..., Any]
) -> None:
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 0, tzinfo=UTC), tick=False):
        publish_all(release)
    response = client.get("/notes/feeds/field-notes/customers/en.atom")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0
    assert feed.version == "atom10"
    (entry,) = feed.entries
    note = _note(release, "customers")
    assert entry.title == "Field Suite 7.2.0 — Summer release"
    assert entry.link == f"https://rd.example.test/notes/published/{note.pk}/"
    assert entry.published_parsed[:5] == (2027, 6, 1, 9, 0)
    assert "<strong>Offline maps</strong>" in entry.summary
    for secret in INTERNAL_SECRETS:
        assert secret not in response.content.decode()


def test_partner_feed_needs_its_signed_token(
    client: Any, release: Any, docs_writer: Any, publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    url = "/notes/feeds/field-notes/distributors/de.atom"
    assert client.get(url).status_code == 404
    assert client.get(url + "?token=forged").status_code == 404
    other = channels.feed_token("field-notes", "customers")
    assert client.get(url + f"?token={other}").status_code == 404
    response = client.get(url + "?token=" + channels.feed_token("field-notes", "distributors"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0
    (entry,) = feed.entries
    assert entry.title == "Field Suite 7.2.0 — Summer release"
    assert "Neue Funktionen" in entry.summary
    for secret in INTERNAL_SECRETS:
        assert secret not in response.content.decode()


def test_internal_audience_has_no_feed(
    client: Any, release: Any, docs_writer: Any, publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    assert client.get("/notes/feeds/field-notes/internal/en.atom").status_code == 404
    token = channels.feed_token("field-notes", "internal")
    assert client.get(f"/notes/feeds/field-notes/internal/en.atom?token={token}").status_code == 404
    assert client.get("/notes/feeds/no-such-policy/customers/en.atom").status_code == 404


def test_feed_shows_only_published_notes(client: Any, release: Any, docs_writer: Any) -> None:
    _signed(release, docs_writer, "customers")  # signed off, not published
    feed = feedparser.parse(client.get("/notes/feeds/field-notes/customers/en.atom").content)
    assert feed.bozo == 0
    assert feed.entries == []


def test_public_note_page(
    client: Any, release: Any, docs_writer: Any, publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    public = _note(release, "customers")
    partner = _note(release, "distributors")
    internal = _note(release, "internal")
    page = client.get(f"/notes/published/{public.pk}/")
    assert page.status_code == 200
    assert "Field Suite 7.2.0 — Summer release" in page.content.decode()
    assert client.get(f"/notes/published/{partner.pk}/").status_code == 404
    assert client.get(f"/notes/published/{internal.pk}/").status_code == 404
