from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from releasedesk.accounts.authn import actor_for, require_write
from releasedesk.core.context import Actor
from releasedesk.core.errors import PermissionDenied
from releasedesk.portal.auth import SESSION_KEY

pytestmark = pytest.mark.django_db


def _request(user: Any = None, token: Any = None, contact_id: int | None = None) -> Any:
    request = RequestFactory().post("/x")
    request.user = user or AnonymousUser()
    request.session = SessionStore()
    if contact_id is not None:
        request.session[SESSION_KEY] = contact_id
    if token is not None:
        request.api_token = token  # type: ignore[attr-defined]
    return request


def test_token_actor_and_scopes(product_manager: Any, make_token: Any) -> None:
    read, _ = make_token(product_manager, "read")
    write, _ = make_token(product_manager, "write")
    request = _request(product_manager, read)
    assert actor_for(request) == Actor(kind="token", id=read.pk, on_behalf_of=product_manager.pk)
    with pytest.raises(PermissionDenied, match="read-only"):
        require_write(request)
    require_write(_request(product_manager, write))


def test_staff_session_actor(product_manager: Any) -> None:
    request = _request(product_manager)
    assert actor_for(request) == Actor(kind="staff", id=product_manager.pk)
    require_write(request)


def test_contact_actor(a1: Any) -> None:
    request = _request(contact_id=a1.pk)
    assert actor_for(request) == Actor(kind="contact", id=a1.pk)


def test_nobody(db: None) -> None:
    with pytest.raises(PermissionDenied):
        actor_for(_request())
    with pytest.raises(PermissionDenied):
        require_write(_request())
