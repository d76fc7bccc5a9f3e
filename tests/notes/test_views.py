"""Staff pages: list, release notes page, edit with preview, sign-off, publish; the release
page include; anonymous and portal contacts are kept out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.template import Context, Template
from django.test import Client

from releasedesk.audit.models import AuditEvent
from releasedesk.notes import services
from releasedesk.notes.models import ReleaseNote
from releasedesk.portal.auth import SESSION_KEY
from tests.notes.conftest import INTERNAL_1, staff


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _note(release: Any, audience: str, locale: str = "en") -> ReleaseNote:
    return ReleaseNote.objects.get(release=release, audience=audience, locale=locale)


def test_compose_edit_preview_sign_off_publish_through_the_pages(
    release: Any, docs_writer: Any, export_dir: Path
) -> None:
    client = _client(docs_writer)
    page = client.get(f"/notes/releases/{release.pk}/")
    assert page.status_code == 200
    assert "Compose from change items" in page.content.decode()
    response = client.post(f"/notes/releases/{release.pk}/compose/")
    assert response.status_code == 302
    assert ReleaseNote.objects.filter(release=release).count() == 6
    note = _note(release, "customers")
    edit = client.get(f"/notes/{note.pk}/")
    assert edit.status_code == 200
    text = edit.content.decode()
    assert "Field Suite 7.2.0 — Summer release" in text  # the preview
    assert "Sign off revision 1" in text
    preview = client.post(
        f"/notes/{note.pk}/preview/",
        {"title": "{brand} 7.2", "body": "Hi <script>x()</script> [a](javascript:y())"},
    )
    assert preview.status_code == 200
    assert "<h1>Field Suite 7.2</h1>" in preview.content.decode()
    assert "<script>" not in preview.content.decode()
    note.refresh_from_db()
    assert note.revision == 1  # previews change nothing
    leak = client.post(f"/notes/{note.pk}/preview/", {"title": "t", "body": INTERNAL_1})
    assert "contains the internal note of “Offline maps”" in leak.content.decode()
    saved = client.post(
        f"/notes/{note.pk}/", {"title": note.title, "body": note.body + "\nMore.\n", "revision": 1}
    )
    assert saved.status_code == 302
    refused = client.post(
        f"/notes/{note.pk}/", {"title": note.title, "body": INTERNAL_1, "revision": 2}
    )
    assert refused.status_code == 422
    assert "internal notes never reach a non-internal audience" in refused.content.decode()
    assert (
        client.post(f"/notes/{note.pk}/publish/", {"channels": ["docs_portal"]}).status_code == 302
    )
    note.refresh_from_db()
    assert note.state == "draft"  # refused: not signed off
    assert client.post(f"/notes/{note.pk}/sign-off/", {"revision": 2}).status_code == 302
    assert (
        client.post(
            f"/notes/{note.pk}/publish/", {"channels": ["docs_portal", "atom_feed"]}
        ).status_code
        == 302
    )
    note.refresh_from_db()
    assert note.state == "published"
    assert (export_dir / "field-notes/customers/en/7.2.0.md").read_text().endswith("More.\n")
    detail = client.get(f"/notes/{note.pk}/").content.decode()
    assert "Published notes are final." in detail
    assert "field-notes/customers/en/7.2.0.md" in detail
    assert list(
        AuditEvent.objects.filter(scope=f"release:{release.pk}", action__startswith="notes.")
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [
        "notes.composed",
        "notes.edited",
        "notes.signed_off",
        "notes.published",
        "notes.publication_delivered",
    ]


def test_list_page_filters_by_state(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    client = _client(docs_writer)
    assert client.get("/notes/").content.decode().count('data-testid="state"') == 6
    assert client.get("/notes/?state=published").content.decode().count('data-testid="state"') == 0


def test_get_never_changes_anything(release: Any, docs_writer: Any) -> None:
    client = _client(docs_writer)
    for url in (f"/notes/releases/{release.pk}/compose/",):
        assert client.get(url).status_code == 405
    assert not ReleaseNote.objects.exists()
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _note(release, "customers")
    assert client.get(f"/notes/{note.pk}/sign-off/").status_code == 405
    assert client.get(f"/notes/{note.pk}/publish/").status_code == 405
    note.refresh_from_db()
    assert note.state == "draft"


def test_staff_without_sign_off_role_sees_why(
    release: Any, delivery: Any, docs_writer: Any
) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _note(release, "customers")
    client = _client(delivery)
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert (
        "Signing off needs one of the roles: product_manager, customer_success_lead, docs." in page
    )
    client.post(f"/notes/{note.pk}/sign-off/", {"revision": 1})
    note.refresh_from_db()
    assert note.state == "draft"


def test_anonymous_is_sent_to_sign_in_and_contacts_get_404(
    release: Any, docs_writer: Any, catalogue: dict[str, Any]
) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _note(release, "customers")
    anonymous = Client().get(f"/notes/{note.pk}/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/?next=")
    contact = Client()
    session = contact.session
    session[SESSION_KEY] = catalogue["c3_admin"].pk
    session.save()
    assert contact.get("/notes/").status_code == 404
    assert contact.get(f"/notes/{note.pk}/").status_code == 404
    assert contact.post(f"/notes/releases/{release.pk}/compose/").status_code in (403, 404)


def test_release_page_include_lists_the_notes(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer), locales=["en"])
    html = Template('{% include "notes/_release_section.html" with release=release %}').render(
        Context({"release": release})
    )
    assert html.count('badge-warn">Draft') == 3
    assert f'href="/notes/releases/{release.pk}/"' in html
    assert f'href="/notes/{_note(release, "customers").pk}/"' in html
