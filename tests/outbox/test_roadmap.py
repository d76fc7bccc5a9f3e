"""Roadmap updates to partners: items computed from the upcoming releases (customer-facing
wording only), recipients computed from the catalogue, the next release in each recipient's
zone and in UTC, delivered over SMTP by the worker; bad requests change nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.models import Contact
from releasedesk.core.context import Actor
from releasedesk.core.errors import PermissionDenied, ValidationFailed
from releasedesk.outbox.delivery import deliver_due
from releasedesk.outbox.models import Message
from releasedesk.outbox.roadmap import preview_roadmap_update, send_roadmap_update
from releasedesk.releases.models import Release
from releasedesk.timeline.models import ScheduledStep
from tests.outbox.test_audiences import oem_catalogue
from tests.releases.conftest import make_release, school_saas

pytestmark = pytest.mark.django_db

__all__ = ["make_release", "oem_catalogue", "school_saas"]

UTC = dt.UTC
NEXT = dt.datetime(2027, 6, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def roadmap(oem_catalogue: dict[str, Any], make_release: Callable[..., Any]) -> dict[str, Any]:
    platform = oem_catalogue["product"]
    changes = [
        {
            "kind": "feature",
            "title": "Internal codename Falcon",
            "customer_note": "Shared whiteboards",
            "internal_note": "SECRET: migrates the ledger table",
        },
        {"kind": "fix", "title": "Faster sign-in"},
    ]
    later = make_release("5.10.0", products=[platform], target_date=dt.date(2027, 7, 1))
    sooner = make_release(
        "5.9.0", products=[platform], target_date=dt.date(2027, 6, 3), changes=changes
    )
    done = make_release("5.8.0", products=[platform], target_date=dt.date(2027, 5, 1))
    Release.objects.filter(pk=done.pk).update(status="completed")
    ScheduledStep.objects.create(
        release=sooner,
        key=f"r{sooner.pk}:i{oem_catalogue['wl_x'].pk}:upgrade",
        kind="upgrade",
        due_at=NEXT,
        instance=oem_catalogue["wl_x"],
        zone="Europe/Berlin",
    )
    return {**oem_catalogue, "sooner": sooner, "later": later}


def test_preview_lists_upcoming_releases_in_customer_words(roadmap: dict[str, Any]) -> None:
    preview = preview_roadmap_update(products=[roadmap["product"]], period="June 2027")
    assert preview.roadmap.items == (
        "Platform 5.9.0 (2027-06-03): Shared whiteboards; Faster sign-in",
        "Platform 5.10.0 (2027-07-01): Shared whiteboards",
    )
    assert preview.roadmap.next_release_at == NEXT
    assert preview.audience.emails == ["p@oem-x.test", "p@oem-y.test"]
    assert preview.rendered.subject == "Roadmap update June 2027: Platform"
    assert "SECRET" not in preview.rendered.text
    assert "Falcon" not in preview.rendered.text
    assert "Next release: 2027-06-10 14:00 UTC (UTC)" in preview.rendered.text
    assert Message.objects.count() == 0  # a preview writes nothing


def test_send_queues_one_message_per_partner_in_their_zone_and_language(
    roadmap: dict[str, Any], product_manager: Any, smtp_sink: Any
) -> None:
    Contact.objects.filter(email="p@oem-y.test").update(locale="de")
    actor = Actor(kind="staff", id=product_manager.pk)
    sent = send_roadmap_update(
        actor=actor, user=product_manager, products=[roadmap["product"]], period="June 2027"
    )
    assert (sent.created, sent.existing) == (2, 0)
    messages = {m.to_address: m for m in Message.objects.filter(kind="roadmap_update")}
    x, y = messages["p@oem-x.test"], messages["p@oem-y.test"]
    assert x.subject == "Roadmap update June 2027: Platform"
    assert "Next release: 2027-06-10 16:00 CEST (Europe/Berlin)\nThat is 2027-06-10 14:00 UTC." in (
        x.body_text
    )
    assert "- Platform 5.9.0 (2027-06-03): Shared whiteboards; Faster sign-in" in (x.body_text)
    assert y.subject == "Roadmap-Update June 2027: Platform"
    assert "Nächstes Release: 2027-06-10 16:00 CEST (Europe/Vienna)" in y.body_text
    assert x.why == "OEM partner contact of OEM X (white-label instance wl-x)"
    after = AuditEvent.objects.get(action="outbox.roadmap_update_sent").after or {}
    assert after["created"] == 2
    assert after["releases"] == [roadmap["sooner"].pk, roadmap["later"].pk]

    # The same period again adds nobody twice.
    again = send_roadmap_update(
        actor=actor, user=product_manager, products=[roadmap["product"]], period="June  2027"
    )
    assert (again.created, again.existing) == (0, 2)

    # The worker delivers them over SMTP.
    assert deliver_due(owner="w1", now=dt.datetime.now(UTC) + dt.timedelta(seconds=1)) == 2
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == ["p@oem-x.test", "p@oem-y.test"]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"period": ""}, ValidationFailed, "period"),
        ({"period": "x" * 41}, ValidationFailed, "period"),
        ({"audience": "affected_org_admins"}, ValidationFailed, "audience"),
        ({"products": []}, ValidationFailed, "products"),
    ],
)
def test_bad_requests_change_nothing(
    roadmap: dict[str, Any],
    product_manager: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
    field: str,
) -> None:
    args: dict[str, Any] = {"products": [roadmap["product"]], "period": "June 2027", **kwargs}
    with pytest.raises(error) as caught:
        send_roadmap_update(
            actor=Actor(kind="staff", id=product_manager.pk), user=product_manager, **args
        )
    assert field in getattr(caught.value, "fields", {})
    assert Message.objects.count() == 0
    assert not AuditEvent.objects.filter(action="outbox.roadmap_update_sent").exists()


def test_nothing_upcoming_and_no_role_are_refused(
    roadmap: dict[str, Any], product_manager: Any, cto: Any
) -> None:
    actor = Actor(kind="staff", id=cto.pk)
    with pytest.raises(PermissionDenied):
        send_roadmap_update(actor=actor, user=cto, products=[roadmap["product"]], period="June")
    Release.objects.update(status="cancelled")
    with pytest.raises(ValidationFailed, match="nothing on the roadmap"):
        send_roadmap_update(
            actor=Actor(kind="staff", id=product_manager.pk),
            user=product_manager,
            products=[roadmap["product"]],
            period="June",
        )
    assert Message.objects.count() == 0


# --- API and CLI ----------------------------------------------------------------------------


def test_api_preview_and_send(roadmap: dict[str, Any], product_manager: Any) -> None:
    from django.test import Client

    from tests.outbox.test_pages_api import _token

    client, headers = Client(), _token(product_manager)
    body = {"products": ["platform"], "period": "June 2027"}
    preview = client.post(
        "/api/v1/outbox/roadmap/preview",
        body,
        content_type="application/json",
        headers=headers,
    )
    assert preview.status_code == 200
    data = preview.json()
    assert data["items"][0] == ("Platform 5.9.0 (2027-06-03): Shared whiteboards; Faster sign-in")
    assert [r["email"] for r in data["recipients"]] == ["p@oem-x.test", "p@oem-y.test"]
    assert data["next_release_at"] == "2027-06-10T14:00:00Z"
    assert Message.objects.count() == 0

    read_only = client.post(
        "/api/v1/outbox/roadmap/send",
        body,
        content_type="application/json",
        headers=_token(product_manager, "read"),
    )
    assert read_only.status_code == 403
    unknown = client.post(
        "/api/v1/outbox/roadmap/send",
        {**body, "products": ["platform", "nope"]},
        content_type="application/json",
        headers=headers,
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["fields"] == {"products": "unknown: nope"}
    too_long = client.post(
        "/api/v1/outbox/roadmap/send",
        {**body, "period": "x" * 41},
        content_type="application/json",
        headers=headers,
    )
    assert too_long.status_code == 422
    assert Message.objects.count() == 0

    sent = client.post(
        "/api/v1/outbox/roadmap/send", body, content_type="application/json", headers=headers
    )
    assert sent.status_code == 201
    assert sent.json() == {"created": 2, "existing": 0, "skipped": 0}


def test_cli_dry_run_by_default_then_send(roadmap: dict[str, Any], product_manager: Any) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    call_command(
        "outbox", "roadmap-update", "--product", "platform", "--period", "June 2027", stdout=out
    )
    text = out.getvalue()
    assert text.startswith("Dry run: nothing is sent.")
    assert "  - Platform 5.10.0 (2027-07-01): Shared whiteboards" in text
    assert (
        "  p@oem-x.test [en, Europe/Berlin; next release 2027-06-10 16:00 CEST "
        "(Europe/Berlin)]: OEM partner contact of OEM X (white-label instance wl-x)"
    ) in text
    assert Message.objects.count() == 0
    with pytest.raises(CommandError, match="--send needs --as USERNAME"):
        call_command(
            "outbox", "roadmap-update", "--product", "platform", "--period", "June", "--send"
        )
    out = StringIO()
    call_command(
        "outbox",
        "roadmap-update",
        "--product",
        "platform",
        "--period",
        "June 2027",
        "--send",
        "--as",
        product_manager.username,
        stdout=out,
    )
    assert out.getvalue().startswith("queued 2 message(s)")
    assert Message.objects.filter(kind="roadmap_update").count() == 2


def test_staff_page_previews_on_get_and_sends_on_post(
    roadmap: dict[str, Any], product_manager: Any, client: Any, customer_a: Any
) -> None:
    client.force_login(product_manager)
    query = "?product=platform&period=June+2027&audience=oem_partner_contacts"
    page = client.get("/outbox/roadmap/" + query)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Platform 5.9.0 (2027-06-03): Shared whiteboards; Faster sign-in" in html
    assert "OEM partner contact of OEM Y (white-label instance wl-y)" in html
    assert "Send to 2 recipient(s)" in html
    assert Message.objects.count() == 0  # GET never sends

    sent = client.post(
        "/outbox/roadmap/send/",
        {"product": ["platform"], "period": "June 2027", "audience": "oem_partner_contacts"},
    )
    assert sent.status_code == 302
    assert sent["Location"] == "/outbox/?kind=roadmap_update"
    assert Message.objects.filter(kind="roadmap_update").count() == 2

    refused = client.post("/outbox/roadmap/send/", {"product": ["platform"], "period": ""})
    assert refused.status_code == 302
    assert Message.objects.filter(kind="roadmap_update").count() == 2

    # A customer's contact signed in to the portal sees no such page.
    from releasedesk.portal.auth import SESSION_KEY

    portal = type(client)()
    session = portal.session
    session[SESSION_KEY] = customer_a.contacts.first().pk
    session.save()
    assert portal.get("/outbox/roadmap/" + query).status_code == 404
    assert portal.post("/outbox/roadmap/send/", {"product": ["platform"]}).status_code == 404
