"""`releasedesk demo`: migrate, load the demo data, create demo users, then serve.

releasedesk demo                 # SQLite in ./var, http://127.0.0.1:8000/
releasedesk demo --reset         # start again from an empty SQLite database
releasedesk demo --no-serve      # prepare everything and exit
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from releasedesk.core.demo import ensure_demo_users, load_demo
from releasedesk.core.demo.data import STAFF
from releasedesk.core.management.commands.serve import display_url

PASSWORD_ENV = "RELEASEDESK_DEMO_PASSWORD"
MIN_PASSWORD_LENGTH = 8


def sqlite_path(alias: str = DEFAULT_DB_ALIAS) -> Path | None:
    db = connections[alias].settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return None
    name = str(db["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def reset_sqlite(alias: str = DEFAULT_DB_ALIAS) -> Path:
    """Delete the SQLite database file (and its WAL/SHM files) of `alias`."""
    path = sqlite_path(alias)
    if path is None:
        raise CommandError(
            "--reset only works on the embedded SQLite database; it never deletes a PostgreSQL "
            "database (unset DATABASE_URL for the demo, or drop the database yourself)."
        )
    connections.close_all()
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)
    return path


def use_demo_mailbox() -> Path | None:
    """Without a configured mail server the demo writes its e-mails to files in the data dir."""
    if os.environ.get("RELEASEDESK_SMTP_HOST") or os.environ.get("RELEASEDESK_EMAIL_BACKEND"):
        return None
    path = Path(settings.DATA_DIR) / "demo-mail"
    path.mkdir(parents=True, exist_ok=True)
    settings.MAILERS = {
        **settings.MAILERS,
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(path)},
        },
    }
    return path


class Command(BaseCommand):
    help = "Start ReleaseDesk with demo data: migrate, load the demo catalogue, create demo users, serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)."
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="Port to listen on (default 8000)."
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare the database and users, then exit."
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Serve without the embedded worker."
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the SQLite database first and start from scratch.",
        )
        parser.add_argument(
            "--password",
            default=None,
            help=f"Password for the demo users (default: ${PASSWORD_ENV}, else a new random one each run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port: int = options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port: {port} is not a port number (0-65535)")
        password: str = (
            options["password"] or os.environ.get(PASSWORD_ENV, "") or secrets.token_urlsafe(9)
        )
        if len(password) < MIN_PASSWORD_LENGTH:
            raise CommandError(f"--password: use at least {MIN_PASSWORD_LENGTH} characters")

        if options["reset"]:
            path = reset_sqlite()
            self.stdout.write(f"Reset: deleted {path}")

        mailbox = use_demo_mailbox()
        started = time.monotonic()
        self.stdout.write("[1/3] Migrating the database…")
        call_command("migrate", interactive=False, verbosity=0)
        # Users first: later demo loaders pick their actors (product manager, CTO…) by role.
        self.stdout.write("[2/3] Preparing the demo users…")
        ensure_demo_users(password=password)
        self.stdout.write("[3/3] Loading the demo data…")
        summary = load_demo()
        if summary.loaded:
            self.stdout.write(
                f"      {summary.products} products, {summary.customers} customers in {len(summary.zones)} time zones, "
                f"{summary.contacts} contacts, {summary.instances} instances, {summary.subscriptions} subscriptions"
            )
        else:
            self.stdout.write("      already loaded (use --reset to start again)")
        self.stdout.write(f"Ready in {time.monotonic() - started:.1f}s.\n")

        url = display_url(options["host"], port or 8000)
        if "RELEASEDESK_BASE_URL" not in os.environ and port:
            # Links in the demo's e-mails point at the server the demo starts.
            settings.BASE_URL = url.rstrip("/")
        self.stdout.write(self.style.SUCCESS(f"Open {url} and sign in as demo / {password}"))
        others = ", ".join(
            f"{s.username} ({', '.join(s.roles)})" for s in STAFF if s.username != "demo"
        )
        self.stdout.write(f"Other demo users, same password: {others}")
        if mailbox is not None:
            self.stdout.write(f"Demo mailbox (every e-mail the demo sends, as files): {mailbox}")
        self.stdout.write(
            "Watch the live release 9.0 (policy live-demo) move through its timeline on its "
            "release page: notices now, upgrades a few minutes later."
        )

        if options["no_serve"]:
            return
        self.stdout.write("")
        call_command("serve", host=options["host"], port=port, no_worker=options["no_worker"])
