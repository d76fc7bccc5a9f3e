from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from releasedesk.accounts.models import LoginAttempt

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 6, 1, 8, 0, tzinfo=dt.UTC)
GOOD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.LOGIN_THROTTLE_LIMIT = 5
    settings.LOGIN_THROTTLE_WINDOW = 900


@pytest.fixture
def auth_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts password checks made by the login form."""
    import django.contrib.auth.forms as auth_forms

    calls: list[str] = []
    real = auth_forms.authenticate  # type: ignore[attr-defined]

    def counting(request: Any = None, **credentials: Any) -> Any:
        calls.append(str(credentials.get("username")))
        return real(request, **credentials)

    monkeypatch.setattr(auth_forms, "authenticate", counting)
    return calls


def _login(client: Client, password: str, username: str = "pm", ip: str = "10.0.0.1") -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_sixth_attempt_is_blocked_without_checking_the_password(
    client: Client, product_manager: Any, auth_calls: list[str]
) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            response = _login(client, "wrong")
            assert response.status_code == 200
            assert "_auth_user_id" not in client.session
        assert len(auth_calls) == 5
        blocked = _login(client, GOOD)
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "900"
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    assert len(auth_calls) == 5  # the 6th attempt never reached authenticate()


def test_wait_shrinks_and_block_ends_after_the_window(client: Client, product_manager: Any) -> None:
    for minute in range(5):
        with time_machine.travel(T0 + dt.timedelta(minutes=minute), tick=False):
            _login(client, "wrong")
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        response = _login(client, GOOD)
        assert response.status_code == 429
        assert "Try again in 5 minutes" in response.content.decode()
    with time_machine.travel(T0 + dt.timedelta(minutes=15, seconds=1), tick=False):
        response = _login(client, GOOD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(product_manager.pk)


def test_success_clears_the_key(client: Client, product_manager: Any) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(4):
            _login(client, "wrong")
        assert LoginAttempt.objects.count() == 4
        assert _login(client, GOOD).status_code == 302
        assert LoginAttempt.objects.count() == 0
        client.logout()
        for _ in range(4):
            _login(client, "wrong")
        assert _login(client, GOOD).status_code == 302


def test_key_is_per_username_and_address(client: Client, product_manager: Any, cto: Any) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            _login(client, "wrong", username="PM")
        assert _login(client, GOOD, username="pm").status_code == 429  # case-insensitive username
        assert _login(client, GOOD, username="pm", ip="10.0.0.2").status_code == 302
        client.logout()
        assert _login(client, GOOD, username="cto").status_code == 302


def test_throttle_keys_store_no_username(client: Client, product_manager: Any) -> None:
    _login(client, "wrong")
    key = LoginAttempt.objects.get().key
    assert "pm" not in key
    assert len(key) == 64
