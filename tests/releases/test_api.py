from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.releases.models import Approval, Release

pytestmark = pytest.mark.django_db

URL = "/api/v1/releases"


def _token(user: Any, scope: str = "write") -> str:
    raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
    ApiToken.objects.create(
        user=user, name="test", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
    )
    return raw


class Api:
    def __init__(self, user: Any, scope: str = "write") -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {_token(user, scope)}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(URL + path, params, headers=self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            URL + path, body, content_type="application/json", headers=self.headers
        )

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            URL + path, body, content_type="application/json", headers=self.headers
        )

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            URL + path, body, content_type="application/json", headers=self.headers
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(URL + path, headers=self.headers)


CREATE = {
    "policy": "school-saas",
    "products": ["presenter"],
    "version": "5.4.0",
    "title": "Whiteboards",
    "target_date": "2027-04-01",
    "changes": [
        {"kind": "database_migration", "title": "Split the sessions table"},
        {"kind": "feature", "title": "Shared whiteboards", "significant": True},
    ],
}


@pytest.fixture
def pm_api(product_manager: Any, school_saas: Any, presenter: Any) -> Api:
    return Api(product_manager)


def test_create_assess_approve_start_through_the_api(pm_api: Api, cto: Any, second_pm: Any) -> None:
    created = pm_api.post("", CREATE)
    assert created.status_code == 201, created.content
    body = created.json()
    rid = body["id"]
    assert (body["status"], body["policy"], body["products"]) == (
        "draft",
        "school-saas",
        ["presenter"],
    )
    assert [c["kind"] for c in body["changes"]] == ["database_migration", "feature"]

    assessed = pm_api.post(
        f"/{rid}/assess",
        {"impact": 4, "likelihood": 4, "stakeholder_roles": ["cto"], "rationale": "Many schools"},
    )
    assert assessed.status_code == 201, assessed.content
    assert assessed.json()["level"] == "high"
    assert assessed.json()["required_approvals"] == [
        {"role": "product_manager", "count": 1},
        {"role": "cto", "count": 1},
    ]

    refused = pm_api.post(f"/{rid}/start", {})
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "approvals_missing",
        "message": "Cannot start 5.4.0: missing approvals from product_manager, cto",
        "fields": {"approvals": "product_manager, cto"},
    }

    assert (
        Api(second_pm)
        .post(f"/{rid}/approve", {"role": "product_manager", "comment": "Fine"})
        .status_code
        == 201
    )
    approved = Api(cto).post(f"/{rid}/approve", {"role": "cto"})
    assert approved.status_code == 201
    assert approved.json()["in_force"] is True
    detail = pm_api.get(f"/{rid}").json()
    assert detail["status"] == "approved"
    assert detail["missing_approvals"] == []
    assert [a["role"] for a in detail["approvals"]] == ["product_manager", "cto"]
    assert [f["source"] for f in detail["assessment"]["factors"]] == ["matrix", "floor"]

    started = pm_api.post(f"/{rid}/start", {})
    assert started.status_code == 200
    assert started.json()["status"] == "in_progress"

    audit = pm_api.get(f"/{rid}/audit").json()
    assert [e["action"] for e in audit["items"]] == [
        "release.created",
        "release.assessed",
        "release.approved",
        "release.approved",
        "timeline.planned",  # the complete approvals store the plan as the timeline
        "release.started",
    ]


def test_patch_after_approval_voids_and_reports_notice(pm_api: Api, second_pm: Any) -> None:
    rid = pm_api.post("", CREATE | {"changes": []}).json()["id"]
    pm_api.post(f"/{rid}/assess", {"impact": 1, "likelihood": 1})
    Api(second_pm).post(f"/{rid}/approve", {"role": "product_manager"})
    response = pm_api.patch(f"/{rid}", {"target_date": "2027-04-08"})
    assert response.status_code == 200
    assert response.json()["release"]["status"] == "assessed"
    assert response.json()["notice"].startswith(
        "Approvals voided because the target date changed (2027-04-01 → 2027-04-08)"
    )
    assert Approval.objects.get().void_reason == "the target date changed (2027-04-01 → 2027-04-08)"


def test_change_items_crud(pm_api: Api) -> None:
    rid = pm_api.post("", CREATE).json()["id"]
    added = pm_api.post(
        f"/{rid}/changes", {"kind": "security", "title": "Rotate keys", "reversible": False}
    )
    assert added.status_code == 201
    cid = added.json()["release"]["changes"][-1]["id"]
    edited = pm_api.put(
        f"/{rid}/changes/{cid}", {"kind": "security", "title": "Rotate signing keys"}
    )
    assert edited.json()["release"]["changes"][-1]["title"] == "Rotate signing keys"
    removed = pm_api.delete(f"/{rid}/changes/{cid}")
    assert [c["title"] for c in removed.json()["release"]["changes"]] == [
        "Split the sessions table",
        "Shared whiteboards",
    ]
    assert pm_api.delete(f"/{rid}/changes/{cid}").status_code == 404


def test_unknown_change_kind_is_422(pm_api: Api) -> None:
    response = pm_api.post("", CREATE | {"changes": [{"kind": "rewrite", "title": "x"}]})
    assert response.status_code == 422
    assert "unknown change kind 'rewrite'" in next(
        iter(response.json()["error"]["fields"].values())
    )
    assert not Release.objects.exists()


@pytest.mark.parametrize("impact", [0, 6])
def test_impact_out_of_range_is_422(pm_api: Api, impact: int) -> None:
    rid = pm_api.post("", CREATE).json()["id"]
    response = pm_api.post(f"/{rid}/assess", {"impact": impact, "likelihood": 3})
    assert response.status_code == 422
    assert "impact" in response.json()["error"]["fields"]
    assert Release.objects.get().status == "draft"


def test_extreme_approval_is_409_naming_the_rule(pm_api: Api, cto: Any) -> None:
    rid = pm_api.post("", CREATE).json()["id"]
    pm_api.post(f"/{rid}/assess", {"impact": 5, "likelihood": 5})
    response = Api(cto).post(f"/{rid}/approve", {"role": "cto"})
    assert response.status_code == 409
    assert (
        response.json()["error"]["message"]
        == "Risk level 'extreme' is not releasable under policy school-saas: Reduce the risk and re-assess"
    )


def test_illegal_transition_is_409_listing_allowed(pm_api: Api) -> None:
    rid = pm_api.post("", CREATE).json()["id"]
    response = pm_api.post(f"/{rid}/complete", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert (
        response.json()["error"]["message"]
        == "Cannot move from 'draft' to 'completed' (allowed from 'draft': assessed, postponed, cancelled)"
    )


def test_read_token_cannot_write(
    product_manager: Any, school_saas: Any, presenter: Any, make_release: Any
) -> None:
    release = make_release()
    reader = Api(product_manager, scope="read")
    assert reader.get(f"/{release.pk}").status_code == 200
    response = reader.post(f"/{release.pk}/cancel", {})
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]
    assert reader.post("", CREATE | {"version": "9.9.9"}).status_code == 403
    assert Release.objects.get().status == "draft"


def test_outsider_contact_gets_404(outsider_contact: Any, make_release: Any) -> None:
    release = make_release()
    client = Client()
    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    assert client.get(f"{URL}/{release.pk}").status_code == 404
    assert client.get(f"{URL}/{release.pk}/audit").status_code == 404
    assert client.get(URL).json()["items"] == []
    response = client.post(
        f"{URL}/{release.pk}/cancel",
        {},
        content_type="application/json",
        headers={"X-CSRFToken": "x"},
    )
    assert response.status_code in (403, 404)
    assert Release.objects.get().status == "draft"


def test_anonymous_is_401(make_release: Any) -> None:
    release = make_release()
    assert Client().get(f"{URL}/{release.pk}").status_code == 401


def test_huge_ids_are_422_not_500(pm_api: Api) -> None:
    assert pm_api.get("/99999999999999999999").status_code in (404, 422)
    assert pm_api.get("/0").status_code == 422


def test_list_filters_and_query_count_does_not_grow(
    pm_api: Api, make_release: Any, product_manager: Any
) -> None:
    from releasedesk.releases.services import assess_release, staff_actor

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = pm_api.get("", limit=100)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    first = make_release("1.0.0")
    assess_release(
        release=first,
        actor=staff_actor(product_manager),
        assessor=product_manager,
        impact=1,
        likelihood=1,
    )
    few = count_queries()
    for i in range(8):
        r = make_release(f"1.1.{i}")
        assess_release(
            release=r,
            actor=staff_actor(product_manager),
            assessor=product_manager,
            impact=2,
            likelihood=2,
        )
    assert count_queries() <= few
    listed = pm_api.get("", status="assessed").json()
    assert listed["count"] == 9
    assert {item["level"] for item in listed["items"]} == {"negligible", "low"}
    assert pm_api.get("", status="draft").json()["count"] == 0
    assert pm_api.get("", product="nope").json()["count"] == 0
    assert pm_api.get("", status="bogus").status_code == 422
