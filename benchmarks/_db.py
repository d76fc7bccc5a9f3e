"""Scratch databases for benchmarks: never the configured data.

SQLite gets a temporary directory; PostgreSQL (DATABASE_URL) a throwaway database
`<name>_bench_<pid>` created beside the configured one and dropped afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.parse
from collections.abc import Callable


def prepare_database(keep: bool) -> Callable[[], None]:
    """Point the settings at a scratch database; return its cleanup."""
    os.environ.setdefault("RELEASEDESK_SECRET_KEY", "benchmark-only-not-secret")
    os.environ.setdefault("PYTHONTZPATH", "")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urllib.parse.urlsplit(url)
        base = parts.path.lstrip("/") or "postgres"
        bench = f"{base}_bench_{os.getpid()}"
        admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{bench}"')
        os.environ["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{bench}"))

        def drop() -> None:
            if keep:
                print(f"kept database {bench}", file=sys.stderr)
                return
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')

        return drop
    if url:
        raise SystemExit(f"DATABASE_URL: only postgres:// is supported here, got {url[:20]!r}")
    tmp = tempfile.TemporaryDirectory(prefix="releasedesk-bench-")
    os.environ["RELEASEDESK_DATA_DIR"] = tmp.name
    return (lambda: print(f"kept {tmp.name}", file=sys.stderr)) if keep else tmp.cleanup


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releasedesk.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False  # no query log: it would skew every scenario
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
