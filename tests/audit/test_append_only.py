"""The database refuses to change or remove audit events; only the guarded bypass may."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from releasedesk.audit.maintenance import append_only_bypass
from releasedesk.audit.management.commands import flush as flush_command
from releasedesk.audit.models import AuditChainHead, AuditEvent
from releasedesk.audit.services import record
from releasedesk.core.context import Actor

STAFF = Actor(kind="staff", id=1)


def _sql(sql: str, params: list[Any] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _event(scope: str = "s:append") -> AuditEvent:
    with transaction.atomic():
        return record(actor=STAFF, action="t.append", scope=scope, after={"n": 1})


@pytest.mark.django_db
def test_orm_update_is_refused() -> None:
    event = _event()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="t.forged")
    assert AuditEvent.objects.get(pk=event.pk).action == "t.append"


@pytest.mark.django_db
def test_orm_delete_is_refused() -> None:
    event = _event()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_raw_sql_update_and_delete_are_refused() -> None:
    event = _event()
    for sql in (
        "UPDATE audit_auditevent SET after = NULL WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="append-only"):
            _sql(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).after == {"n": 1}


@pytest.mark.django_db
def test_delete_of_all_rows_is_refused() -> None:
    _event()
    with pytest.raises(IntegrityError, match="append-only"):
        _sql("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_truncate_is_refused_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE is refused above)")
    _event()
    with pytest.raises(IntegrityError, match="append-only"):
        _sql("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_chain_head_stays_updatable() -> None:
    _event("s:head")
    _event("s:head")
    assert AuditChainHead.objects.get(scope="s:head").seq == 2


@pytest.mark.django_db
def test_bypass_is_scoped_to_its_block() -> None:
    event = _event()
    with append_only_bypass():
        AuditEvent.objects.filter(pk=event.pk).update(action="t.changed")
    assert AuditEvent.objects.get(pk=event.pk).action == "t.changed"
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="t.again")


@pytest.mark.django_db
def test_bypass_is_gone_after_an_error_in_its_block() -> None:
    event = _event()

    def change_then_fail() -> None:
        with append_only_bypass():
            AuditEvent.objects.filter(pk=event.pk).update(action="t.changed")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        change_then_fail()
    assert AuditEvent.objects.get(pk=event.pk).action == "t.append"  # rolled back
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_flush_between_transactional_tests_works() -> None:
    """Committed events; the harness's flush (DELETE or TRUNCATE) must get through."""
    _event("s:flush")
    assert AuditEvent.objects.filter(scope="s:flush").count() == 1
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    assert AuditEvent.objects.count() == 0
    assert AuditChainHead.objects.count() == 0
    # ...and the triggers are still in force after the flush.
    event = _event("s:flush")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_flush_outside_the_test_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _event("s:prod-flush")
    monkeypatch.setattr(flush_command, "test_environment_active", lambda: False)
    with pytest.raises(CommandError, match="couldn't be flushed"):
        call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    assert AuditEvent.objects.filter(scope="s:prod-flush").count() == 1
    # The harness's own flush after this test (with the bypass) must still succeed.


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_starts_empty() -> None:
    assert AuditEvent.objects.filter(scope__in=["s:flush", "s:prod-flush"]).count() == 0
