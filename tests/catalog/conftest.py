"""Catalogue fixtures: an actor, API tokens, a reseller with a child customer."""

from __future__ import annotations

from typing import Any

import pytest

from releasedesk.core.context import Actor


@pytest.fixture
def actor(vendor_admin: Any) -> Actor:
    return Actor(kind="staff", id=vendor_admin.pk)


def _token(user: Any, scope: str) -> str:
    from releasedesk.accounts.authn import hash_token
    from releasedesk.accounts.models import ApiToken

    raw = f"rd_test{scope}_secret-{user.pk}-{scope}"
    ApiToken.objects.create(
        user=user,
        name=f"{scope} token",
        prefix=f"test{scope}{user.pk}",
        token_hash=hash_token(raw),
        scope=scope,
    )
    return raw


@pytest.fixture
def write_headers(vendor_admin: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(vendor_admin, 'write')}"}


@pytest.fixture
def read_headers(vendor_admin: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(vendor_admin, 'read')}"}


@pytest.fixture
def reseller(db: None) -> Any:
    from releasedesk.catalog.models import Customer

    return Customer.objects.create(
        slug="resell-co", name="Resell Co", kind="reseller", timezone="Europe/Zurich"
    )


@pytest.fixture
def outsider_client(client: Any, outsider_contact: Any) -> Any:
    """A client signed in to the portal as the outsider (a contact of customer C)."""
    from releasedesk.portal.auth import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    return client
