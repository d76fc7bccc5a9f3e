from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.test import Client

from releasedesk.accounts import services
from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.audit.models import AuditEvent
from releasedesk.core.context import SYSTEM
from releasedesk.core.errors import ValidationFailed
from tests.accounts.conftest import bearer

pytestmark = pytest.mark.django_db

ME = "/api/v1/accounts/me"
TOKENS = "/api/v1/accounts/tokens"


def test_raw_token_is_never_stored(product_manager: Any, make_token: Any) -> None:
    token, raw = make_token(product_manager, "read")
    assert raw.startswith(f"rd_{token.prefix}_")
    assert len(raw) > 40
    row = ApiToken.objects.get(pk=token.pk)
    assert row.token_hash == hash_token(raw)
    assert raw not in json.dumps(list(ApiToken.objects.values()), default=str)
    events = json.dumps(list(AuditEvent.objects.values("before", "after")), default=str)
    assert raw not in events
    assert row.token_hash not in events
    assert "pm@vendor.test" not in events


def test_read_token_reads_but_cannot_write(
    client: Client, product_manager: Any, make_token: Any
) -> None:
    _, raw = make_token(product_manager, "read")
    response = client.get(ME, **bearer(raw))
    assert response.status_code == 200
    assert response.json() == {
        "id": product_manager.pk,
        "username": "pm",
        "is_staff": True,
        "is_admin": False,
        "roles": ["product_manager"],
        "auth": "token",
        "token_scope": "read",
    }
    refused = client.post(
        TOKENS, {"name": "x", "scope": "write"}, content_type="application/json", **bearer(raw)
    )
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"]["code"] == "permission_denied"
    assert "read-only" in body["error"]["message"]
    assert ApiToken.objects.filter(user=product_manager).count() == 1


def test_no_or_unknown_token_is_401(client: Client, product_manager: Any) -> None:
    assert client.get(ME).status_code == 401
    response = client.get(ME, **bearer("rd_nothing_here"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_revoked_token_is_401(client: Client, product_manager: Any, make_token: Any) -> None:
    token, raw = make_token(product_manager, "write")
    assert client.get(ME, **bearer(raw)).status_code == 200
    services.revoke_api_token(actor=SYSTEM, token=token)
    response = client.get(ME, **bearer(raw))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_expired_token_is_401(client: Client, product_manager: Any, make_token: Any) -> None:
    with time_machine.travel(dt.datetime(2027, 5, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        _, raw = make_token(
            product_manager, "read", expires_at=dt.datetime(2027, 5, 2, 12, 0, tzinfo=dt.UTC)
        )
    with time_machine.travel(dt.datetime(2027, 5, 2, 11, 59, 59, tzinfo=dt.UTC), tick=False):
        assert client.get(ME, **bearer(raw)).status_code == 200
    with time_machine.travel(dt.datetime(2027, 5, 2, 12, 0, tzinfo=dt.UTC), tick=False):
        assert client.get(ME, **bearer(raw)).status_code == 401


def test_inactive_users_token_is_401(client: Client, product_manager: Any, make_token: Any) -> None:
    _, raw = make_token(product_manager, "read")
    product_manager.is_active = False
    product_manager.save()
    assert client.get(ME, **bearer(raw)).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(
    client: Client, product_manager: Any, make_token: Any
) -> None:
    t0 = dt.datetime(2027, 5, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(t0, tick=False):
        token, raw = make_token(product_manager, "read")
        client.get(ME, **bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == t0
    with time_machine.travel(t0 + dt.timedelta(seconds=59), tick=False):
        client.get(ME, **bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == t0
    with time_machine.travel(t0 + dt.timedelta(seconds=61), tick=False):
        client.get(ME, **bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == t0 + dt.timedelta(seconds=61)


def test_create_token_via_api_shows_raw_once(
    client: Client, product_manager: Any, make_token: Any
) -> None:
    _, raw = make_token(product_manager, "write")
    created = client.post(
        TOKENS, {"name": "ci", "scope": "read"}, content_type="application/json", **bearer(raw)
    )
    assert created.status_code == 201
    new_raw = created.json()["token"]
    assert created.json()["scope"] == "read"
    assert client.get(ME, **bearer(new_raw)).json()["token_scope"] == "read"
    listed = client.get(TOKENS, **bearer(raw))
    assert listed.status_code == 200
    text = listed.content.decode()
    assert new_raw not in text
    assert hash_token(new_raw) not in text
    assert listed.json()["count"] == 2
    assert set(listed.json()["items"][0]) == {
        "id",
        "name",
        "prefix",
        "scope",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    }


def test_create_token_rejects_past_and_naive_expiry(
    client: Client, product_manager: Any, make_token: Any
) -> None:
    _, raw = make_token(product_manager, "write")
    past = client.post(
        TOKENS,
        {"name": "x", "expires_at": "2000-01-01T00:00:00Z"},
        content_type="application/json",
        **bearer(raw),
    )
    assert past.status_code == 422
    assert past.json()["error"]["fields"] == {"expires_at": "must be in the future"}
    naive = client.post(
        TOKENS,
        {"name": "x", "expires_at": "2099-01-01T00:00:00"},
        content_type="application/json",
        **bearer(raw),
    )
    assert naive.status_code == 422
    huge = client.post(
        TOKENS,
        {"name": "x", "expires_at": "9999-12-31T23:59:59-23:59"},
        content_type="application/json",
        **bearer(raw),
    )
    assert huge.status_code == 422
    bad_scope = client.post(
        TOKENS, {"name": "x", "scope": "admin"}, content_type="application/json", **bearer(raw)
    )
    assert bad_scope.status_code == 422
    assert "scope" in bad_scope.json()["error"]["fields"]


def test_revoke_own_token_and_not_others(
    client: Client, product_manager: Any, cto: Any, make_token: Any
) -> None:
    _, pm_raw = make_token(product_manager, "write")
    cto_token, cto_raw = make_token(cto, "read")
    # someone else's token: 404, and it still works
    response = client.post(f"{TOKENS}/{cto_token.pk}/revoke", **bearer(pm_raw))
    assert response.status_code == 404
    assert client.get(ME, **bearer(cto_raw)).status_code == 200
    own, _ = make_token(product_manager, "read")
    revoked = client.post(f"{TOKENS}/{own.pk}/revoke", **bearer(pm_raw))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    again = client.post(f"{TOKENS}/{own.pk}/revoke", **bearer(pm_raw))
    assert again.status_code == 409
    assert (
        AuditEvent.objects.filter(
            action="accounts.token_revoked", object_id=str(own.pk), actor_kind="token"
        ).count()
        == 1
    )


def test_token_service_validates() -> None:
    with pytest.raises(ValidationFailed, match="scope"):
        services.create_api_token(actor=SYSTEM, user=None, name="x", scope="root")  # type: ignore[arg-type]


def test_staff_session_works_for_the_api(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json()["auth"] == "session"
    assert me.json()["token_scope"] is None


def test_session_api_write_requires_csrf(product_manager: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(product_manager)
    refused = client.post(TOKENS, {"name": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    client.get("/login/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    created = client.post(
        TOKENS, {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert created.status_code == 201


def test_outsider_contact_gets_nothing(
    client: Client, outsider_contact: Any, product_manager: Any, make_token: Any
) -> None:
    from releasedesk.portal import services as portal_services

    token, _ = make_token(product_manager, "read")
    client.post(f"/portal/login/link/{portal_services.make_sign_in_token(outsider_contact)}/")
    assert client.get(ME).status_code == 401
    assert client.get(TOKENS).status_code == 401
    assert client.post(f"{TOKENS}/{token.pk}/revoke").status_code == 401
