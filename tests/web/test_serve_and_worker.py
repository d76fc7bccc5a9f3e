from __future__ import annotations

import threading
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from releasedesk.core import worker
from releasedesk.core.management.commands import serve


@pytest.mark.django_db
def test_no_unapplied_migrations_on_the_test_database() -> None:
    assert serve.unapplied_migrations() == []
    serve.check_migrations()  # does not raise


def test_serve_refuses_to_start_with_unapplied_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    pending = [f"catalog.000{n}_thing" for n in range(2, 9)]
    monkeypatch.setattr(serve, "unapplied_migrations", lambda database="default": pending)

    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server must not start")

    monkeypatch.setattr(serve, "run", must_not_run)
    monkeypatch.setattr(serve, "start_worker_thread", must_not_run)
    with pytest.raises(CommandError) as exc:
        call_command("serve", "--port", "0", "--no-worker", skip_checks=True)
    message = str(exc.value)
    assert "7 unapplied migration(s): catalog.0002_thing, catalog.0003_thing" in message
    assert "and 2 more" in message
    assert "Run `releasedesk migrate` first" in message


def test_serve_rejects_a_bad_port() -> None:
    with pytest.raises(CommandError, match=r"--port: 70000 is not a port number"):
        call_command("serve", "--port", "70000", skip_checks=True)


def test_serve_runs_threaded_and_starts_the_worker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(serve, "unapplied_migrations", lambda database="default": [])
    seen: dict[str, Any] = {}

    def fake_run(
        host: str, port: int, handler: Any, *, ipv6: bool, threading: bool, on_bind: Any
    ) -> None:
        seen.update(host=host, port=port, threading=threading, ipv6=ipv6)
        on_bind(8123)
        raise KeyboardInterrupt  # as Ctrl+C / SIGTERM would

    started: list[threading.Event] = []

    def fake_start(stop: threading.Event, **kwargs: Any) -> threading.Thread:
        started.append(stop)
        t = threading.Thread(target=stop.wait)
        t.start()
        return t

    monkeypatch.setattr(serve, "run", fake_run)
    monkeypatch.setattr(serve, "start_worker_thread", fake_start)
    monkeypatch.setattr(settings, "EMBEDDED_WORKER", True)
    call_command("serve", "--port", "0", skip_checks=True)
    assert seen == {"host": "127.0.0.1", "port": 0, "threading": True, "ipv6": False}
    assert len(started) == 1
    assert started[0].is_set()
    out = capsys.readouterr().out
    assert "ReleaseDesk is running at http://127.0.0.1:8123/ (embedded worker running)" in out


def test_serve_no_worker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(serve, "unapplied_migrations", lambda database="default": [])

    def fake_run(*args: Any, on_bind: Any, **kwargs: Any) -> None:
        on_bind(8000)
        raise KeyboardInterrupt

    def must_not_start(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no worker expected")

    monkeypatch.setattr(serve, "run", fake_run)
    monkeypatch.setattr(serve, "start_worker_thread", must_not_start)
    call_command("serve", "--no-worker", skip_checks=True)
    assert "(no worker)" in capsys.readouterr().out


def test_display_url() -> None:
    assert serve.display_url("0.0.0.0", 80) == "http://127.0.0.1:80/"
    assert serve.display_url("::1", 8000) == "http://[::1]:8000/"


@pytest.fixture
def no_db_connections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The loop closes stale connections each turn; count that instead of touching a database."""
    closed: list[int] = []
    monkeypatch.setattr(worker, "close_old_connections", lambda: closed.append(1))
    return closed


def test_worker_turn_calls_every_handler_and_survives_errors(no_db_connections: list[int]) -> None:
    calls: list[str] = []

    def idle() -> bool:
        calls.append("idle")
        return False

    def broken() -> bool:
        calls.append("broken")
        raise RuntimeError("boom")

    def busy() -> bool:
        calls.append("busy")
        return True

    assert worker.run_turn([idle, broken]) is False
    assert worker.run_turn([idle, broken, busy]) is True
    assert calls == ["idle", "broken", "idle", "broken", "busy"]
    # connections are recycled after a handler raised (once per such turn), not on the busy path
    assert len(no_db_connections) == 2
    assert worker.run_turn([busy]) is True
    assert len(no_db_connections) == 2


def test_worker_loop_runs_until_stopped(no_db_connections: list[int]) -> None:
    stop = threading.Event()
    turns: list[int] = []

    def handler() -> bool:
        turns.append(1)
        if len(turns) == 3:
            stop.set()
        return True  # did work: no sleeping between turns

    worker.run_worker_loop(stop, poll_interval=60, handle_signals=False, handlers=[handler])
    assert len(turns) == 3


def test_worker_thread_stops_promptly_when_idle(no_db_connections: list[int]) -> None:
    stop = threading.Event()
    thread = worker.start_worker_thread(stop, poll_interval=30)
    assert thread.is_alive()
    assert thread.daemon
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_register_adds_a_handler_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "HANDLERS", [])

    def handle_one_thing() -> bool:
        return False

    worker.register(handle_one_thing)
    worker.register(handle_one_thing)
    assert [handle_one_thing] == worker.HANDLERS
