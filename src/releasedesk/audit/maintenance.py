"""Append-only enforcement in the database, and its one guarded bypass.

The database itself refuses `UPDATE` and `DELETE` of audit events (and, on PostgreSQL,
`TRUNCATE`), whoever sends them: the ORM, the admin, a hand-typed SQL statement.

The bypass exists for exactly two callers: the test harness flushing tables between
transactional tests (see `management/commands/flush.py`), and tests that tamper with rows on
purpose to prove `audit verify` notices. It is transaction-local and leaves nothing behind:

- SQLite has no session settings, so the triggers consult a one-row table
  `audit_maintenance` (not a Django model: `flush` never touches it); the bypass sets its
  flag inside the caller's transaction and clears it before the end.
- PostgreSQL triggers consult the custom setting `releasedesk.audit_bypass`, set with
  `set_config(…, is_local => true)`: visible to this transaction only and reset at its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_MESSAGE = "audit events are append-only"
BYPASS_TABLE = "audit_maintenance"
PG_SETTING = "releasedesk.audit_bypass"

# Literal SQL (constants only); APPEND_ONLY_MESSAGE and BYPASS_TABLE spelled out.
SQLITE_INSTALL = [
    "CREATE TABLE IF NOT EXISTS audit_maintenance ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " bypass INTEGER NOT NULL DEFAULT 0 CHECK (bypass IN (0, 1)))",
    "INSERT OR IGNORE INTO audit_maintenance (id, bypass) VALUES (1, 0)",
    # A missing row reads as NULL, and NULL IS NOT 1: the trigger fails closed.
    "CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent"
    " WHEN (SELECT bypass FROM audit_maintenance WHERE id = 1) IS NOT 1"
    " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent"
    " WHEN (SELECT bypass FROM audit_maintenance WHERE id = 1) IS NOT 1"
    " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
]
SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_delete",
    "DROP TABLE IF EXISTS audit_maintenance",
]

PG_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF coalesce(current_setting('{PG_SETTING}', true), '') = 'on' THEN
            IF TG_LEVEL = 'STATEMENT' THEN
                RETURN NULL;
            ELSIF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END IF;
        RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'
            USING ERRCODE = 'integrity_constraint_violation',
                  DETAIL = TG_OP || ' on ' || TG_TABLE_NAME || ' is not allowed';
    END;
    $$
    """,
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update_delete ON audit_auditevent",
    "CREATE TRIGGER audit_auditevent_no_update_delete BEFORE UPDATE OR DELETE"
    " ON audit_auditevent FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()",
    # Row triggers do not fire on TRUNCATE: a statement trigger blocks it.
    "DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent",
    "CREATE TRIGGER audit_auditevent_no_truncate BEFORE TRUNCATE"
    " ON audit_auditevent FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_append_only()",
]
PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update_delete ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_auditevent_append_only()",
]


def install_sql(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return SQLITE_INSTALL
    if vendor == "postgresql":
        return PG_INSTALL
    raise NotImplementedError(f"append-only audit triggers are not written for {vendor!r}")


def uninstall_sql(vendor: str) -> list[str]:
    return {"sqlite": SQLITE_UNINSTALL, "postgresql": PG_UNINSTALL}.get(vendor, [])


def _set_bypass(connection: BaseDatabaseWrapper, on: bool) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, %s, true)", [PG_SETTING, "on" if on else "off"])
        elif connection.vendor == "sqlite":
            cursor.execute("UPDATE audit_maintenance SET bypass = %s WHERE id = 1", [int(on)])
        else:
            raise NotImplementedError(connection.vendor)


@contextmanager
def append_only_bypass(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside this block (one transaction) audit events may be changed. Tests and flush only.

    The flag is set inside a transaction and cleared before it ends; if the block raises,
    the rollback takes the flag with it. No other connection ever sees it set.
    """
    connection = connections[using]
    with transaction.atomic(using=using):
        _set_bypass(connection, True)
        yield
        _set_bypass(connection, False)
