from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


def _token(user: Any, raw: str, scope: str = "read") -> str:
    from releasedesk.accounts.authn import hash_token
    from releasedesk.accounts.models import ApiToken

    ApiToken.objects.create(
        user=user, name="test", prefix=raw[:12], token_hash=hash_token(raw), scope=scope
    )
    return raw


@pytest.fixture
def staff_api(vendor_admin: Any) -> Client:
    raw = _token(vendor_admin, "rd_staffaaaa_" + "s" * 32)
    return Client(headers={"authorization": f"Bearer {raw}"})


@pytest.fixture
def nonstaff_user(db: None) -> Any:
    from releasedesk.accounts.models import User

    return User.objects.create_user(username="notstaff", password=None, is_staff=False)


@pytest.fixture
def nonstaff_api(nonstaff_user: Any) -> Client:
    raw = _token(nonstaff_user, "rd_nonstaff_" + "n" * 32)
    return Client(headers={"authorization": f"Bearer {raw}"})


@pytest.fixture
def outsider_client(outsider_contact: Any) -> Client:
    """A browser signed in to the portal as the outsider (a contact of customer C)."""
    from releasedesk.portal.auth import SESSION_KEY

    client = Client()
    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    return client
