"""Composition, editing, the sign-off gate and publication through the service layer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from releasedesk.audit.models import AuditEvent
from releasedesk.core.errors import Conflict, PermissionDenied, ValidationFailed
from releasedesk.notes import services
from releasedesk.notes.models import Publication, ReleaseNote
from tests.notes.conftest import INTERNAL_1, INTERNAL_SECRETS, staff

UTC = dt.UTC


def _notes(release: Any) -> dict[tuple[str, str], ReleaseNote]:
    return {(n.audience, n.locale): n for n in ReleaseNote.objects.filter(release=release)}


def test_compose_writes_one_note_per_audience_and_locale(release: Any, docs_writer: Any) -> None:
    notes = services.compose_notes(release=release, actor=staff(docs_writer))
    assert sorted((n.audience, n.tier, n.locale) for n in notes) == [
        ("customers", "public", "de"),
        ("customers", "public", "en"),
        ("distributors", "partner", "de"),
        ("distributors", "partner", "en"),
        ("internal", "internal", "de"),
        ("internal", "internal", "en"),
    ]
    by = _notes(release)
    assert all(n.state == "draft" and n.revision == 1 for n in notes)
    assert by[("customers", "en")].title == "{brand} 7.2.0 — Summer release"
    assert "## New features" in by[("customers", "en")].body
    assert "## Neue Funktionen" in by[("distributors", "de")].body
    # Internal notes only in the internal tier.
    assert INTERNAL_1 in by[("internal", "en")].body
    for key, note in by.items():
        if note.tier != "internal":
            for secret in INTERNAL_SECRETS:
                assert secret not in note.body, (key, secret)
    event = AuditEvent.objects.get(action="notes.composed")
    assert event.scope == f"release:{release.pk}"
    assert event.after is not None
    assert [r["outcome"] for r in event.after["notes"]] == ["created"] * 6


def test_compose_only_some_audiences_and_locales(release: Any, docs_writer: Any) -> None:
    notes = services.compose_notes(
        release=release, actor=staff(docs_writer), audiences=["customers"], locales=["nl"]
    )
    assert [(n.audience, n.locale, n.tier) for n in notes] == [("customers", "nl", "public")]
    assert notes[0].body.startswith("*Releasedatum: 2027-06-15*")


def test_compose_refuses_an_unknown_audience(release: Any, docs_writer: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.compose_notes(release=release, actor=staff(docs_writer), audiences=["press"])
    assert err.value.message == (
        "unknown audience 'press' (the policy 'field-notes' has: customers, distributors, internal)"
    )
    assert not ReleaseNote.objects.exists()


def test_recompose_follows_changes_until_someone_edits(release: Any, docs_writer: Any) -> None:
    from releasedesk.releases.schemas import ChangeItemData
    from releasedesk.releases.services import add_change

    services.compose_notes(release=release, actor=staff(docs_writer))
    edited = _notes(release)[("customers", "de")]
    services.edit_note(
        note=edited,
        actor=staff(docs_writer),
        user=docs_writer,
        title="Hand title",
        body="Hand body",
    )
    add_change(
        release=release,
        actor=staff(docs_writer),
        data=ChangeItemData(kind="ux", title="Bigger buttons", customer_note="Easier to tap."),
    )
    services.compose_notes(release=release, actor=staff(docs_writer))
    by = _notes(release)
    assert "- **Bigger buttons** — Easier to tap." in by[("customers", "en")].body
    assert by[("customers", "en")].revision == 2
    assert by[("customers", "de")].body == "Hand body\n"  # edited by hand: kept
    last = AuditEvent.objects.filter(action="notes.composed").order_by("-id")[0].after
    assert last is not None
    outcomes = {(r["audience"], r["locale"]): r["outcome"] for r in last["notes"]}
    assert outcomes[("customers", "de")] == "kept"
    assert outcomes[("customers", "en")] == "recomposed"


def test_pasting_an_internal_note_into_public_notes_is_refused(
    release: Any, docs_writer: Any
) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    with pytest.raises(ValidationFailed) as err:
        services.edit_note(
            note=note,
            actor=staff(docs_writer),
            user=docs_writer,
            title=note.title,
            body=note.body + "\nBackground: " + INTERNAL_1.upper(),
        )
    assert err.value.fields == {"body": "contains the internal note of 'Offline maps'"}
    note.refresh_from_db()
    assert note.revision == 1
    assert INTERNAL_1 not in note.body
    # The internal note may say it.
    internal = _notes(release)[("internal", "en")]
    services.edit_note(
        note=internal,
        actor=staff(docs_writer),
        user=docs_writer,
        title=internal.title,
        body=internal.body + "\nAgain: " + INTERNAL_1,
    )


def test_sign_off_needs_a_sign_off_role(release: Any, docs_writer: Any, delivery: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    with pytest.raises(PermissionDenied) as err:
        services.sign_off_note(note=note, actor=staff(delivery), user=delivery)
    assert err.value.message == (
        "signing off release notes needs one of the roles product_manager, customer_success_lead, docs"
    )
    note.refresh_from_db()
    assert note.state == "draft"
    assert note.signed_off_by is None


def test_unsigned_notes_cannot_be_published(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    with pytest.raises(Conflict) as err:
        services.publish_note(note=note, actor=staff(docs_writer))
    assert err.value.message == (
        "the customers/en notes of 7.2.0 are not signed off; a person with one of the roles "
        "product_manager, customer_success_lead, docs must sign them off first"
    )
    note.refresh_from_db()
    assert note.state == "draft"
    assert note.published_at is None
    assert not Publication.objects.exists()


def test_the_database_refuses_a_publication_without_sign_off(
    release: Any, docs_writer: Any
) -> None:
    from django.db import IntegrityError, transaction

    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    with pytest.raises(IntegrityError), transaction.atomic():
        ReleaseNote.objects.filter(pk=note.pk).update(
            state="published", published_at=dt.datetime(2027, 6, 1, tzinfo=UTC)
        )


def test_sign_off_then_publish_with_exact_times(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    with time_machine.travel(dt.datetime(2027, 6, 1, 8, 0, tzinfo=UTC), tick=False):
        services.sign_off_note(
            note=note, actor=staff(docs_writer), user=docs_writer, expected_revision=1
        )
    with time_machine.travel(dt.datetime(2027, 6, 1, 9, 30, tzinfo=UTC), tick=False):
        pubs = services.publish_note(note=note, actor=staff(docs_writer))
    note.refresh_from_db()
    assert note.state == "published"
    assert note.signed_off_by == docs_writer
    assert note.signed_off_role == "docs"
    assert note.signed_off_at == dt.datetime(2027, 6, 1, 8, 0, tzinfo=UTC)
    assert note.published_at == dt.datetime(2027, 6, 1, 9, 30, tzinfo=UTC)
    assert [(p.channel, p.state) for p in pubs] == [("docs_portal", "done"), ("atom_feed", "done")]
    assert {p.key for p in pubs} == {
        f"notes:n{note.pk}:docs_portal:r1",
        f"notes:n{note.pk}:atom_feed:r1",
    }
    actions = list(
        AuditEvent.objects.filter(object_type="notes.releasenote", object_id=str(note.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["notes.signed_off", "notes.published"]
    # Publishing again adds nothing (each revision goes to each channel once).
    assert services.publish_note(note=note, actor=staff(docs_writer)) == []


def test_a_stale_revision_is_refused(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    services.edit_note(note=note, actor=staff(docs_writer), user=docs_writer, title="T", body="B")
    with pytest.raises(Conflict) as err:
        services.sign_off_note(
            note=note.pk, actor=staff(docs_writer), user=docs_writer, expected_revision=1
        )
    assert err.value.message == "the note changed meanwhile (revision 2, you had 1); reload it"


def test_editing_signed_off_notes_voids_the_sign_off(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    note = services.edit_note(
        note=note, actor=staff(docs_writer), user=docs_writer, title=note.title, body="New text"
    )
    assert (note.state, note.revision, note.signed_off_by, note.signed_off_at) == (
        "draft",
        2,
        None,
        None,
    )
    with pytest.raises(Conflict):
        services.publish_note(note=note, actor=staff(docs_writer))


def test_published_notes_are_final(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    services.publish_note(note=note, actor=staff(docs_writer), channels=["atom_feed"])
    with pytest.raises(Conflict) as err:
        services.edit_note(
            note=note, actor=staff(docs_writer), user=docs_writer, title="x", body="y"
        )
    assert err.value.message == (
        "the customers/en notes of 7.2.0 are published and can no longer be edited"
    )


def test_internal_notes_never_go_to_an_outside_channel(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("internal", "en")]
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    for channel in ("docs_portal", "atom_feed", "knowledge_base", "newsletter"):
        with pytest.raises(ValidationFailed) as err:
            services.publish_note(note=note, actor=staff(docs_writer), channels=[channel])
        assert err.value.fields == {"channels": "none allowed for the internal tier"}
    # Published inside ReleaseDesk only (the default for the internal tier).
    assert services.publish_note(note=note, actor=staff(docs_writer)) == []
    note.refresh_from_db()
    assert note.state == "published"


def test_unknown_channel_and_unconfigured_knowledge_base(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    with pytest.raises(ValidationFailed) as err:
        services.publish_note(note=note, actor=staff(docs_writer), channels=["fax"])
    assert err.value.message == (
        "unknown channel(s) 'fax' (allowed: docs_portal, atom_feed, knowledge_base, newsletter)"
    )
    with pytest.raises(ValidationFailed) as err:
        services.publish_note(note=note, actor=staff(docs_writer), channels=["knowledge_base"])
    assert err.value.fields == {"channels": "knowledge_base is not configured"}
    note.refresh_from_db()
    assert note.state == "signed_off"


def test_a_change_item_edited_after_sign_off_cannot_leak_at_publication(
    release: Any, docs_writer: Any
) -> None:
    """The check runs again at publication: an internal note added later to a change whose
    text the public notes already contain blocks the publication."""
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("customers", "en")]
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    change = release.changes.get(title="Hardened the upload form")
    # Someone marks the customer text as internal after the sign-off.
    type(change).objects.filter(pk=change.pk).update(
        customer_note="", internal_note="Uploads are checked more strictly."
    )
    with pytest.raises(ValidationFailed):
        services.publish_note(note=note, actor=staff(docs_writer))


def test_newsletter_channel_is_left_for_the_outbox(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _notes(release)[("distributors", "en")]
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    with time_machine.travel(dt.datetime(2027, 6, 1, 7, 0, tzinfo=UTC), tick=False):
        (pub,) = services.publish_note(note=note, actor=staff(docs_writer), channels=["newsletter"])
    assert (pub.channel, pub.state, pub.due_at) == (
        "newsletter",
        "pending",
        dt.datetime(2027, 6, 1, 7, 0, tzinfo=UTC),
    )
    assert services.handle_one_publication() is False  # not delivered by the notes app


def test_publish_audience_fails_closed_until_every_locale_is_signed_off(
    release: Any, docs_writer: Any
) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    by = _notes(release)
    services.sign_off_note(note=by[("customers", "en")], actor=staff(docs_writer), user=docs_writer)
    with pytest.raises(Conflict) as err:
        services.publish_audience(release=release, audience="customers", actor=staff(docs_writer))
    assert err.value.message == (
        "the 'customers' notes of 7.2.0 are not signed off in: de; nothing was published"
    )
    assert not ReleaseNote.objects.filter(state="published").exists()
    services.sign_off_note(note=by[("customers", "de")], actor=staff(docs_writer), user=docs_writer)
    pubs = services.publish_audience(
        release=release, audience="customers", actor=staff(docs_writer), channels=["atom_feed"]
    )
    assert sorted(p.key for p in pubs) == sorted(
        f"notes:n{by[('customers', loc)].pk}:atom_feed:r1" for loc in ("de", "en")
    )
    with pytest.raises(Conflict) as err:
        services.publish_audience(release=release, audience="press", actor=staff(docs_writer))
    assert err.value.fields == {"audience": "no notes"}
