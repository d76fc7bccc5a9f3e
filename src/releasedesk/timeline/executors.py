"""The executor registry: how an instance is upgraded (DESIGN.md §3, issue 5 §4).

Each instance names its executor in `Instance.executor` (validated by
`releasedesk.catalog.schemas.ExecutorSettings`; empty means `simulated` with its defaults).
An executor is a small class registered here by kind. The worker never talks to a
deployment system directly: `timeline.execution` asks the instance's executor to

- `start(ctx)`  — begin the upgrade; answer at once (succeeded / failed), or `running` with
  the instant to ask again (`poll_at`), or `waiting` when a person must act;
- `poll(ctx)`   — ask again about a started run (same answers);
- `revert(ctx)` — undo a done upgrade (the rollout-execution issue calls it).

Answers are `ExecResult`s; executors never write to the database themselves (the caller
records the run and its effect in one transaction). This issue brings `simulated` and
`manual`; `webhook` and `command` (the rollout-execution issue) register on the same
registry: `start` posts/launches with the step key as idempotency key and answers
`running`, `poll` checks the delivery/exit status.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from releasedesk.catalog.models import Instance
from releasedesk.catalog.schemas import validate_json_field
from releasedesk.core.errors import Conflict


class ExecStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RUNNING = "running"  # started; ask again at `poll_at`
    WAITING = "waiting"  # a person must mark it done or failed


@dataclass(frozen=True, slots=True)
class ExecContext:
    """What an executor knows about the work it is asked to do."""

    key: str  # the step's idempotency key (sent to deployment systems as Idempotency-Key)
    run_number: int  # 1 for the first run of the step, 2 after a retry, …
    instance_slug: str
    current_version: str
    target_version: str
    settings: dict[str, Any]
    started_at: dt.datetime  # when this run started
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class ExecResult:
    status: ExecStatus
    message: str = ""
    version: str = ""  # the instance's version after a success
    poll_at: dt.datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Executor:
    """Base class: subclasses set `kind` and implement start/poll (and revert)."""

    kind: ClassVar[str] = ""

    def start(self, ctx: ExecContext) -> ExecResult:
        raise NotImplementedError

    def poll(self, ctx: ExecContext) -> ExecResult:
        raise NotImplementedError

    def revert(self, ctx: ExecContext) -> ExecResult:
        raise NotImplementedError

    def verify(self, ctx: ExecContext, checks: list[str]) -> ExecResult:
        """Run the policy's post-upgrade checks (e.g. health_probe, version_probe)."""
        raise NotImplementedError


EXECUTORS: dict[str, type[Executor]] = {}


def register[E: type[Executor]](cls: E) -> E:
    """Class decorator: make `cls` the executor for `cls.kind`."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    EXECUTORS[cls.kind] = cls
    return cls


class ExecutorUnavailable(Conflict):
    code = "executor_unavailable"


def executor_settings(instance: Instance) -> dict[str, Any]:
    """The instance's validated executor settings (the simulated defaults when empty)."""
    raw = instance.executor or {"kind": "simulated"}
    settings, errors = validate_json_field("executor", raw)
    if errors:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
        raise ExecutorUnavailable(
            f"Instance {instance.slug} has invalid executor settings ({detail})", fields=errors
        )
    return settings


def executor_for(instance: Instance) -> tuple[Executor, dict[str, Any]]:
    """The executor registered for the instance's kind, and its settings.

    Raises ExecutorUnavailable (fail closed) when the settings are invalid or no executor of
    that kind is installed yet.
    """
    settings = executor_settings(instance)
    kind = str(settings.get("kind", "simulated"))
    cls = EXECUTORS.get(kind)
    if cls is None:
        raise ExecutorUnavailable(
            f"Instance {instance.slug} uses the {kind!r} executor, which is not installed "
            f"(available: {', '.join(sorted(EXECUTORS))})",
            fields={"executor.kind": kind},
        )
    return cls(), settings


# --- simulated ------------------------------------------------------------------------------


def draw(key: str, run_number: int) -> float:
    """A deterministic number in [0, 1) from the step key and run number (the seed)."""
    digest = hashlib.sha256(f"{key}#{run_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@register
class SimulatedExecutor(Executor):
    """Pretends to upgrade: takes `duration_seconds`, fails with probability `failure_rate`.

    The outcome is decided by `draw(step key, run number) < failure_rate`, so the same step
    fails or succeeds the same way on every machine (tests, the demo), while a retry (the next
    run number) draws again.
    """

    kind = "simulated"

    def start(self, ctx: ExecContext) -> ExecResult:
        duration = dt.timedelta(seconds=int(ctx.settings.get("duration_seconds", 5)))
        if duration <= dt.timedelta(0):
            return self._finish(ctx)
        return ExecResult(
            ExecStatus.RUNNING,
            message=f"simulated upgrade of {ctx.instance_slug} to {ctx.target_version} started ({int(duration.total_seconds())} s)",
            poll_at=ctx.started_at + duration,
        )

    def poll(self, ctx: ExecContext) -> ExecResult:
        duration = dt.timedelta(seconds=int(ctx.settings.get("duration_seconds", 5)))
        done_at = ctx.started_at + duration
        if ctx.now < done_at:
            return ExecResult(
                ExecStatus.RUNNING, message="simulated upgrade still running", poll_at=done_at
            )
        return self._finish(ctx)

    def _finish(self, ctx: ExecContext) -> ExecResult:
        rate = float(ctx.settings.get("failure_rate", 0.0))
        value = draw(ctx.key, ctx.run_number)
        if value < rate:
            return ExecResult(
                ExecStatus.FAILED,
                message=f"simulated failure upgrading {ctx.instance_slug} to {ctx.target_version} (draw {value:.3f} < failure rate {rate:g})",
                details={"draw": round(value, 6), "failure_rate": rate},
            )
        return ExecResult(
            ExecStatus.SUCCEEDED,
            message=f"{ctx.instance_slug} upgraded from {ctx.current_version or 'unknown'} to {ctx.target_version} (simulated)",
            version=ctx.target_version,
            details={"draw": round(value, 6), "failure_rate": rate},
        )

    def revert(self, ctx: ExecContext) -> ExecResult:
        return ExecResult(
            ExecStatus.SUCCEEDED,
            message=f"{ctx.instance_slug} reverted to {ctx.current_version} (simulated)",
            version=ctx.current_version,
        )

    def verify(self, ctx: ExecContext, checks: list[str]) -> ExecResult:
        """`version_probe` compares the recorded version with the release's; every other
        check is simulated as passing."""
        if "version_probe" in checks and ctx.current_version != ctx.target_version:
            return ExecResult(
                ExecStatus.FAILED,
                message=f"version_probe: {ctx.instance_slug} reports {ctx.current_version or 'no version'}, expected {ctx.target_version}",
            )
        return ExecResult(
            ExecStatus.SUCCEEDED,
            message=f"{ctx.instance_slug} verified: {', '.join(checks) or 'no checks'} passed (simulated)",
        )


# --- manual ---------------------------------------------------------------------------------


@register
class ManualExecutor(Executor):
    """A person does the work and marks it done or failed (UI, API or CLI)."""

    kind = "manual"

    def _waiting(self, ctx: ExecContext, verb: str) -> ExecResult:
        instructions = str(ctx.settings.get("instructions", "")).strip()
        message = f"Waiting for a person to {verb} {ctx.instance_slug} to {ctx.target_version} and mark it done or failed"
        if instructions:
            message += f": {instructions}"
        return ExecResult(ExecStatus.WAITING, message=message)

    def start(self, ctx: ExecContext) -> ExecResult:
        return self._waiting(ctx, "upgrade")

    def poll(self, ctx: ExecContext) -> ExecResult:
        return self._waiting(ctx, "upgrade")

    def revert(self, ctx: ExecContext) -> ExecResult:
        return self._waiting(ctx, "revert")

    def verify(self, ctx: ExecContext, checks: list[str]) -> ExecResult:
        return ExecResult(
            ExecStatus.WAITING,
            message=f"Waiting for a person to verify {ctx.instance_slug} ({', '.join(checks) or 'no checks'}) and mark it done or failed",
        )
