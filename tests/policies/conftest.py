"""Policy fixtures: example sources, API tokens, a portal-signed-in outsider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from releasedesk.policies.loader import load_policy
from releasedesk.policies.schema import PolicyDocument

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def example_source(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


@pytest.fixture
def school_saas() -> PolicyDocument:
    return load_policy(example_source("school-saas.yaml"), "school-saas.yaml")


def _token(user: Any, scope: str) -> str:
    from releasedesk.accounts.authn import hash_token
    from releasedesk.accounts.models import ApiToken

    raw = f"rd_pol{scope}_secret-{user.pk}-{scope}"
    ApiToken.objects.create(
        user=user,
        name=f"{scope} token",
        prefix=f"pol{scope}{user.pk}",
        token_hash=hash_token(raw),
        scope=scope,
    )
    return raw


@pytest.fixture
def write_headers(vendor_admin: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {_token(vendor_admin, 'write')}"}


@pytest.fixture
def read_headers(vendor_admin: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {_token(vendor_admin, 'read')}"}


@pytest.fixture
def outsider_client(client: Any, outsider_contact: Any) -> Any:
    from releasedesk.portal.auth import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    return client
