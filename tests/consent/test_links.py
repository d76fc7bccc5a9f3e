"""Signed consent links through the web pages: GET/HEAD never mutate, only POST acts; link
tampering, expiry, wrong purpose, another customer, reuse after a decision, the deadline
instant, and the portal pages of a signed-in contact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.consent import links
from releasedesk.consent.models import Consent
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.timeline.models import ScheduledStep
from tests.consent.conftest import DEADLINE, link_path
from tests.consent.world import utc

pytestmark = pytest.mark.django_db

BEFORE = utc(2027, 2, 8, 9)


def _state(consent: Consent) -> tuple[str, Any, str]:
    consent.refresh_from_db()
    return consent.state, consent.decided_at, consent.channel


def test_get_and_head_show_a_confirmation_page_and_change_nothing(
    planned: dict[str, Any], client: Any, at: Callable[[dt.datetime], None]
) -> None:
    at(BEFORE)
    consent, admin = planned["h1"]["consent"], planned["h1"]["admin"]
    path = link_path(consent, admin, "opt_out")
    events = AuditEvent.objects.count()
    steps = list(ScheduledStep.objects.values_list("key", "state", "due_at").order_by("key"))
    page = client.get(path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Opt out: Hosted One production" in text
    assert "2027-02-09 18:00 GMT (Europe/London) · 2027-02-09 18:00 UTC" in text
    assert "2027-02-09 13:00 GMT (Europe/London) · 2027-02-09 13:00 UTC" in text
    assert '<form method="post">' in text
    assert "Nothing changes until you press the button." in text
    assert client.head(path).status_code == 200
    assert client.get(path).status_code == 200
    assert _state(consent) == ("pending", None, "")
    assert AuditEvent.objects.count() == events
    assert (
        list(ScheduledStep.objects.values_list("key", "state", "due_at").order_by("key")) == steps
    )


def test_post_opts_out_once_and_reuse_is_refused(
    notified: dict[str, Any], client: Any, at: Callable[[dt.datetime], None]
) -> None:
    at(BEFORE)
    consent, admin = notified["h1"]["consent"], notified["h1"]["admin"]
    path = link_path(consent, admin, "opt_out")
    response = client.post(path)
    assert response.status_code == 200
    assert "your answer was recorded (opted out, 2027-02-08 09:00 GMT" in response.content.decode()
    assert _state(consent) == ("opted_out", BEFORE, "email")
    assert consent.decided_by_contact_id == admin.pk
    decided = AuditEvent.objects.filter(action="consent.decided").get()
    assert decided.after is not None
    assert decided.after["state"] == "opted_out"
    assert decided.after["decided_by_contact"] == admin.pk
    assert decided.actor_kind == "contact"
    # The planner moved the upgrade to the next cycle.
    upgrade = ScheduledStep.objects.get(key__endswith=f"i{consent.instance_id}:upgrade")
    assert upgrade.due_at == utc(2027, 3, 9, 18)

    at(BEFORE + dt.timedelta(minutes=5))
    for again in (path, link_path(consent, notified["h1"]["tech"], "postpone")):
        reused = client.post(again, {"proposed_start": "2027-02-20T18:00"})
        assert reused.status_code == 409
        assert "This upgrade was already answered: opted out 2027-02-08 09:00 GMT" in (
            reused.content.decode()
        )
    assert _state(consent) == ("opted_out", BEFORE, "email")
    assert AuditEvent.objects.filter(action="consent.decided").count() == 1


def test_tampered_link_is_refused(planned: dict[str, Any], client: Any, at: Any) -> None:
    at(BEFORE)
    consent, admin = planned["h1"]["consent"], planned["h1"]["admin"]
    token = links.make_token(consent, admin, "opt_out")
    head, _, sig = token.rpartition(":")
    forged = head + ":" + ("A" if sig[0] != "A" else "B") + sig[1:]
    for bad in (forged, token.replace("eyJ", "eyK", 1), "nonsense"):
        response = client.post(f"/consent/link/opt_out/{bad}/")
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode()
    assert _state(consent) == ("pending", None, "")


def test_link_for_another_purpose_is_refused(planned: dict[str, Any], client: Any, at: Any) -> None:
    at(BEFORE)
    consent, admin = planned["h1"]["consent"], planned["h1"]["admin"]
    token = links.make_token(consent, admin, "postpone")
    for action in ("opt_out", "accept"):
        response = client.post(f"/consent/link/{action}/{token}/")
        assert response.status_code == 400
    assert client.get(f"/consent/link/delete/{token}/").status_code == 400
    assert _state(consent) == ("pending", None, "")


def test_expired_link_is_refused(planned: dict[str, Any], client: Any, at: Any) -> None:
    consent, admin = planned["h1"]["consent"], planned["h1"]["admin"]
    at(BEFORE)
    path = link_path(consent, admin, "opt_out")
    at(DEADLINE + links.LINK_GRACE + dt.timedelta(seconds=1))
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
    assert _state(consent) == ("pending", None, "")


def test_a_contact_of_another_customer_gets_404(
    planned: dict[str, Any], client: Any, at: Any
) -> None:
    at(BEFORE)
    consent, admin = planned["h1"]["consent"], planned["h1"]["admin"]
    other = planned["h2"]["admin"]
    session = client.session
    session[SESSION_KEY] = other.pk
    session.save()
    path = link_path(consent, admin, "opt_out")
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
    assert client.get(f"/consent/{consent.pk}/").status_code == 404
    assert client.post(f"/consent/{consent.pk}/", {"action": "opt_out"}).status_code == 404
    # A link naming H2's contact for H1's consent cannot be made without the key; one whose
    # consent belongs to another customer than it says is not found either.
    foreign = links.make_token(planned["h2"]["consent"], admin, "opt_out")
    assert client.get(f"/consent/link/opt_out/{foreign}/").status_code == 404
    assert _state(consent) == ("pending", None, "")
    # Their own organisation's page works.
    own = planned["h2"]["consent"]
    listing = client.get("/consent/").content.decode()
    assert f"/consent/{own.pk}/" in listing
    assert f"/consent/{consent.pk}/" not in listing


def test_deadline_instant_counts_one_second_later_does_not(
    notified: dict[str, Any], client: Any, at: Any
) -> None:
    h1, h2 = notified["h1"], notified["h2"]
    at(BEFORE)
    on_time = link_path(h1["consent"], h1["admin"], "opt_out")
    late = link_path(h2["consent"], h2["admin"], "opt_out")
    at(DEADLINE)
    assert client.post(on_time).status_code == 200
    assert _state(h1["consent"]) == ("opted_out", DEADLINE, "email")
    at(DEADLINE + dt.timedelta(seconds=1))
    page = client.get(late)
    assert page.status_code == 200
    assert (
        "The deadline (2027-02-09 13:00 GMT (Europe/London) · 2027-02-09 13:00 UTC) has passed"
        in (page.content.decode())
    )
    assert "<form" not in page.content.decode().split("</header>")[-1].split("<footer")[0]
    response = client.post(late)
    assert response.status_code == 409
    text = response.content.decode()
    assert "The deadline for this upgrade was 2027-02-09 13:00 GMT (Europe/London)" in text
    assert "Please contact your customer success manager, or write to releases@localhost." in text
    assert _state(h2["consent"]) == ("pending", None, "")


def test_postpone_needs_a_date_then_staff_confirm_it(
    notified: dict[str, Any], client: Any, at: Any
) -> None:
    at(BEFORE)
    consent, admin = notified["h1"]["consent"], notified["h1"]["admin"]
    path = link_path(consent, admin, "postpone")
    missing = client.post(path)
    assert missing.status_code == 422
    assert "Propose the date and time you would like instead." in missing.content.decode()
    assert client.post(path, {"proposed_start": "2027-02-08T10:00"}).status_code == 422  # before
    ok = client.post(path, {"proposed_start": "2027-02-23T18:00", "comment": "exam week"})
    assert ok.status_code == 200
    consent.refresh_from_db()
    assert (consent.state, consent.postpone_status) == ("postponed", "proposed")
    assert consent.proposed_start == utc(2027, 2, 23, 18)  # 18:00 GMT
    upgrade = ScheduledStep.objects.get(key__endswith=f"i{consent.instance_id}:upgrade")
    assert upgrade.due_at == utc(2027, 2, 9, 18)  # nothing moves until staff decide

    staff = client.__class__()
    staff.force_login(notified["cm"])
    page = staff.get(f"/consent/release/{notified['release'].pk}/").content.decode()
    assert "Postponement proposed" in page
    assert "2027-02-23 18:00 GMT (Europe/London)" in page
    assert (
        staff.post(f"/consent/staff/{consent.pk}/postponement/", {"confirm": "yes"}).status_code
        == 302
    )
    consent.refresh_from_db()
    assert consent.postpone_status == "confirmed"
    upgrade.refresh_from_db()
    assert upgrade.due_at == utc(2027, 3, 9, 18)  # the next cycle


def test_a_link_to_a_slot_that_moved_says_so(planned: dict[str, Any], client: Any, at: Any) -> None:
    # Nobody was notified (no worker ran): at 2027-02-08 the planner moves both upgrades to
    # the next cycle when anything replans; the old pending consents go with their slot.
    at(BEFORE)
    h2 = planned["h2"]
    old = link_path(h2["consent"], h2["admin"], "opt_out")
    client.post(link_path(planned["h1"]["consent"], planned["h1"]["admin"], "opt_out"))
    response = client.get(old)
    assert response.status_code == 404
    assert "This upgrade is no longer planned as the e-mail said" in response.content.decode()
