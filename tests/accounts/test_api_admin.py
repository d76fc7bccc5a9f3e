from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from releasedesk.accounts.models import Role, Team, User
from releasedesk.audit.models import AuditEvent
from tests.accounts.conftest import bearer

pytestmark = pytest.mark.django_db

BASE = "/api/v1/accounts"


def _post(client: Client, path: str, body: Any, raw: str) -> Any:
    return client.post(f"{BASE}{path}", body, content_type="application/json", **bearer(raw))


def _put(client: Client, path: str, body: Any, raw: str) -> Any:
    return client.put(f"{BASE}{path}", body, content_type="application/json", **bearer(raw))


@pytest.fixture
def admin_raw(vendor_admin: Any, make_token: Any) -> str:
    return str(make_token(vendor_admin, "write")[1])


def test_roles_list_is_paginated(client: Client, admin_raw: str) -> None:
    response = client.get(f"{BASE}/roles?limit=2&offset=1", **bearer(admin_raw))
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == Role.objects.count()
    assert [r["slug"] for r in data["items"]] == list(
        Role.objects.order_by("slug").values_list("slug", flat=True)[1:3]
    )
    assert client.get(f"{BASE}/roles?limit=100000", **bearer(admin_raw)).status_code == 422


def test_admin_creates_role_user_and_team(
    client: Client, admin_raw: str, product_manager: Any
) -> None:
    role = _post(
        client, "/roles", {"slug": "release_captain", "name": "Release captain"}, admin_raw
    )
    assert role.status_code == 201
    assert role.json() == {"slug": "release_captain", "name": "Release captain", "description": ""}
    user = _post(
        client,
        "/users",
        {
            "username": "rita",
            "email": "rita@vendor.test",
            "password": "a-long-password",
            "roles": ["release_captain", "cto"],
        },
        admin_raw,
    )
    assert user.status_code == 201
    assert user.json()["roles"] == ["cto", "release_captain"]
    rita = User.objects.get(username="rita")
    assert rita.check_password("a-long-password")
    team = _post(
        client,
        "/teams",
        {"slug": "delivery", "name": "Delivery", "roles": ["delivery"], "member_ids": [rita.pk]},
        admin_raw,
    )
    assert team.status_code == 201
    assert team.json()["member_ids"] == [rita.pk]
    team_id = team.json()["id"]
    members = _put(
        client,
        f"/teams/{team_id}/members",
        {"member_ids": [rita.pk, product_manager.pk]},
        admin_raw,
    )
    assert members.status_code == 200
    assert members.json()["member_ids"] == sorted([rita.pk, product_manager.pk])
    roles = _put(client, f"/users/{rita.pk}/roles", {"roles": ["product_manager"]}, admin_raw)
    assert roles.json()["roles"] == ["product_manager"]
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-5:] == [
        "accounts.role_created",
        "accounts.user_created",
        "accounts.team_created",
        "accounts.team_members_set",
        "accounts.user_roles_set",
    ]
    text = str(list(AuditEvent.objects.values("before", "after")))
    assert "rita" not in text


def test_user_listing(client: Client, admin_raw: str, product_manager: Any) -> None:
    response = client.get(f"{BASE}/users", **bearer(admin_raw))
    assert response.status_code == 200
    items = {u["username"]: u for u in response.json()["items"]}
    assert items["pm"]["roles"] == ["product_manager"]
    assert "password" not in items["pm"]
    assert (
        client.get(f"{BASE}/users/{product_manager.pk}", **bearer(admin_raw)).json()["username"]
        == "pm"
    )
    assert client.get(f"{BASE}/users/999999", **bearer(admin_raw)).status_code == 404


def test_bad_input_is_specific_and_changes_nothing(client: Client, admin_raw: str) -> None:
    before = User.objects.count()
    unknown = _post(client, "/users", {"username": "x", "roles": ["wizard"]}, admin_raw)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"]["roles"].startswith(
        "unknown role 'wizard'; allowed: admin,"
    )
    assert _post(client, "/users", {"username": "pm x!"}, admin_raw).status_code == 422
    assert _post(client, "/users", {"username": "x", "email": "nope"}, admin_raw).json()["error"][
        "fields"
    ] == {"email": "not a valid e-mail address"}
    assert _post(client, "/roles", {"slug": "Bad Slug", "name": "x"}, admin_raw).status_code == 422
    assert _post(client, "/roles", {"slug": "cto", "name": "dup"}, admin_raw).status_code == 409
    assert _post(
        client, "/teams", {"slug": "t", "name": "T", "member_ids": [987654]}, admin_raw
    ).json()["error"]["fields"] == {"member_ids": "unknown staff user id 987654"}
    assert _put(client, "/teams/999999/members", {"member_ids": []}, admin_raw).status_code == 404
    assert _put(client, "/users/0/roles", {"roles": []}, admin_raw).status_code == 422
    assert User.objects.count() == before
    assert not Team.objects.exists()


def test_non_admin_and_read_tokens_cannot_manage(
    client: Client, vendor_admin: Any, product_manager: Any, make_token: Any
) -> None:
    _, pm_raw = make_token(product_manager, "write")
    refused = _post(client, "/roles", {"slug": "x", "name": "X"}, pm_raw)
    assert refused.status_code == 403
    assert "admin" in refused.json()["error"]["message"]
    assert _post(client, "/users", {"username": "x"}, pm_raw).status_code == 403
    assert (
        _put(client, f"/users/{product_manager.pk}/roles", {"roles": ["admin"]}, pm_raw).status_code
        == 403
    )
    _, admin_read = make_token(vendor_admin, "read")
    assert _post(client, "/users", {"username": "x"}, admin_read).status_code == 403
    assert client.get(f"{BASE}/teams", **bearer(pm_raw)).status_code == 200
    assert product_manager.role_slugs() == {"product_manager"}


def test_outsider_contact_cannot_use_accounts_api(
    client: Client, outsider_contact: Any, product_manager: Any
) -> None:
    from releasedesk.portal import services as portal_services

    client.post(f"/portal/login/link/{portal_services.make_sign_in_token(outsider_contact)}/")
    assert client.get(f"{BASE}/users").status_code == 401
    assert client.get(f"{BASE}/users/{product_manager.pk}").status_code == 401
    assert (
        client.post(
            f"{BASE}/roles", {"slug": "x", "name": "X"}, content_type="application/json"
        ).status_code
        == 401
    )


def test_nul_characters_are_refused(client: Client, admin_raw: str) -> None:
    response = _post(client, "/roles", {"slug": "ok_slug", "name": "bad\u0000name"}, admin_raw)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"name": "contains a NUL character"}
    assert _post(client, "/tokens", {"name": "x\u0000"}, admin_raw).status_code == 422
    assert not Role.objects.filter(slug="ok_slug").exists()
