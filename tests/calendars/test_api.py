"""/api/v1/calendar: freezes, entries, feed links — staff only, documented 4xx."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from django.test import Client

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.audit.models import AuditEvent
from releasedesk.calendars import feeds
from releasedesk.calendars.models import ChangeFreeze
from releasedesk.portal.auth import SESSION_KEY

pytestmark = pytest.mark.django_db
URL = "/api/v1/calendar"
UTC = dt.UTC


class Api:
    def __init__(self, user: Any, scope: str = "write") -> None:
        raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
        ApiToken.objects.create(
            user=user, name="t", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
        )
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {raw}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(URL + path, params, headers=self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            URL + path, body, content_type="application/json", headers=self.headers
        )


def test_declare_get_list_lift(frozen_now: dt.datetime, vendor_admin: Any, sso: Any) -> None:
    api = Api(vendor_admin)
    r = api.post(
        "/freezes",
        {
            "starts_at": "2027-12-20T00:00:00+01:00",
            "ends_at": "2028-01-03T00:00:00+01:00",
            "reason": "Year end",
            "products": ["sso"],
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    freeze_id = body["id"]
    assert body == {
        "id": freeze_id,
        "starts_at": "2027-12-19T23:00:00Z",
        "ends_at": "2028-01-02T23:00:00Z",
        "reason": "Year end",
        "all_products": False,
        "products": ["sso"],
        "declared_by_id": vendor_admin.pk,
        "created_at": "2027-03-01T09:00:00Z",
        "lifted_at": None,
        "lifted_by_id": None,
        "lift_reason": "",
        "in_force": True,
    }
    assert api.get(f"/freezes/{freeze_id}").json() == body
    listed = api.get("/freezes", active=True).json()
    assert [f["id"] for f in listed["items"]] == [freeze_id]
    assert listed["count"] == 1
    r = api.post(f"/freezes/{freeze_id}/lift", {"reason": "Cancelled"})
    assert r.status_code == 200
    assert r.json()["lifted_at"] == "2027-03-01T09:00:00Z"
    assert r.json()["in_force"] is False
    assert api.get("/freezes", active=True).json()["count"] == 0
    again = api.post(f"/freezes/{freeze_id}/lift", {"reason": "again"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    actions = list(
        AuditEvent.objects.filter(scope="calendars.freeze")
        .order_by("id")
        .values_list("action", "actor_kind")
    )
    assert actions == [("freeze.declared", "token"), ("freeze.lifted", "token")]


def test_declare_errors(frozen_now: dt.datetime, vendor_admin: Any) -> None:
    api = Api(vendor_admin)
    bad_order = api.post(
        "/freezes",
        {"starts_at": "2027-05-02T00:00:00Z", "ends_at": "2027-05-01T00:00:00Z", "reason": "x"},
    )
    assert bad_order.status_code == 422
    assert bad_order.json()["error"]["fields"] == {"ends_at": "must be after starts_at"}
    no_reason = api.post(
        "/freezes",
        {"starts_at": "2027-05-01T00:00:00Z", "ends_at": "2027-05-02T00:00:00Z", "reason": ""},
    )
    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["error"]["fields"]
    blank_reason = api.post(
        "/freezes",
        {"starts_at": "2027-05-01T00:00:00Z", "ends_at": "2027-05-02T00:00:00Z", "reason": "   "},
    )
    assert blank_reason.status_code == 422
    assert blank_reason.json()["error"]["fields"] == {"reason": "required"}
    unknown = api.post(
        "/freezes",
        {
            "starts_at": "2027-05-01T00:00:00Z",
            "ends_at": "2027-05-02T00:00:00Z",
            "reason": "x",
            "products": ["nope"],
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"] == {"products": "unknown product 'nope'"}
    assert ChangeFreeze.objects.count() == 0
    assert api.get("/freezes/99999").status_code == 404
    assert api.get("/freezes/0").status_code == 422


def test_read_only_token_and_outsiders(
    frozen_now: dt.datetime, vendor_admin: Any, outsider_contact: Any
) -> None:
    body = {"starts_at": "2027-05-01T00:00:00Z", "ends_at": "2027-05-02T00:00:00Z", "reason": "x"}
    read_only = Api(vendor_admin, scope="read")
    assert read_only.get("/freezes").status_code == 200
    r = read_only.post("/freezes", body)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"
    anonymous = Client()
    assert anonymous.get(URL + "/freezes").status_code == 401
    contact = Client()
    session = contact.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    assert contact.get(URL + "/freezes").status_code == 401
    assert contact.get(URL + "/feed").status_code == 401
    assert ChangeFreeze.objects.count() == 0


def test_entries_endpoint(frozen_now: dt.datetime, vendor_admin: Any, school_policy: Any) -> None:
    api = Api(vendor_admin)
    r = api.get(
        "/entries",
        start="2027-03-25T00:00:00+01:00",
        end="2027-03-26T00:00:00+01:00",
        kind="window",
        zone="America/New_York",
    )
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["zone"] == "America/New_York"
    assert data["entries"] == [
        {
            "kind": "window",
            "title": "maintenance window (school-saas)",
            "start_utc": "2027-03-25T15:00:00Z",
            "end_utc": "2027-03-25T21:00:00Z",
            "start_local": "2027-03-25T11:00:00-04:00",
            "end_local": "2027-03-25T17:00:00-04:00",
            "zone": "Europe/Amsterdam",
            "all_day": None,
            "detail": "weekly on thursday 16:00-22:00",
            "uid": "window-school-saas-maintenance-20270325T150000Z@releasedesk",
        }
    ]
    too_long = api.get("/entries", start="2027-01-01T00:00:00Z", end="2027-06-01T00:00:00Z")
    assert too_long.status_code == 422
    naive = api.get("/entries", start="2027-01-01T00:00:00", end="2027-01-02T00:00:00Z")
    assert naive.status_code == 422
    bad_kind = api.get(
        "/entries", start="2027-01-01T00:00:00Z", end="2027-01-02T00:00:00Z", kind="x"
    )
    assert bad_kind.status_code == 422
    bad_zone = api.get(
        "/entries", start="2027-01-01T00:00:00Z", end="2027-01-02T00:00:00Z", zone="Mars/Base"
    )
    assert bad_zone.status_code == 422


def test_feed_links_and_revocation(
    frozen_now: dt.datetime, vendor_admin: Any, customer_a: Any
) -> None:
    api = Api(vendor_admin)
    mine = api.get("/feed").json()
    token = feeds.make_token("staff", vendor_admin.pk)
    assert mine == {
        "url": f"http://testserver/calendar/feeds/staff/{vendor_admin.pk}/{token}.ics",
        "version": 1,
    }
    renewed = api.post("/feed/revoke", {}).json()
    assert renewed["version"] == 2
    assert renewed["url"] != mine["url"]
    assert Client().get(mine["url"]).status_code == 404
    assert Client().get(renewed["url"]).status_code == 200
    link = api.get(f"/customers/{customer_a.pk}/feed").json()
    assert link["url"].startswith(f"http://testserver/calendar/feeds/customers/{customer_a.pk}/")
    assert Client().get(link["url"]).status_code == 200
    new = api.post(f"/customers/{customer_a.pk}/feed/revoke", {}).json()
    assert Client().get(link["url"]).status_code == 404
    assert Client().get(new["url"]).status_code == 200
    assert api.get("/customers/99999/feed").status_code == 404
    assert list(
        AuditEvent.objects.filter(action="calendar.feed_revoked")
        .order_by("id")
        .values_list("object_type", flat=True)
    ) == [
        "accounts.user",
        "catalog.customer",
    ]
