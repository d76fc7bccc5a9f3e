"""`flush` with the audit's append-only triggers honoured.

pytest-django (Django's TransactionTestCase) empties every table between transactional tests
with `flush`: `DELETE` on SQLite, `TRUNCATE` on PostgreSQL, which the append-only triggers
refuse. While Django's test environment is active (`setup_test_environment()`, which is what
creates `django.core.mail.outbox`), this override runs the flush inside the guarded bypass.
Anywhere else `flush` stays refused by the database: the audit cannot be flushed away.
"""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as FlushCommand

from releasedesk.audit.maintenance import append_only_bypass


def test_environment_active() -> bool:
    return hasattr(mail, "outbox")


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        if not test_environment_active():
            try:
                super().handle(**options)
            except CommandError as exc:
                raise CommandError(
                    f"{exc}\nNote: audit events are append-only (database triggers); "
                    "flush is refused outside tests. See docs/audit.md."
                ) from exc
            return
        with append_only_bypass(using=options["database"]):
            super().handle(**options)
