from __future__ import annotations

from typing import Any

import pytest

from releasedesk.accounts import services
from releasedesk.core.context import SYSTEM


@pytest.fixture
def make_token() -> Any:
    def make(user: Any, scope: str = "write", **kwargs: Any) -> tuple[Any, str]:
        return services.create_api_token(
            actor=SYSTEM, user=user, name=f"{scope} token", scope=scope, **kwargs
        )

    return make


def bearer(raw: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
