"""What readers get: the portal, the API, newsletter texts, the notes between a customer's
versions, digests, and the per-OEM documentation decision."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.core.errors import NotFound, ValidationFailed
from releasedesk.notes import selectors, services
from releasedesk.notes.models import Digest, ReleaseNote
from releasedesk.portal.auth import SESSION_KEY
from tests.notes.conftest import INTERNAL_SECRETS, staff

UTC = dt.UTC
API = "/api/v1/notes"


def _portal_client(contact: Any) -> Client:
    client = Client()
    session = client.session
    session[SESSION_KEY] = contact.pk
    session.save()
    return client


def _api(user: Any, scope: str = "write") -> Client:
    raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
    ApiToken.objects.create(
        user=user, name="t", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
    )
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _note(release: Any, audience: str, locale: str = "en") -> ReleaseNote:
    return ReleaseNote.objects.get(release=release, audience=audience, locale=locale)


def _no_secrets(text: str) -> None:
    for secret in INTERNAL_SECRETS:
        assert secret not in text, secret


# --- portal ---------------------------------------------------------------------------------


def test_portal_shows_each_contact_the_notes_of_their_tier_and_locale(
    release: Any, catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    reseller = _portal_client(catalogue["r1_contact"]).get("/notes/portal/")
    assert reseller.status_code == 200
    page = reseller.content.decode()
    partner_de = _note(release, "distributors", "de")
    assert f'href="/notes/portal/{partner_de.pk}/"' in page
    assert "Field Suite 7.2.0 — Summer release" in page
    _no_secrets(page)
    detail = _portal_client(catalogue["r1_contact"]).get(f"/notes/portal/{partner_de.pk}/")
    assert detail.status_code == 200
    assert "Neue Funktionen" in detail.content.decode()
    _no_secrets(detail.content.decode())
    # A direct customer's admin reads the public notes (en: Lakeside's contact wants nl → en).
    lakeside = _portal_client(catalogue["c3_admin"]).get("/notes/portal/").content.decode()
    public_en = _note(release, "customers", "en")
    assert f'href="/notes/portal/{public_en.pk}/"' in lakeside
    assert f'href="/notes/portal/{partner_de.pk}/"' not in lakeside
    # ... and cannot open partner or internal notes.
    client = _portal_client(catalogue["c3_admin"])
    assert client.get(f"/notes/portal/{partner_de.pk}/").status_code == 404
    assert client.get(f"/notes/portal/{_note(release, 'internal').pk}/").status_code == 404


def test_portal_outsider_sees_nothing_and_gets_404(
    release: Any, catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    client = _portal_client(catalogue["d_admin"])
    page = client.get("/notes/portal/").content.decode()
    assert "No release notes have been published for your products yet." in page
    assert client.get(f"/notes/portal/{_note(release, 'customers').pk}/").status_code == 404


def test_portal_needs_sign_in(client: Client) -> None:
    response = client.get("/notes/portal/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/login/"


def test_portal_hides_unpublished_notes(
    release: Any, catalogue: dict[str, Any], docs_writer: Any
) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _note(release, "customers")
    services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
    assert _portal_client(catalogue["c3_admin"]).get(f"/notes/portal/{note.pk}/").status_code == 404


# --- API ------------------------------------------------------------------------------------


def test_api_compose_edit_sign_off_publish(
    release: Any, docs_writer: Any, export_dir: Path
) -> None:
    api = _api(docs_writer)
    response = api.post(
        f"{API}/compose",
        {"release": release.pk, "locales": ["en"]},
        content_type="application/json",
    )
    assert response.status_code == 201
    notes = {n["audience"]: n for n in response.json()}
    assert sorted(notes) == ["customers", "distributors", "internal"]
    public = notes["customers"]
    assert public["rendered_title"] == "Field Suite 7.2.0 — Summer release"
    assert "<strong>Offline maps</strong>" in public["html"]
    publish = api.post(f"{API}/{public['id']}/publish", {}, content_type="application/json")
    assert publish.status_code == 409
    assert publish.json()["error"]["code"] == "conflict"
    edited = api.patch(
        f"{API}/{public['id']}",
        {"title": public["title"], "body": public["body"] + "\nThanks!\n", "revision": 1},
        content_type="application/json",
    )
    assert edited.status_code == 200
    assert edited.json()["revision"] == 2
    stale = api.post(
        f"{API}/{public['id']}/sign-off", {"revision": 1}, content_type="application/json"
    )
    assert stale.status_code == 409
    signed = api.post(
        f"{API}/{public['id']}/sign-off", {"revision": 2}, content_type="application/json"
    )
    assert signed.status_code == 200
    assert signed.json()["state"] == "signed_off"
    out = api.post(
        f"{API}/{public['id']}/publish",
        {"channels": ["docs_portal"]},
        content_type="application/json",
    )
    assert out.status_code == 200
    body = out.json()
    assert body["note"]["state"] == "published"
    assert [(p["channel"], p["state"]) for p in body["publications"]] == [("docs_portal", "done")]
    assert (export_dir / "field-notes/customers/en/7.2.0.md").read_text().endswith("Thanks!\n")
    listed = api.get(f"{API}/{public['id']}/publications").json()
    assert listed["count"] == 1


def test_api_leak_is_422_and_internal_channel_is_422(release: Any, docs_writer: Any) -> None:
    api = _api(docs_writer)
    notes = api.post(
        f"{API}/compose", {"release": release.pk}, content_type="application/json"
    ).json()
    public = next(n for n in notes if n["audience"] == "customers" and n["locale"] == "en")
    leak = api.patch(
        f"{API}/{public['id']}",
        {"title": "x", "body": "Root cause was the SameSite cookie bug in build 4411"},
        content_type="application/json",
    )
    assert leak.status_code == 422
    assert leak.json()["error"]["fields"] == {
        "body": "contains the internal note of 'Login loop fixed'"
    }
    internal = next(n for n in notes if n["audience"] == "internal" and n["locale"] == "en")
    api.post(f"{API}/{internal['id']}/sign-off", {}, content_type="application/json")
    bad = api.post(
        f"{API}/{internal['id']}/publish",
        {"channels": ["atom_feed"]},
        content_type="application/json",
    )
    assert bad.status_code == 422


def test_api_sign_off_without_role_is_403(release: Any, delivery: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    note = _note(release, "customers")
    response = _api(delivery).post(f"{API}/{note.pk}/sign-off", {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_api_read_token_cannot_write(release: Any, docs_writer: Any) -> None:
    response = _api(docs_writer, "read").post(
        f"{API}/compose", {"release": release.pk}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not ReleaseNote.objects.exists()


def test_api_contacts_read_only_their_published_notes(
    release: Any, catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    reseller = _portal_client(catalogue["r1_contact"])
    listed = reseller.get(API, {"limit": 50}).json()
    assert sorted((i["audience"], i["locale"]) for i in listed["items"]) == [
        ("customers", "de"),
        ("customers", "en"),
        ("distributors", "de"),
        ("distributors", "en"),
    ]
    _no_secrets(str(listed))
    lakeside = _portal_client(catalogue["c3_admin"]).get(API).json()
    assert sorted(i["audience"] for i in lakeside["items"]) == ["customers", "customers"]
    internal = _note(release, "internal")
    assert reseller.get(f"{API}/{internal.pk}").status_code == 404
    outsider = _portal_client(catalogue["d_admin"])
    assert outsider.get(API).json()["items"] == []
    assert outsider.get(f"{API}/{_note(release, 'customers').pk}").status_code == 404
    # Contacts cannot write.
    write = reseller.post(
        f"{API}/compose",
        {"release": release.pk},
        content_type="application/json",
        headers={"X-CSRFToken": "x"},
    )
    assert write.status_code in (403, 404)


def test_api_anonymous_is_401_and_bounds_are_422(release: Any, docs_writer: Any) -> None:
    assert Client().get(API).status_code == 401
    api = _api(docs_writer)
    assert api.get(f"{API}/0").status_code == 422
    assert api.get(f"{API}/99999999999").status_code == 422
    assert api.get(API, {"state": "bogus"}).status_code == 422
    assert api.get(API, {"limit": 100000}).status_code == 422


def test_api_list_query_count_does_not_grow(
    make_release: Callable[..., Any], docs_writer: Any
) -> None:
    api = _api(docs_writer)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(API, {"limit": 200})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    services.compose_notes(release=make_release("7.0.0"), actor=staff(docs_writer))
    few = count()
    for i in range(5):
        services.compose_notes(release=make_release(f"7.1.{i}"), actor=staff(docs_writer))
    assert count() <= few


def test_api_feeds_lists_public_and_tokenised_partner_urls(policy: Any, docs_writer: Any) -> None:
    from releasedesk.notes.channels import feed_token

    feeds = _api(docs_writer).get(f"{API}/feeds", {"policy": "field-notes"}).json()
    token = feed_token("field-notes", "distributors")
    assert feeds == [
        {
            "audience": "distributors",
            "tier": "partner",
            "locale": "en",
            "url": f"https://rd.example.test/notes/feeds/field-notes/distributors/en.atom?token={token}",
        },
        {
            "audience": "distributors",
            "tier": "partner",
            "locale": "de",
            "url": f"https://rd.example.test/notes/feeds/field-notes/distributors/de.atom?token={token}",
        },
        {
            "audience": "customers",
            "tier": "public",
            "locale": "en",
            "url": "https://rd.example.test/notes/feeds/field-notes/customers/en.atom",
        },
        {
            "audience": "customers",
            "tier": "public",
            "locale": "de",
            "url": "https://rd.example.test/notes/feeds/field-notes/customers/de.atom",
        },
    ]


# --- newsletter -----------------------------------------------------------------------------


def test_newsletter_messages_per_audience_with_exact_recipients(
    release: Any, catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    partner = selectors.newsletter_messages(release, "distributors")
    # Partners: the reseller's contact (de) and the OEMs' contacts (they use Field Suite on
    # their white-label instances), ordered by organisation name.
    assert [(m[0], m[1]) for m in partner] == [
        (catalogue["r1_contact"].pk, "Versionshinweise: Field Suite 7.2.0 — Summer release"),
        (catalogue["y_contact"].pk, "Release notes: Field Suite 7.2.0 — Summer release"),
        (catalogue["x_contact"].pk, "Versionshinweise: Field Suite 7.2.0 — Summer release"),
    ]
    public = selectors.newsletter_messages(release, "customers")
    # Admins of every customer using Field Suite: C2 (de) and C3 (nl → en); not C2's
    # technical contact, not C3's unreachable admin, not D.
    assert [(m[0], m[1]) for m in public] == [
        (catalogue["c2_admin"].pk, "Versionshinweise: Field Suite 7.2.0 — Summer release"),
        (catalogue["c3_admin"].pk, "Release notes: Field Suite 7.2.0 — Summer release"),
    ]
    _contact_id, _subject, text, html = public[1]
    assert text.startswith("Field Suite 7.2.0 — Summer release\n\n*Release date: 2027-06-15*")
    assert html.startswith("<h1>Field Suite 7.2.0 — Summer release</h1>\n<p><em>Release date")
    for message in partner + public:
        _no_secrets(message[2] + message[3])


def test_newsletter_refuses_internal_and_unpublished(release: Any, docs_writer: Any) -> None:
    services.compose_notes(release=release, actor=staff(docs_writer))
    with pytest.raises(ValidationFailed):
        selectors.newsletter_messages(release, "internal")
    with pytest.raises(NotFound) as err:
        selectors.newsletter_messages(release, "customers")
    assert err.value.message == "release 7.2.0 has no published notes for 'customers'"


# --- versions between -----------------------------------------------------------------------


def test_notes_of_every_version_between_current_and_target(
    make_release: Callable[..., Any], catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    for version, day in (("7.0.0", 5), ("7.1.0", 12), ("7.1.1", 19), ("7.2.0", 26), ("7.10.0", 27)):
        publish_all(make_release(version, target_date=dt.date(2027, 5, day), title=""))
    # C3 on field-cloud at 7.0.0 (public notes, en); target 7.2.0.
    (step,) = selectors.notes_between(catalogue["c3"], target_version="7.2.0")
    assert (step.product, step.instance, step.current_version, step.target_version) == (
        "field-suite",
        "field-cloud",
        "7.0.0",
        "7.2.0",
    )
    assert [(n.release.version, n.audience, n.locale) for n in step.notes] == [
        ("7.1.0", "customers", "en"),
        ("7.1.1", "customers", "en"),
        ("7.2.0", "customers", "en"),
    ]
    # OEM Y's white-label instance is at 7.1.0: partner notes, up to the newest (7.10.0).
    (step,) = selectors.notes_between(catalogue["oem_y"])
    assert step.instance == "edunova-connect"
    assert step.target_version == "7.10.0"
    assert [(n.release.version, n.tier) for n in step.notes] == [
        ("7.1.1", "partner"),
        ("7.2.0", "partner"),
        ("7.10.0", "partner"),
    ]


def test_notes_between_through_the_api_and_for_contacts(
    make_release: Callable[..., Any],
    catalogue: dict[str, Any],
    publish_all: Callable[..., Any],
    docs_writer: Any,
) -> None:
    publish_all(make_release("7.1.0", target_date=dt.date(2027, 5, 12)))
    body = _api(docs_writer).get(f"{API}/customers/lakeside/between").json()
    assert [(s["instance"], s["current_version"], s["target_version"]) for s in body] == [
        ("field-cloud", "7.0.0", "7.1.0")
    ]
    assert [n["version"] for n in body[0]["notes"]] == ["7.1.0"]
    _no_secrets(str(body))
    lara = _portal_client(catalogue["c3_admin"])
    assert lara.get(f"{API}/customers/lakeside/between").status_code == 200
    assert lara.get(f"{API}/customers/alpine-field/between").status_code == 404


# --- digest ---------------------------------------------------------------------------------


def test_digest_of_a_four_week_period_in_the_policy_zone(
    make_release: Callable[..., Any],
    docs_writer: Any,
    export_dir: Path,
    publish_all: Callable[..., Any],
    policy: Any,
) -> None:
    def at(moment: dt.datetime, version: str) -> None:
        with time_machine.travel(moment, tick=False):
            publish_all(make_release(version, target_date=moment.date(), title=""))

    at(dt.datetime(2027, 1, 5, 22, 59, tzinfo=UTC), "7.0.0")  # 2027-01-05 23:59 CET: before
    at(dt.datetime(2027, 1, 5, 23, 0, tzinfo=UTC), "7.1.0")  # 2027-01-06 00:00 CET: first day
    at(dt.datetime(2027, 1, 20, 9, 0, tzinfo=UTC), "7.2.0")
    at(dt.datetime(2027, 2, 2, 22, 59, tzinfo=UTC), "7.3.0")  # 2027-02-02 23:59 CET: last day
    at(dt.datetime(2027, 2, 2, 23, 0, tzinfo=UTC), "7.4.0")  # 2027-02-03 00:00 CET: next period
    start, end = selectors.digest_period(dt.date(2027, 1, 6), 4, dt.date(2027, 1, 20))
    digest = services.publish_digest(
        policy=policy,
        audience="customers",
        locale="en",
        period_start=start,
        period_end=end,
        actor=staff(docs_writer),
    )
    assert [n.release.version for n in digest.notes.order_by("published_at")] == [
        "7.1.0",
        "7.2.0",
        "7.3.0",
    ]
    assert digest.title == "Release notes digest 2027-01-06 to 2027-02-02"
    assert digest.body.startswith(
        "*Period: 2027-01-06 to 2027-02-02*\n\n## Field Suite 7.1.0\n\n*Release date: 2027-01-05*\n\n### New features\n"
    )
    _no_secrets(digest.body)
    path = export_dir / "field-notes/customers/en/digests/2027-01-06_2027-02-02.md"
    assert path.read_text().startswith("# Release notes digest 2027-01-06 to 2027-02-02\n")
    assert (export_dir / "field-notes/customers/en/digests/index.md").exists()
    # Asking again returns the same digest and writes nothing new.
    again = services.publish_digest(
        policy=policy,
        audience="customers",
        locale="en",
        period_start=start,
        period_end=end,
        actor=staff(docs_writer),
    )
    assert again.pk == digest.pk
    assert Digest.objects.count() == 1


def test_digest_refuses_internal_audience(policy: Any, docs_writer: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.publish_digest(
            policy=policy,
            audience="internal",
            locale="en",
            period_start=dt.date(2027, 1, 6),
            period_end=dt.date(2027, 2, 2),
            actor=staff(docs_writer),
        )
    assert err.value.fields == {"audience": "internal tier"}


def test_empty_digest_says_so(policy: Any, docs_writer: Any) -> None:
    digest = services.publish_digest(
        policy=policy,
        audience="customers",
        locale="de",
        period_start=dt.date(2027, 1, 6),
        period_end=dt.date(2027, 2, 2),
        actor=staff(docs_writer),
    )
    assert digest.body == (
        "*Zeitraum: 2027-01-06 to 2027-02-02*\n\n"
        "In diesem Zeitraum wurden keine Versionshinweise veröffentlicht.\n"
    )


# --- white label and documentation responsibility (S2 step 3) --------------------------------


def test_documentation_decision_per_oem(release: Any, catalogue: dict[str, Any]) -> None:
    decisions = selectors.documentation_decisions(release)
    assert [(d.customer_id, d.action) for d in decisions] == [
        (catalogue["oem_y"].pk, "vendor_task"),
        (catalogue["oem_x"].pk, "oem_notice"),
    ]
    assert (
        decisions[1].reason
        == "Lernwerk GmbH updates its own white-label documentation (contract setting)"
    )
    assert decisions[0].reason == (
        "the vendor's docs team updates EduNova Ltd's white-label documentation (contract setting)"
    )
    catalogue["oem_y"].contract_overrides = {}
    assert selectors.documentation_decision(catalogue["oem_y"]).reason == (
        "the vendor's docs team updates EduNova Ltd's white-label documentation (default)"
    )


def test_oem_notice_carries_the_notes_under_the_oem_name(
    release: Any, catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    subject, text, html = selectors.oem_docs_notice(release, catalogue["oem_x"])
    assert subject == "Dokumentation aktualisieren: Lernwerk Platform 7.2.0 — Summer release"
    assert text.startswith(
        "Lernwerk Platform 7.2.0 — Summer release\n\n*Veröffentlichungsdatum: 2027-06-15*"
    )
    assert "Field Suite" not in text
    assert "Field Suite" not in html
    _no_secrets(text + html)


def test_white_label_needs_an_oem(
    release: Any, catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    publish_all(release)
    with pytest.raises(ValidationFailed) as err:
        selectors.white_label_variant(_note(release, "customers"), catalogue["c3"])
    assert (
        err.value.message
        == "Lakeside Surveys is not an OEM customer (kind direct, no white-label instance)"
    )
    with pytest.raises(ValidationFailed):
        selectors.white_label_variant(_note(release, "internal"), catalogue["oem_x"])


def test_portal_list_query_count_does_not_grow(
    make_release: Callable[..., Any], catalogue: dict[str, Any], publish_all: Callable[..., Any]
) -> None:
    client = _portal_client(catalogue["r1_contact"])

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/notes/portal/")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    publish_all(make_release("7.0.1", title=""))
    few = count()
    for i in range(4):
        publish_all(make_release(f"7.0.{i + 2}", title=""))
    page = client.get("/notes/portal/").content.decode()
    assert page.count('href="/notes/portal/') == 5
    assert count() <= few
