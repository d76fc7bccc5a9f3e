"""/api/v1/policies/ and the staff pages."""

from __future__ import annotations

from typing import Any

import pytest

from releasedesk.policies.models import PolicyVersion
from releasedesk.policies.services import apply_policy
from tests.policies.conftest import example_source

pytestmark = pytest.mark.django_db
BASE = "/api/v1/policies"


@pytest.fixture
def two_versions(vendor_admin: Any) -> PolicyVersion:
    source = example_source("school-saas.yaml")
    apply_policy(source=source, filename="school-saas.yaml", actor=vendor_admin)
    return apply_policy(
        source=source.replace("advice: Reduce the risk and re-assess", "advice: Split the release"),
        filename="school-saas.yaml",
        actor=vendor_admin,
    )


def test_list_get_versions_and_diff(
    client: Any, read_headers: dict[str, str], two_versions: PolicyVersion
) -> None:
    r = client.get(f"{BASE}/", **read_headers)
    assert r.status_code == 200
    assert r.json()["items"] == [
        {
            "slug": "school-saas",
            "name": "school-saas",
            "created_at": r.json()["items"][0]["created_at"],
            "latest_version": 2,
            "version_count": 2,
        }
    ]
    r = client.get(f"{BASE}/school-saas", **read_headers)
    assert r.json()["latest"]["number"] == 2
    assert r.json()["latest"]["document"]["levels"]["extreme"]["advice"] == "Split the release"
    r = client.get(f"{BASE}/school-saas/versions", **read_headers)
    assert [v["number"] for v in r.json()["items"]] == [2, 1]
    r = client.get(f"{BASE}/school-saas/versions/1", **read_headers)
    assert "Reduce the risk" in r.json()["source_yaml"]
    r = client.get(f"{BASE}/school-saas/diff?from=1&to=2", **read_headers)
    diff = r.json()["diff"]
    assert "-    advice: Reduce the risk and re-assess\n+    advice: Split the release\n" in diff
    assert client.get(f"{BASE}/school-saas/versions/9", **read_headers).status_code == 404
    assert client.get(f"{BASE}/nope", **read_headers).status_code == 404
    assert client.get(f"{BASE}/school-saas/versions/99999999999", **read_headers).status_code == 422


def test_validate_has_no_side_effects(client: Any, read_headers: dict[str, str]) -> None:
    r = client.post(
        f"{BASE}/validate",
        {
            "filename": "x.yaml",
            "source": "policy: x\nzone: Europe/Amsterdam\nlevels: {std: {colour: red}}\ndefault_level: std\n",
        },
        content_type="application/json",
        **read_headers,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["valid"] is False
    assert (
        body["errors"][0]["text"]
        == "x.yaml:3:16: levels.std.colour: unknown key 'colour' (allowed: releasable, advice, window, approvals, notice, verification)"
    )
    assert (body["errors"][0]["line"], body["errors"][0]["column"]) == (3, 16)
    assert not PolicyVersion.objects.exists()


def test_apply_needs_write_token_and_reports_errors(
    client: Any, read_headers: dict[str, str], write_headers: dict[str, str]
) -> None:
    payload = {"filename": "hosted-monthly.yaml", "source": example_source("hosted-monthly.yaml")}
    r = client.post(f"{BASE}/apply", payload, content_type="application/json", **read_headers)
    assert r.status_code == 403
    r = client.post(f"{BASE}/apply", payload, content_type="application/json", **write_headers)
    assert r.status_code == 201
    assert (r.json()["number"], r.json()["created"]) == (1, True)
    r = client.post(f"{BASE}/apply", payload, content_type="application/json", **write_headers)
    assert (r.status_code, r.json()["created"]) == (200, False)
    r = client.post(
        f"{BASE}/apply",
        {"filename": "b.yaml", "source": "policy: b\nzone: Europe/London\n"},
        content_type="application/json",
        **write_headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    assert [e["text"] for e in r.json()["errors"]] == [
        "b.yaml:1:1: levels: required",
        "b.yaml:1:1: default_level: required when the policy has no risk model",
    ]


def test_schema_endpoint(client: Any, read_headers: dict[str, str]) -> None:
    r = client.get(f"{BASE}/schema", **read_headers)
    assert r.status_code == 200
    assert r.json()["title"] == "ReleaseDesk policy"


def test_delete_via_api(
    client: Any, write_headers: dict[str, str], two_versions: PolicyVersion
) -> None:
    assert client.delete(f"{BASE}/school-saas", **write_headers).status_code == 204
    assert not PolicyVersion.objects.exists()


def test_outsider_gets_404(outsider_client: Any, two_versions: PolicyVersion) -> None:
    for url in (
        f"{BASE}/",
        f"{BASE}/school-saas",
        f"{BASE}/school-saas/versions",
        f"{BASE}/school-saas/versions/1",
        f"{BASE}/school-saas/diff?from=1&to=2",
        f"{BASE}/schema",
    ):
        assert outsider_client.get(url).status_code == 404, url
    r = outsider_client.post(
        f"{BASE}/apply",
        {"filename": "x", "source": example_source("hosted-monthly.yaml")},
        content_type="application/json",
        HTTP_X_CSRFTOKEN="x",
    )
    assert r.status_code in (403, 404)
    for url in ("/policies/", "/policies/school-saas/", "/policies/school-saas/diff/"):
        assert outsider_client.get(url).status_code == 404, url


def test_pages(staff_client: Any, two_versions: PolicyVersion) -> None:
    r = staff_client.get("/policies/")
    assert r.status_code == 200
    assert b"school-saas" in r.content
    assert b"v2" in r.content
    r = staff_client.get("/policies/school-saas/?version=1")
    assert r.status_code == 200
    assert b"Reduce the risk and re-assess" in r.content
    r = staff_client.get("/policies/school-saas/diff/?from=1&to=2")
    assert r.status_code == 200
    html = r.content.decode()
    assert '<div class="removed">-    advice: Reduce the risk and re-assess</div>' in html
    assert '<div class="added">+    advice: Split the release</div>' in html
    assert staff_client.get("/policies/school-saas/?version=abc").status_code == 404
    assert staff_client.get("/policies/unknown/").status_code == 404


def test_anonymous_pages_redirect_to_login(client: Any) -> None:
    r = client.get("/policies/")
    assert r.status_code == 302
