"""/api/v1/timeline: steps and runs, controls, marks and stage passes; tokens and scoping."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.catalog.models import Instance
from releasedesk.core.queue_models import WorkState
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.releases.models import Release
from releasedesk.timeline.models import StagePass
from tests.timeline.conftest import SLOT, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db

URL = "/api/v1/timeline"


class Api:
    def __init__(self, user: Any, scope: str = "write") -> None:
        raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
        ApiToken.objects.create(
            user=user, name="test", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
        )
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {raw}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(URL + path, params, headers=self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            URL + path, body, content_type="application/json", headers=self.headers
        )


@pytest.fixture
def admin_api(vendor_admin: Any) -> Api:
    return Api(vendor_admin)


def test_list_steps_shows_utc_and_local_times(
    release: Release, make_step: Any, admin_api: Api, saas_eu: Instance
) -> None:
    step = make_step(ends_at=SLOT + dt.timedelta(hours=6))
    make_step(kind="notice", key="n1", due_at=dt.datetime(2027, 3, 25, 14, 0, tzinfo=dt.UTC))
    response = admin_api.get(f"/releases/{release.pk}/steps")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert [i["key"] for i in body["items"]] == ["n1", step.key]
    assert [i["due_local"] for i in body["items"]] == [
        "2027-03-25 15:00 CET (Europe/Amsterdam)",
        "2027-04-01 16:00 CEST (Europe/Amsterdam)",
    ]
    item = body["items"][1]
    assert (item["due_at"], item["instance"], item["state"], item["waiting_for_person"]) == (
        "2027-04-01T14:00:00Z",
        "saas-eu",
        "pending",
        False,
    )
    only = admin_api.get(f"/releases/{release.pk}/steps", kind="notice").json()
    assert [i["key"] for i in only["items"]] == ["n1"]
    bad = admin_api.get(f"/releases/{release.pk}/steps", state="sleeping")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"state": "unknown state"}


def test_list_query_count_does_not_grow_with_steps(
    release: Release, make_step: Any, admin_api: Api, presenter: Any
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_api.get(f"/releases/{release.pk}/steps").status_code == 200
        return len(ctx.captured_queries)

    make_step()
    count()  # the first request also records the token's last use
    few = count()
    for i in range(6):
        inst = Instance.objects.create(
            slug=f"i{i}", name=f"I{i}", kind="dedicated", product=presenter
        )
        make_step(key=f"k{i}", instance=inst)
    assert count() == few


def test_manual_step_marked_done_through_the_api(
    release: Release, make_step: Any, admin_api: Api, saas_eu: Instance, vendor_admin: Any
) -> None:
    set_executor(saas_eu, kind="manual", instructions="Run the playbook")
    step = make_step()
    run_worker(SLOT)
    detail = admin_api.get(f"/steps/{step.pk}").json()
    assert (detail["state"], detail["waiting_for_person"]) == ("blocked", True)
    assert [(r["number"], r["status"], r["executor"]) for r in detail["runs"]] == [
        (1, "waiting", "manual")
    ]
    with time_machine.travel(SLOT + dt.timedelta(minutes=30), tick=False):
        response = admin_api.post(f"/steps/{step.pk}/mark", {"outcome": "done", "comment": "ok"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["finished_at"], body["waiting_for_person"]) == (
        "done",
        "2027-04-01T14:30:00Z",
        False,
    )
    run = body["runs"][0]
    assert (run["status"], run["decided_by_id"], run["comment"], run["version_after"]) == (
        "succeeded",
        vendor_admin.pk,
        "ok",
        "5.4.0",
    )
    assert Instance.objects.get(pk=saas_eu.pk).current_version == "5.4.0"
    assert "step.marked_done" in audit_actions(release)


def test_manual_step_marked_failed_needs_a_comment(
    release: Release, make_step: Any, admin_api: Api, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="manual")
    step = make_step(payload={"on_failure": {"retries": 0, "then": "skip"}})
    run_worker(SLOT)
    missing = admin_api.post(f"/steps/{step.pk}/mark", {"outcome": "failed"})
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"] == {"comment": "required"}
    response = admin_api.post(f"/steps/{step.pk}/mark", {"outcome": "failed", "comment": "broken"})
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["last_error"]) == (
        "skipped",
        "marked failed by admin: broken (after 1 failed run); skipped by the failure policy",
    )


def test_skip_retry_and_conflicts(release: Release, make_step: Any, admin_api: Api) -> None:
    step = make_step()
    skipped = admin_api.post(f"/steps/{step.pk}/skip", {"reason": "not needed"})
    assert (skipped.status_code, skipped.json()["state"]) == (200, "skipped")
    again = admin_api.post(f"/steps/{step.pk}/skip", {"reason": "again"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_transition")
    retried = admin_api.post(f"/steps/{step.pk}/retry", {})
    assert (retried.status_code, retried.json()["state"]) == (200, "pending")
    assert audit_actions(release)[-2:] == ["step.skipped", "step.retried"]


def test_pause_resume_cancel_through_the_api(
    release: Release, make_step: Any, admin_api: Api
) -> None:
    make_step()
    make_step(kind="notice", key="n1")
    paused = admin_api.post(f"/releases/{release.pk}/pause", {"reason": "incident"})
    assert paused.status_code == 200, paused.content
    assert paused.json() == {"release_id": release.pk, "status": "paused", "steps": {"blocked": 2}}
    resumed = admin_api.post(f"/releases/{release.pk}/resume", {})
    assert resumed.json() == {
        "release_id": release.pk,
        "status": "scheduled",
        "steps": {"pending": 2},
    }
    cancelled = admin_api.post(f"/releases/{release.pk}/cancel", {"reason": "withdrawn"})
    assert cancelled.json() == {
        "release_id": release.pk,
        "status": "cancelled",
        "steps": {"cancelled": 2},
    }
    twice = admin_api.post(f"/releases/{release.pk}/cancel", {})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "invalid_transition")


def test_stages_listed_and_passed_through_the_api(
    release: Release, admin_api: Api, roles: dict[str, Any]
) -> None:
    from releasedesk.accounts.models import User

    version = release.policy_version
    assert version is not None
    version.document = {
        **version.document,
        "stages": [{"name": "service_acceptance", "lasts": "14d", "approval": "change_management"}],
    }
    version.save(update_fields=["document"])
    listed = admin_api.get(f"/releases/{release.pk}/stages").json()
    assert listed == [
        {
            "name": "service_acceptance",
            "role": "change_management",
            "gates_customers": True,
            "passed": None,
        }
    ]
    refused = admin_api.post(f"/releases/{release.pk}/stages", {"stage": "service_acceptance"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")
    cm = User.objects.create_user(username="cm", is_staff=True)
    cm.roles.set([roles["change_management"]])
    with time_machine.travel(dt.datetime(2027, 2, 1, 10, 0, tzinfo=dt.UTC), tick=False):
        passed = Api(cm).post(f"/releases/{release.pk}/stages", {"stage": "service_acceptance"})
    assert passed.status_code == 201, passed.content
    assert passed.json()[0]["passed"] == {
        "passed_at": "2027-02-01T10:00:00Z",
        "approved_by_id": cm.pk,
        "role": "change_management",
        "comment": "",
    }


def test_read_only_token_is_refused_and_changes_nothing(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    step = make_step()
    reader = Api(vendor_admin, scope="read")
    assert reader.get(f"/steps/{step.pk}").status_code == 200
    for path, body in [
        (f"/steps/{step.pk}/skip", {"reason": "x"}),
        (f"/steps/{step.pk}/retry", {}),
        (f"/steps/{step.pk}/mark", {"outcome": "done"}),
        (f"/releases/{release.pk}/pause", {}),
        (f"/releases/{release.pk}/cancel", {}),
        (f"/releases/{release.pk}/stages", {"stage": "x"}),
    ]:
        response = reader.post(path, body)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "permission_denied"
    step.refresh_from_db()
    release.refresh_from_db()
    assert (step.state, release.status) == (WorkState.PENDING, "scheduled")
    assert StagePass.objects.count() == 0


def test_outsider_contact_gets_404_and_anonymous_401(
    release: Release, make_step: Any, outsider_contact: Any
) -> None:
    step = make_step()
    client = Client()
    assert client.get(f"{URL}/steps/{step.pk}").status_code == 401
    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    for path in (
        f"/steps/{step.pk}",
        f"/releases/{release.pk}/steps",
        f"/releases/{release.pk}/stages",
    ):
        response = client.get(URL + path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    response = client.post(
        f"{URL}/steps/{step.pk}/skip", {"reason": "x"}, content_type="application/json"
    )
    assert response.status_code in (403, 404)
    step.refresh_from_db()
    assert step.state == WorkState.PENDING


def test_unknown_step_is_404(admin_api: Api, release: Release) -> None:
    response = admin_api.get("/steps/999999")
    assert (response.status_code, response.json()["error"]["message"]) == (
        404,
        "Step 999999 not found.",
    )


def test_unstorable_text_is_a_422_not_a_500(
    release: Release, make_step: Any, admin_api: Api
) -> None:
    step = make_step()
    response = admin_api.post(f"/steps/{step.pk}/skip", {"reason": "bad\u0000reason"})
    assert (response.status_code, response.json()["error"]["fields"]) == (
        422,
        {"comment": "no NUL characters or lone surrogates"},
    )
    step.refresh_from_db()
    assert step.state == WorkState.PENDING
    paused = admin_api.post(f"/releases/{release.pk}/pause", {"reason": "nul\u0000here"})
    assert paused.status_code == 200
    step.refresh_from_db()
    assert step.last_error == "Held: release 5.4.0 is paused (nulhere)"
