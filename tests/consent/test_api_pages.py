"""/api/v1/consent and the staff page: staff and tokens only, read-only tokens cannot
decide, contacts and outsiders get nothing, decisions by phone are marked as such."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.accounts.services import create_api_token
from releasedesk.consent.models import Consent
from releasedesk.core.context import SYSTEM
from releasedesk.portal.auth import SESSION_KEY
from tests.consent.conftest import DEADLINE
from tests.consent.world import utc

pytestmark = pytest.mark.django_db

BEFORE = utc(2027, 2, 8, 9)


def _token(user: Any, scope: str) -> dict[str, str]:
    _, raw = create_api_token(actor=SYSTEM, user=user, name=f"{scope} token", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_staff_list_and_read_consents_of_a_release(
    notified: dict[str, Any], client: Any, at: Any, django_assert_max_num_queries: Any
) -> None:
    at(BEFORE)
    release = notified["release"]
    auth = _token(notified["cm"], "read")
    with django_assert_max_num_queries(12):
        response = client.get(f"/api/v1/consent/releases/{release.pk}", **auth)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["instance_id"], i["state"], i["deadline"]) for i in items] == [
        (notified["h1"]["instance"].pk, "pending", "2027-02-09T13:00:00Z"),
        (notified["h2"]["instance"].pk, "pending", "2027-02-09T13:00:00Z"),
    ]
    one = client.get(f"/api/v1/consent/{items[0]['id']}", **auth).json()
    assert (one["mode"], one["slot_start"]) == ("opt_out", "2027-02-09T18:00:00Z")
    assert client.get("/api/v1/consent/999999", **auth).status_code == 404
    assert client.get(f"/api/v1/consent/releases/{release.pk + 999}", **auth).status_code == 404
    assert client.get("/api/v1/consent/0", **auth).status_code == 422  # bounded ids


def test_decisions_through_the_api(notified: dict[str, Any], client: Any, at: Any) -> None:
    at(BEFORE)
    consent = notified["h2"]["consent"]
    url = f"/api/v1/consent/{consent.pk}/decision"
    body = {"decision": "opted_out", "comment": "called us"}
    read_only = client.post(
        url, body, content_type="application/json", **_token(notified["cm"], "read")
    )
    assert read_only.status_code == 403
    write = _token(notified["cm"], "write")
    wrong = client.post(url, {"decision": "approved"}, content_type="application/json", **write)
    assert wrong.status_code == 422
    ok = client.post(url, body, content_type="application/json", **write)
    assert ok.status_code == 200
    assert (ok.json()["state"], ok.json()["channel"]) == ("opted_out", "staff_phone")
    again = client.post(url, body, content_type="application/json", **write)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_decided"
    other = notified["h1"]["consent"]
    at(DEADLINE + dt.timedelta(seconds=1))
    late = client.post(
        f"/api/v1/consent/{other.pk}/decision", body, content_type="application/json", **write
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "deadline_passed"


def test_contacts_and_outsiders_get_nothing(
    notified: dict[str, Any], client: Any, customer_c: Any
) -> None:
    release = notified["release"]
    session = client.session
    session[SESSION_KEY] = notified["h1"]["admin"].pk
    session.save()
    assert client.get(f"/api/v1/consent/releases/{release.pk}").status_code == 401
    assert client.get(f"/consent/release/{release.pk}/").status_code == 404
    outsider = customer_c.contacts.get()
    session = client.session
    session[SESSION_KEY] = outsider.pk
    session.save()
    assert client.get(f"/consent/{notified['h1']['consent'].pk}/").status_code == 404
    assert "No upgrades waiting" in client.get("/consent/").content.decode()
    client.logout()
    assert client.get(f"/consent/release/{release.pk}/").status_code == 302  # sign in


def test_staff_page_records_a_phone_decision_marked_as_such(
    notified: dict[str, Any], client: Any, at: Any
) -> None:
    at(BEFORE)
    release = notified["release"]
    client.force_login(notified["cm"])
    page = client.get(f"/consent/release/{release.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Hosted One" in text
    assert "2027-02-09 13:00 GMT (Europe/London)" in text
    consent = notified["h1"]["consent"]
    response = client.post(
        f"/consent/staff/{consent.pk}/decide/",
        {"decision": "opted_out", "received_at": "2027-02-08T08:45", "comment": "Phoned in"},
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert (consent.state, consent.channel, consent.decided_at) == (
        "opted_out",
        "staff_phone",
        utc(2027, 2, 8, 8, 45),  # 08:45 GMT
    )
    assert consent.decided_by_user_id == notified["cm"].pk
    after = client.get(f"/consent/release/{release.pk}/").content.decode()
    assert "(by phone)" in after
    # Next cycle's consent appears once the re-plan moved H1.
    assert Consent.objects.filter(release=release, instance=consent.instance).count() == 2
