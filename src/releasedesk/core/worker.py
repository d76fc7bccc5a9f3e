"""The one worker loop: `releasedesk worker`, or a thread inside `releasedesk serve`.

Each turn calls every registered handler once. A handler is a small `handle_one_*() -> bool`
step that claims and performs at most one unit of due work and returns whether it did
anything. When no handler did work the loop sleeps for the poll interval; otherwise it starts
the next turn at once. An exception in one handler is logged and never stops the loop, and a
row whose perform function raised is retried with backoff (its `due_at` moves forward), so
one bad row cannot crash-loop.

Plugging a due-work table in takes a few lines (see docs/worker.md):

    from releasedesk.core import worker
    worker.register(worker.queue_handler(Message, deliver_one, name="outbox"))

`perform(row, *, now)` gets a claimed (running, leased) row and returns an `Outcome`
(`releasedesk.core.queue.Outcome`), a final state, or None for done; an exception means
"retry with backoff", `PermanentFailure` means "failed now".
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

from django.apps import apps
from django.db import close_old_connections, transaction
from django.db.models import Q

from releasedesk.core import clock, queue
from releasedesk.core.queue_models import DueWork, WorkState

log = logging.getLogger("releasedesk.worker")

Handler = Callable[[], bool]

# Registered at import time by the apps that have due work (`worker.register(handler)`).
HANDLERS: list[Handler] = []

DEFAULT_POLL_INTERVAL = 2.0
# How long a claimed row belongs to its worker. A worker killed mid-row loses it after this;
# keep it well above the slowest perform() plus clock differences between hosts.
DEFAULT_LEASE = dt.timedelta(seconds=60)
# How often each worker process runs the reaper over every due-work table.
DEFAULT_REAP_EVERY = 5.0

# Where the step performer lives (written by the timeline-execution work); registered by
# `load_handlers()` when present. Other tables register their own handler on import.
STEP_PERFORMER = "releasedesk.timeline.execution:perform_step"

_worker_id: str | None = None


def worker_id() -> str:
    """This process's lease owner name: `--id NAME`, else `host:pid` (at most 64 chars)."""
    if _worker_id:
        return _worker_id
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def set_worker_id(name: str | None) -> None:
    global _worker_id
    if name is not None and not 1 <= len(name) <= 64:
        raise ValueError("worker id must be 1-64 characters")
    _worker_id = name


def register(handler: Handler) -> Handler:
    """Add `handler` to the loop (once; a handler with the same name replaces nothing)."""
    name = _name(handler)
    if handler not in HANDLERS and all(_name(h) != name for h in HANDLERS):
        HANDLERS.append(handler)
    return handler


def _name(handler: Handler) -> str:
    return str(getattr(handler, "__qualname__", handler))


def due_work_models() -> list[type[DueWork]]:
    """Every concrete `DueWork` table installed (for the reaper and `/metrics`)."""
    return [
        m
        for m in apps.get_models()
        if issubclass(m, DueWork) and not m._meta.abstract and not m._meta.proxy
    ]


class Perform(Protocol):
    def __call__(self, row: Any, /, *, now: dt.datetime) -> Any: ...


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def finish(
    row: DueWork, result: Any, *, owner: str, now: dt.datetime, backoff: queue.Backoff
) -> str | None:
    """Record what `perform` returned for a claimed row; the new state, or None if lost."""
    if result is None or result is True:
        return WorkState.DONE if queue.complete(row, owner=owner, now=now) else None
    if isinstance(result, str):
        return result if queue.complete(row, owner=owner, now=now, state=result) else None
    if isinstance(result, queue.Outcome):
        if result.state == WorkState.PENDING and not result.retry:
            return None  # the performer already rescheduled the row itself (fenced), e.g. a poll
        if result.retry:
            return queue.retry_or_fail(
                row, owner=owner, now=now, error=result.error, backoff=backoff
            )
        won = queue.complete(
            row, owner=owner, now=now, state=result.state, error=result.error, values=result.values
        )
        return result.state if won else None
    raise TypeError(f"perform returned {result!r}; expected None, a state or an Outcome")


def queue_handler(
    model: type[DueWork],
    perform: Perform,
    *,
    name: str,
    lease: dt.timedelta = DEFAULT_LEASE,
    backoff: queue.Backoff = queue.DEFAULT_BACKOFF,
    filter: Q | None = None,
    on_missed: queue.MissedHook | None = None,
    atomic: bool = False,
) -> Handler:
    """A `handle_one_<name>() -> bool` for `model`: claim one due row, perform it, record it.

    `atomic=True` runs perform and the completion in one transaction: for work whose only
    effect is in this database, the effect then commits exactly once with the row's `done`
    (a worker killed before the commit leaves nothing behind). Leave it off for effects that
    leave the building (mail, webhooks): those must not hold a write transaction open, and
    are made safe by idempotency keys instead.
    """

    def handle_one() -> bool:
        now = clock.now()
        owner = worker_id()
        rows = queue.claim(
            model, now=now, owner=owner, lease=lease, limit=1, filter=filter, on_missed=on_missed
        )
        if not rows:
            return False
        row = rows[0]
        try:
            if atomic:
                with transaction.atomic():
                    result = perform(row, now=clock.now())
                    finish(row, result, owner=owner, now=clock.now(), backoff=backoff)
                return True
            result = perform(row, now=clock.now())
        except queue.PermanentFailure as exc:
            log.warning("%s %s failed permanently: %s", model._meta.label, row.key, exc)
            queue.complete(
                row, owner=owner, now=clock.now(), state=WorkState.FAILED, error=_describe(exc)
            )
            return True
        except Exception as exc:
            log.exception("%s %s: attempt %d failed", model._meta.label, row.key, row.attempts)
            state = queue.retry_or_fail(
                row, owner=owner, now=clock.now(), error=_describe(exc), backoff=backoff
            )
            log.info("%s %s is now %s", model._meta.label, row.key, state or "(lease lost)")
            return True
        try:
            finish(row, result, owner=owner, now=clock.now(), backoff=backoff)
        except Exception as exc:  # a bad outcome must not leave the row running until reaped
            log.exception("%s %s: recording the outcome failed", model._meta.label, row.key)
            queue.retry_or_fail(
                row, owner=owner, now=clock.now(), error=_describe(exc), backoff=backoff
            )
        return True

    handle_one.__name__ = handle_one.__qualname__ = f"handle_one_{name}"
    return handle_one


def reaper_handler(*, every: float = DEFAULT_REAP_EVERY) -> Handler:
    """`handle_one_reap()`: return expired leases of every due-work table, at most every
    `every` seconds per process (so the loop's fast path is not a reaper query per turn)."""
    last = [float("-inf")]

    def handle_one_reap() -> bool:
        started = time.monotonic()
        if started - last[0] < every:
            return False
        last[0] = started
        now = clock.now()
        return sum(queue.reap(model, now=now) for model in due_work_models()) > 0

    return handle_one_reap


def import_handler(dotted: str) -> Handler:
    """`package.module:attr` -> the handler it names (for `releasedesk worker --handler`)."""
    module_name, _, attr = dotted.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{dotted!r}: expected 'package.module:handler'")
    handler = getattr(importlib.import_module(module_name), attr)
    if not callable(handler):
        raise ValueError(f"{dotted!r} is not callable")
    return handler  # type: ignore[no-any-return]


def load_handlers(*, reap_every: float = DEFAULT_REAP_EVERY) -> list[Handler]:
    """The default handler list, the reaper first: every registered handler (apps register on
    import, in `AppConfig.ready`), plus a step handler built from `STEP_PERFORMER` when the
    timeline app has not registered its own `handle_one_timeline_steps`."""
    if not any(_name(h) == "handle_one_timeline_steps" for h in HANDLERS):
        module_name, _, attr = STEP_PERFORMER.partition(":")
        try:
            perform = getattr(importlib.import_module(module_name), attr, None)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            perform = None
        if perform is not None:
            from releasedesk.timeline.models import ScheduledStep

            register(queue_handler(ScheduledStep, perform, name="timeline_steps"))
        else:
            log.info("worker: no %s yet; timeline steps are not performed", STEP_PERFORMER)
    return [reaper_handler(every=reap_every), *HANDLERS]


def run_turn(
    handlers: list[Handler] | None = None, stop_event: threading.Event | None = None
) -> bool:
    """One turn: every handler once (stopping early once `stop_event` is set).
    True when any of them did work.

    Connections are not recycled on the busy path (with the default `CONN_MAX_AGE=0` that
    would reconnect for every row); the loop calls `close_old_connections()` before it
    sleeps and after a handler raised, which drops broken or over-age connections.
    """
    did_work = False
    failed = False
    for handler in list(HANDLERS if handlers is None else handlers):
        if stop_event is not None and stop_event.is_set():
            break
        try:
            did_work = bool(handler()) or did_work
        except Exception:
            failed = True
            log.exception("worker handler %s failed", getattr(handler, "__qualname__", handler))
    if failed:
        close_old_connections()
    return did_work


def drain(handlers: list[Handler], stop_event: threading.Event | None = None) -> int:
    """Run turns until one does no work (or `stop_event` is set); the number of busy turns.
    The reaper's first turn always runs, so expired leases are returned before draining."""
    stop_event = stop_event or threading.Event()
    install_signal_handlers(stop_event)
    busy = 0
    while not stop_event.is_set() and run_turn(handlers, stop_event):
        busy += 1
    close_old_connections()
    return busy


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
    """Run turns until `stop_event` is set; finishes the current unit of work first.

    Run in the main thread (the `worker` command) it stops on SIGTERM/SIGINT itself; as a
    thread inside `serve` the server owns the signals and sets `stop_event`.
    """
    if handle_signals:
        install_signal_handlers(stop_event)
    if handlers is None:
        handlers = load_handlers()
    log.info(
        "worker %s: started (%s; poll every %.1fs)",
        worker_id(),
        ", ".join(_name(h) for h in handlers),
        poll_interval,
    )
    while not stop_event.is_set():
        did_work = run_turn(handlers, stop_event)
        if not did_work:
            close_old_connections()
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
