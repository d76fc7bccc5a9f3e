"""Property: whatever JSON a service records, the stored row verifies on this database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releasedesk.audit.models import AuditEvent
from releasedesk.audit.services import event_hash, record
from releasedesk.audit.verify import verify
from releasedesk.core.context import Actor

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.none() | st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=payloads, after=payloads, action=st.text(min_size=1, max_size=80))
def test_any_payload_round_trips_and_verifies(before: Any, after: Any, action: str) -> None:
    with transaction.atomic():
        event = record(
            actor=Actor(kind="staff", id=1), action=action, scope="prop", before=before, after=after
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert event_hash(stored) == stored.hash == event.hash
    assert verify(scope="prop").ok
