"""/api/v1/audit/: staff only, filters validated, paginated; denied access is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import Client

from releasedesk.audit.maintenance import append_only_bypass
from releasedesk.audit.models import AuditEvent
from releasedesk.audit.services import DENIED_ACTION, record
from releasedesk.core.context import Actor

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit/events"


@pytest.fixture
def events() -> list[AuditEvent]:
    made = []
    for day, action, actor in [
        (1, "catalog.customer_created", Actor(kind="staff", id=1)),
        (2, "catalog.customer_updated", Actor(kind="token", id=5, on_behalf_of=1)),
        (3, "catalog.customer_updated", Actor(kind="contact", id=9)),
    ]:
        instant = dt.datetime(2027, 4, day, 12, 0, tzinfo=dt.UTC)
        with time_machine.travel(instant, tick=False), transaction.atomic():
            made.append(
                record(actor=actor, action=action, scope="catalog.customer:1", after={"d": day})
            )
    return made


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_staff_lists_newest_first(staff_api: Client, events: list[AuditEvent]) -> None:
    response = staff_api.get(URL)
    assert _ids(response) == [events[2].pk, events[1].pk, events[0].pk]
    body = response.json()
    assert body["count"] == 3
    first = body["items"][0]
    assert first["actor_kind"] == "contact"
    assert first["after"] == {"d": 3}
    assert first["at"].startswith("2027-04-03T12:00:00")
    assert first["seq"] == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=catalog.customer_updated", [2, 1]),
        ("actor_kind=token", [1]),
        ("actor_kind=staff&actor_id=1", [0]),
        ("object_type=nothing", []),
        ("since=2027-04-02T12:00:00Z", [2, 1]),
        ("until=2027-04-02T12:00:00Z", [0]),
        ("since=2027-04-02T14:00:00%2B02:00&until=2027-04-03T00:00:00Z", [1]),
    ],
)
def test_filters(
    staff_api: Client, events: list[AuditEvent], query: str, expected: list[int]
) -> None:
    assert _ids(staff_api.get(f"{URL}?{query}")) == [events[i].pk for i in expected]


def test_request_id_filter(staff_api: Client, events: list[AuditEvent]) -> None:
    rid = events[0].request_id
    assert rid
    assert events[0].pk in _ids(staff_api.get(f"{URL}?request_id={rid}"))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=2027-04-02T12:00:00", "since"),  # no offset
        ("since=yesterday", "since"),
        ("since=2027-04-03T00:00:00Z&until=2027-04-02T00:00:00Z", "until"),
        ("actor_kind=robot", "actor_kind"),
        ("actor_id=-1", "actor_id"),
        ("actor_id=99999999999999999999", "actor_id"),
        ("action=" + "a" * 81, "action"),
        ("object_id=a%00b", "object_id"),
        ("limit=201", "limit"),
        ("offset=1000001", "offset"),
        ("since=0001-01-01T00:00:00%2B14:00", "since"),
    ],
)
def test_bad_filters_are_422(staff_api: Client, query: str, field: str) -> None:
    response = staff_api.get(f"{URL}?{query}")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"]["code"] == "validation_failed"
    assert field in body["error"]["fields"], body


def test_pagination_is_bounded(staff_api: Client, events: list[AuditEvent]) -> None:
    response = staff_api.get(f"{URL}?limit=2&offset=1")
    assert _ids(response) == [events[1].pk, events[0].pk]


def test_query_count_does_not_grow(
    staff_api: Client, events: list[AuditEvent], django_assert_max_num_queries: Any
) -> None:
    with transaction.atomic():
        for i in range(30):
            record(actor=Actor(kind="system"), action="t.bulk", scope=f"s:{i}")
    with django_assert_max_num_queries(5):
        assert len(_ids(staff_api.get(f"{URL}?limit=50"))) == 33


def test_anonymous_is_401(client: Client, events: list[AuditEvent]) -> None:
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_outsider_contact_gets_no_audit_data(
    outsider_client: Client, events: list[AuditEvent]
) -> None:
    # A portal session is not an API credential: 401, nothing disclosed.
    response = outsider_client.get(URL)
    assert response.status_code in (401, 404)
    assert "items" not in response.json()


def test_nonstaff_token_gets_404_and_is_audited(
    nonstaff_api: Client, nonstaff_user: Any, events: list[AuditEvent]
) -> None:
    response = nonstaff_api.get(URL, headers={"x-request-id": "req-denied-0001"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response["X-Request-ID"] == "req-denied-0001"
    denied = AuditEvent.objects.get(action=DENIED_ACTION)
    assert denied.actor_kind == "token"
    assert denied.actor_on_behalf_of == nonstaff_user.pk
    assert denied.request_id == "req-denied-0001"
    assert denied.after == {"attempted": "audit.events.list"}


def test_request_id_is_generated_and_matches_the_event(
    nonstaff_api: Client, events: list[AuditEvent]
) -> None:
    response = nonstaff_api.get(URL)
    rid = response["X-Request-ID"]
    assert len(rid) == 32
    assert AuditEvent.objects.get(action=DENIED_ACTION).request_id == rid


def test_verify_endpoint(staff_api: Client, events: list[AuditEvent]) -> None:
    response = staff_api.get("/api/v1/audit/verify")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "events": 3,
        "scopes": 1,
        "summary": "3 events in 1 scope verified",
        "problems_total": 0,
        "problems": [],
    }
    with append_only_bypass():
        AuditEvent.objects.filter(pk=events[1].pk).update(actor_id=77)
    body = staff_api.get("/api/v1/audit/verify?scope=catalog.customer:1").json()
    assert body["ok"] is False
    assert body["problems"] == [
        {
            "kind": "modified",
            "scope": "catalog.customer:1",
            "seq": 2,
            "event_id": events[1].pk,
            "detail": "stored hash does not match fields",
        }
    ]


def test_verify_endpoint_nonstaff_404(nonstaff_api: Client) -> None:
    assert nonstaff_api.get("/api/v1/audit/verify").status_code == 404
