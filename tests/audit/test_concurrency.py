"""Per-scope chains: writers in different scopes never wait; one scope stays linear.

PostgreSQL only (SQLite serialises every write transaction by design).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import OperationalError, connection, connections, transaction

from releasedesk.audit.models import AuditEvent
from releasedesk.audit.services import record
from releasedesk.audit.verify import verify
from releasedesk.core.context import SYSTEM

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def _in_thread(fn: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=30)
    return errors


def _append_with_lock_timeout(scope: str) -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '500ms'")
        record(actor=SYSTEM, action="t.other", scope=scope)


def test_other_scope_does_not_wait_same_scope_does() -> None:
    with transaction.atomic():
        record(actor=SYSTEM, action="t.held", scope="s:held")
        # While this transaction holds s:held's head, another writer...
        assert _in_thread(lambda: _append_with_lock_timeout("s:free")) == []  # ...proceeds
        errors = _in_thread(lambda: _append_with_lock_timeout("s:held"))  # ...or queues
    assert len(errors) == 1
    assert isinstance(errors[0], OperationalError)
    assert "lock timeout" in str(errors[0])
    assert verify().ok


def test_concurrent_appends_to_one_scope_stay_linear() -> None:
    def writer() -> None:
        for _ in range(25):
            with transaction.atomic():
                record(actor=SYSTEM, action="t.race", scope="s:race")

    threads = [threading.Thread(target=lambda: _in_thread(writer)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    seqs = list(
        AuditEvent.objects.filter(scope="s:race").order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, 101))
    assert verify().ok
