"""Fuzz the whole REST API from its OpenAPI schema (schemathesis 4) through the WSGI app.

One test per operation: no server errors, responses and status codes and content types
as documented. Requests carry a write-scoped token. Runs in its own `bin/test` stage
(`-m schemathesis`); `SCHEMATHESIS_MAX_EXAMPLES` bounds the examples per operation.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from releasedesk.wsgi import application

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]

# Loaded at import time (no database needed: the schema view reads no table), so every
# operation becomes its own pytest item and xdist can spread them.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture(autouse=True)
def _keep_test_connection() -> Iterator[None]:
    """Requests go through the bare WSGI handler, whose `request_finished` signal would close
    the test's database connection (and its transaction); Django's test Client disconnects
    `close_old_connections` the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def write_token(db: None) -> str:
    """A raw write-scoped API token of a staff superuser (only its SHA-256 hash is stored)."""
    from releasedesk.accounts.authn import hash_token
    from releasedesk.accounts.models import ApiToken, User

    user = User.objects.create_user(
        username="fuzzer", password="correct-horse-battery", is_staff=True, is_superuser=True
    )
    raw = "rd_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, name="schemathesis", prefix=raw[:12], token_hash=hash_token(raw), scope="write"
    )
    return raw


def test_openapi_schema_is_version_3_1() -> None:
    assert schema.raw_schema["openapi"].startswith("3.1")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api(case: Any, write_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {write_token}"}, checks=CHECKS)
