from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def outsider_portal_client(client: Client, outsider_contact: Any) -> Client:
    """A browser with a signed-in customer-portal session of the outsider contact."""
    session = client.session
    session["portal_contact_id"] = outsider_contact.pk
    session.save()
    return client
