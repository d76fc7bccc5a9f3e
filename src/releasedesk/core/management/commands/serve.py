"""`releasedesk serve`: the web app and the embedded worker in one process.

A threaded WSGI server (no autoreload) with WhiteNoise serving static files, plus the
worker loop in a thread when `RELEASEDESK_EMBEDDED_WORKER` is on (and `--no-worker` is not
given). It refuses to start while migrations are unapplied. For more traffic run gunicorn
for the web and separate `releasedesk worker` processes (see README: production).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import get_internal_wsgi_application, run
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from releasedesk.core.worker import start_worker_thread

WORKER_JOIN_TIMEOUT = 10.0


def unapplied_migrations(database: str = DEFAULT_DB_ALIAS) -> list[str]:
    """`app.migration` names not yet applied to `database`, in the order they would run."""
    executor = MigrationExecutor(connections[database])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check_migrations(database: str = DEFAULT_DB_ALIAS) -> None:
    """Raise CommandError naming the unapplied migrations, if any."""
    pending = unapplied_migrations(database)
    if pending:
        shown = ", ".join(pending[:5]) + (
            f" and {len(pending) - 5} more" if len(pending) > 5 else ""
        )
        raise CommandError(
            f"The database has {len(pending)} unapplied migration(s): {shown}.\n"
            "Refusing to start. Run `releasedesk migrate` first (or `releasedesk serve --migrate`)."
        )


def display_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - only for display
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class Command(BaseCommand):
    help = "Run ReleaseDesk: a threaded web server and the embedded worker in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)."
        )
        parser.add_argument(
            "--port",
            type=int,
            default=8000,
            help="Port to listen on (default 8000; 0 picks a free one).",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start the embedded worker thread."
        )
        parser.add_argument(
            "--migrate",
            action="store_true",
            help="Apply unapplied migrations first instead of refusing to start.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"]
        port: int = options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port: {port} is not a port number (0-65535)")
        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        check_migrations()
        # WhiteNoise serves from STATIC_ROOT (after `collectstatic`) and the app finders;
        # an absent directory only produces a warning, so make sure it exists.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)

        stop = threading.Event()
        worker: threading.Thread | None = None
        if settings.EMBEDDED_WORKER and not options["no_worker"]:
            worker = start_worker_thread(stop)
        worker_note = "embedded worker running" if worker else "no worker"

        def on_bind(bound_port: int | str) -> None:
            self.stdout.write(
                f"ReleaseDesk is running at {display_url(host, int(bound_port))} ({worker_note}). Press Ctrl+C to stop."
            )
            self.stdout.flush()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = (
            signal.signal(signal.SIGTERM, on_sigterm)
            if threading.current_thread() is threading.main_thread()
            else None
        )
        try:
            run(
                host,
                port,
                get_internal_wsgi_application(),
                ipv6=":" in host,
                threading=True,
                on_bind=on_bind,
            )
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        finally:
            stop.set()
            if worker is not None:
                worker.join(WORKER_JOIN_TIMEOUT)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            sys.stdout.flush()
