from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken

pytestmark = pytest.mark.django_db

URL = "/accounts/tokens/"


def test_needs_staff_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_create_shows_raw_once_then_only_prefix(client: Client, product_manager: Any) -> None:
    product_manager.timezone = "Europe/Amsterdam"
    product_manager.save()
    client.force_login(product_manager)
    response = client.post(URL, {"name": "ci", "scope": "write", "expires_days": "30"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    match = re.search(r'id="new-token">(rd_[^<]+)<', response.content.decode())
    assert match is not None
    raw = match.group(1)
    token = ApiToken.objects.get(user=product_manager)
    assert token.token_hash == hash_token(raw)
    assert token.scope == "write"
    listing = client.get(URL).content.decode()
    assert raw not in listing
    assert f"rd_{token.prefix}_…" in listing
    assert "(Europe/Amsterdam)" in listing


def test_bad_input_creates_nothing(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)
    response = client.post(URL, {"name": "", "scope": "root", "expires_days": "0"})
    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_revoke_own_and_404_for_others(
    client: Client, product_manager: Any, cto: Any, make_token: Any
) -> None:
    own, _ = make_token(product_manager, "read")
    other, _ = make_token(cto, "read")
    client.force_login(product_manager)
    assert client.get(f"/accounts/tokens/{own.pk}/revoke/").status_code == 405
    assert client.post(f"/accounts/tokens/{other.pk}/revoke/").status_code == 404
    response = client.post(f"/accounts/tokens/{own.pk}/revoke/")
    assert response.status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None
    assert other.revoked_at is None


def test_outsider_contact_gets_no_token_page(
    client: Client, outsider_contact: Any, product_manager: Any, make_token: Any
) -> None:
    from releasedesk.portal import services as portal_services

    token, _ = make_token(product_manager, "read")
    client.post(f"/portal/login/link/{portal_services.make_sign_in_token(outsider_contact)}/")
    assert client.get(URL).status_code == 302
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None
