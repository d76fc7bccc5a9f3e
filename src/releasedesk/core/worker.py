"""The one worker loop: `releasedesk worker`, or a thread inside `releasedesk serve`.

Each turn calls every registered handler once. A handler is a small `handle_one_*() -> bool`
step that claims and performs at most one unit of due work and returns whether it did
anything (later issues register theirs: due timeline steps, outbox messages, the reaper).
When no handler did work the loop sleeps for the poll interval; otherwise it starts the
next turn at once. An exception in one handler is logged and never stops the loop (the
handler itself pushes the failing row's `due_at` forward so it cannot crash-loop).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from django.db import close_old_connections

log = logging.getLogger("releasedesk.worker")

Handler = Callable[[], bool]

# Registered at import time by the apps that have due work (`HANDLERS.append(handle_one_x)`).
HANDLERS: list[Handler] = []

DEFAULT_POLL_INTERVAL = 2.0


def register(handler: Handler) -> Handler:
    """Decorator: add `handler` to the loop (once)."""
    if handler not in HANDLERS:
        HANDLERS.append(handler)
    return handler


def run_turn(handlers: list[Handler] | None = None) -> bool:
    """One turn: every handler once. True when any of them did work."""
    did_work = False
    close_old_connections()
    try:
        for handler in list(HANDLERS if handlers is None else handlers):
            try:
                did_work = bool(handler()) or did_work
            except Exception:
                log.exception("worker handler %s failed", getattr(handler, "__qualname__", handler))
    finally:
        close_old_connections()
    return did_work


def install_signal_handlers(stop_event: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop_event` (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("worker: received signal %s, finishing the current turn", signum)
        stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def run_worker_loop(
    stop_event: threading.Event,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    handle_signals: bool = True,
    handlers: list[Handler] | None = None,
) -> None:
    """Run turns until `stop_event` is set; finishes the current turn before returning.

    Run in the main thread (the `worker` command) it stops on SIGTERM/SIGINT itself; as a
    thread inside `serve` the server owns the signals and sets `stop_event`.
    """
    if handle_signals:
        install_signal_handlers(stop_event)
    log.info(
        "worker: started (%d handlers, poll every %.1fs)",
        len(HANDLERS if handlers is None else handlers),
        poll_interval,
    )
    while not stop_event.is_set():
        did_work = run_turn(handlers)
        if not did_work:
            stop_event.wait(poll_interval)
    close_old_connections()
    log.info("worker: stopped")


def start_worker_thread(
    stop_event: threading.Event, *, poll_interval: float = DEFAULT_POLL_INTERVAL
) -> threading.Thread:
    """The embedded worker of `serve`: a daemon thread running the loop."""
    thread = threading.Thread(
        target=run_worker_loop,
        args=(stop_event,),
        kwargs={"poll_interval": poll_interval, "handle_signals": False},
        name="releasedesk-worker",
        daemon=True,
    )
    thread.start()
    return thread
