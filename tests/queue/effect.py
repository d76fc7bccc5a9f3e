"""A test-only performer and a fake receiver that deduplicates effects by idempotency key.

Worker processes started by the tests run `releasedesk worker --handler
tests.queue.effect:handle_one_effect`. Every attempt to perform a step is delivered to the
receiver — a separate SQLite file named by `RELEASEDESK_WORKER_TEST_EFFECT` — which logs the
delivery (`deliveries`) and applies the effect once per key (`effects`), as a real receiver
does with an `Idempotency-Key`. Optional: `QUEUE_TEST_SLEEP` seconds per step (widens the
window in which a kill lands mid-step), `QUEUE_TEST_LEASE` seconds of lease.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from releasedesk.core import worker
from releasedesk.timeline.models import ScheduledStep

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, owner TEXT NOT NULL, attempt INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, owner TEXT NOT NULL);
"""


def receiver(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


_conn: sqlite3.Connection | None = None


def deliver(key: str, *, owner: str, attempt: int) -> None:
    """The receiver's endpoint: log the delivery, apply the effect once per key."""
    global _conn
    if _conn is None:
        _conn = receiver(os.environ["RELEASEDESK_WORKER_TEST_EFFECT"])
    with _conn:
        _conn.execute("BEGIN IMMEDIATE")
        _conn.execute(
            "INSERT INTO deliveries (key, owner, attempt) VALUES (?, ?, ?)", (key, owner, attempt)
        )
        _conn.execute("INSERT OR IGNORE INTO effects (key, owner) VALUES (?, ?)", (key, owner))


def reset_receiver() -> None:
    """Forget the receiver connection (a forked child must open its own)."""
    global _conn
    _conn = None


def perform_effect(step: Any, *, now: dt.datetime) -> None:
    pause = float(os.environ.get("QUEUE_TEST_SLEEP", "0"))
    if pause:
        time.sleep(pause)
    deliver(step.key, owner=worker.worker_id(), attempt=step.attempts)


def make_effect_handler(lease: dt.timedelta) -> worker.Handler:
    return worker.queue_handler(ScheduledStep, perform_effect, name="test_effect", lease=lease)


handle_one_effect = make_effect_handler(
    dt.timedelta(seconds=float(os.environ.get("QUEUE_TEST_LEASE", "60")))
)


def perform_noop(step: Any, *, now: dt.datetime) -> None:
    """The benchmark's no-op step."""


handle_one_noop = worker.queue_handler(ScheduledStep, perform_noop, name="noop")
