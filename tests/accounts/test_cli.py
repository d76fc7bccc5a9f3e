from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken, User
from releasedesk.audit.models import AuditEvent
from tests.accounts.conftest import bearer

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_user_create_with_roles(roles: Any) -> None:
    out = _run(
        "user",
        "create",
        "paula",
        "--email",
        "paula@vendor.test",
        "--role",
        "product_manager",
        "--role",
        "cto",
        "--password",
        "long-enough-pw",
    )
    user = User.objects.get(username="paula")
    assert out.strip() == f"Created user 'paula' (id {user.pk}) with roles: cto, product_manager."
    assert user.is_staff
    assert not user.is_superuser
    assert user.check_password("long-enough-pw")
    assert user.role_slugs() == {"product_manager", "cto"}
    event = AuditEvent.objects.get(action="accounts.user_created")
    assert event.actor_kind == "system"
    assert event.after == {
        "roles": ["cto", "product_manager"],
        "is_staff": True,
        "is_superuser": False,
    }


def test_user_create_password_stdin_json_superuser(
    roles: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin-secret\n"))
    out = _run("user", "create", "root2", "--password-stdin", "--superuser", "--json")
    data = json.loads(out)
    user = User.objects.get(username="root2")
    assert data == {
        "id": user.pk,
        "username": "root2",
        "email": "",
        "roles": [],
        "is_superuser": True,
        "can_sign_in": True,
    }
    assert user.check_password("from-stdin-secret")
    assert user.is_superuser


def test_user_create_unknown_role_lists_allowed(roles: Any) -> None:
    with pytest.raises(CommandError) as exc:
        _run("user", "create", "x", "--role", "wizard")
    message = str(exc.value)
    assert message.startswith("Unknown role 'wizard' (allowed: admin, change_management, cto,")
    assert "product_manager" in message
    assert exc.value.returncode == 1
    assert not User.objects.filter(username="x").exists()
    assert not AuditEvent.objects.filter(action="accounts.user_created").exists()


def test_user_create_duplicate_and_bad_input(roles: Any, product_manager: Any) -> None:
    with pytest.raises(CommandError, match="already exists"):
        _run("user", "create", "PM")
    with pytest.raises(CommandError, match="not a valid e-mail address"):
        _run("user", "create", "y", "--email", "not-an-address")
    with pytest.raises(CommandError, match="at least 8 characters"):
        _run("user", "create", "y", "--password", "short")


def test_token_create_prints_raw_once(client: Client, product_manager: Any) -> None:
    out = _run("token", "create", "pm", "--name", "ci", "--scope", "write")
    lines = out.strip().splitlines()
    raw = lines[-1]
    token = ApiToken.objects.get(user=product_manager)
    assert lines[0] == f"Created write token 'ci' (id {token.pk}) for 'pm'."
    assert raw.startswith(f"rd_{token.prefix}_")
    assert token.token_hash == hash_token(raw)
    assert client.get("/api/v1/accounts/me", **bearer(raw)).json()["token_scope"] == "write"


def test_token_create_json(product_manager: Any) -> None:
    data = json.loads(
        _run(
            "token",
            "create",
            "pm",
            "--name",
            "ro",
            "--scope",
            "read",
            "--json",
            "--expires-days",
            "30",
        )
    )
    token = ApiToken.objects.get(pk=data["id"])
    assert data["scope"] == "read"
    assert data["user_id"] == product_manager.pk
    assert data["expires_at"] == token.expires_at.isoformat()  # type: ignore[union-attr]
    assert token.token_hash == hash_token(data["token"])


def test_token_create_errors(product_manager: Any) -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _run("token", "create", "nobody", "--name", "x", "--scope", "read")
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        _run("token", "create", "pm", "--name", "x", "--scope", "admin")
    with pytest.raises(CommandError, match="between 1 and 3650"):
        _run("token", "create", "pm", "--name", "x", "--scope", "read", "--expires-days", "0")
    assert not ApiToken.objects.exists()


def test_token_revoke(product_manager: Any) -> None:
    data = json.loads(_run("token", "create", "pm", "--name", "x", "--scope", "read", "--json"))
    assert (
        _run("token", "revoke", str(data["id"])).strip().startswith(f"Revoked token {data['id']}")
    )
    with pytest.raises(CommandError, match="already revoked"):
        _run("token", "revoke", str(data["id"]))
