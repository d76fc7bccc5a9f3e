"""Outbox fixtures: a real SMTP sink on loopback wired into `MAILERS`, and catalogues."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.outbox.sink import SmtpSink


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[SmtpSink]:
    """A running aiosmtpd sink; `settings.MAILERS` points at it for the test."""
    sink = SmtpSink().start()
    settings.MAILERS = sink.mailers_setting()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def dead_smtp(settings: Any) -> Iterator[SmtpSink]:
    """A sink that is not started: connections to its port are refused. `.start()` it later."""
    sink = SmtpSink()
    settings.MAILERS = sink.mailers_setting()
    try:
        yield sink
    finally:
        sink.stop()
