"""Walk every scope's chain and report what does not add up.

For each scope, events must run seq 1, 2, … up to the scope's head, each `prev_hash` equal to
the previous event's `hash`, each `hash` equal to the recomputed hash of its fields, and the
head's `last_hash` equal to the last event's hash. What is reported:

- `modified`: a row whose stored hash does not match its fields (edited by hand);
- `deleted`: seq numbers missing from a chain (a gap, a missing tail up to the head, or a
  scope whose head has no rows at all);
- `inserted`: a row outside the chain (no head for its scope, seq beyond the head, seq < 1);
- `broken_link`: a row whose prev_hash is not the hash of the row before it (a row replaced
  with a recomputed hash);
- `head_mismatch`: the head's last_hash differs from the last row's hash.

Writers may append while this runs: the heads are read first, and rows found beyond a head
are re-checked against a fresh read of that head at the end before being reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from releasedesk.audit.chain import GENESIS, HASHED_FIELDS, compute_hash
from releasedesk.audit.models import AuditChainHead, AuditEvent

PROGRESS_EVERY = 10_000
CHUNK = 2_000


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # modified | deleted | inserted | broken_link | head_mismatch
    scope: str
    seq: int | None
    event_id: int | None
    detail: str

    def __str__(self) -> str:
        where = f"scope {self.scope!r}"
        if self.seq is not None:
            where += f" seq {self.seq}"
        if self.event_id is not None:
            where += f" (event id {self.event_id})"
        return f"{self.kind.upper()}: {where}: {self.detail}"


@dataclass(slots=True)
class Report:
    events: int = 0
    scopes: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        text = f"{_count(self.events, 'event')} in {_count(self.scopes, 'scope')} verified"
        if self.problems:
            text += f": {_count(len(self.problems), 'problem')} found"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "scopes": self.scopes,
            "summary": self.summary(),
            "problems": [asdict(p) for p in self.problems],
        }


@dataclass(slots=True)
class _Chain:
    scope: str
    head: tuple[int, str] | None
    expected: int = 1
    prev_hash: str = GENESIS
    last_id: int | None = None
    last_hash: str | None = None


def _rows(scope: str | None) -> Iterator[tuple[Any, ...]]:
    qs = AuditEvent.objects.order_by("scope", "seq")
    if scope is not None:
        qs = qs.filter(scope=scope)
    yield from qs.values_list("id", "hash", *HASHED_FIELDS).iterator(chunk_size=CHUNK)


def _heads(scope: str | None, scopes: set[str] | None = None) -> dict[str, tuple[int, str]]:
    qs = AuditChainHead.objects.all()
    if scope is not None:
        qs = qs.filter(scope=scope)
    if scopes is not None:
        qs = qs.filter(scope__in=scopes)
    return {s: (seq, h) for s, seq, h in qs.values_list("scope", "seq", "last_hash")}


def verify(
    *,
    scope: str | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> Report:
    report = Report()
    heads = _heads(scope)
    seen_scopes: set[str] = set()
    beyond_head: list[Problem] = []  # re-checked against fresh heads at the end
    chain: _Chain | None = None

    def finish(c: _Chain) -> None:
        if c.head is None:
            return
        head_seq, head_hash = c.head
        if head_seq >= c.expected:
            report.problems.append(
                Problem("deleted", c.scope, c.expected, None, _missing(c.expected, head_seq))
            )
        elif c.expected - 1 == head_seq and c.last_hash != head_hash:
            report.problems.append(
                Problem(
                    "head_mismatch",
                    c.scope,
                    head_seq,
                    c.last_id,
                    "the chain head's last_hash is not the hash of the last event",
                )
            )

    for row in _rows(scope):
        event_id, stored_hash = row[0], row[1]
        fields = dict(zip(HASHED_FIELDS, row[2:], strict=True))
        row_scope: str = fields["scope"]
        seq: int = fields["seq"]
        if chain is None or chain.scope != row_scope:
            if chain is not None:
                finish(chain)
            chain = _Chain(scope=row_scope, head=heads.get(row_scope))
            seen_scopes.add(row_scope)
        report.events += 1
        if progress is not None and report.events % progress_every == 0:
            progress(report.events)

        if compute_hash(fields) != stored_hash:
            report.problems.append(
                Problem("modified", row_scope, seq, event_id, "stored hash does not match fields")
            )
        if seq < 1:
            report.problems.append(
                Problem("inserted", row_scope, seq, event_id, "seq numbers start at 1")
            )
        elif chain.head is None:
            beyond_head.append(
                Problem("inserted", row_scope, seq, event_id, "no chain head for this scope")
            )
        elif seq > chain.head[0]:
            beyond_head.append(
                Problem(
                    "inserted",
                    row_scope,
                    seq,
                    event_id,
                    f"seq is beyond the chain head (seq {chain.head[0]})",
                )
            )
        if seq > chain.expected:
            report.problems.append(
                Problem(
                    "deleted", row_scope, chain.expected, None, _missing(chain.expected, seq - 1)
                )
            )
        elif seq == chain.expected and fields["prev_hash"] != chain.prev_hash:
            previous = f"event id {chain.last_id}" if chain.last_id is not None else "genesis"
            report.problems.append(
                Problem(
                    "broken_link",
                    row_scope,
                    seq,
                    event_id,
                    f"prev_hash is not the hash of seq {seq - 1} ({previous}):"
                    " one of the two was replaced or inserted",
                )
            )
        chain.expected = max(seq, 0) + 1
        chain.prev_hash = stored_hash
        chain.last_id = event_id
        chain.last_hash = stored_hash
    if chain is not None:
        finish(chain)

    for empty_scope, (head_seq, _) in heads.items():
        if empty_scope not in seen_scopes and head_seq > 0:
            report.problems.append(Problem("deleted", empty_scope, 1, None, _missing(1, head_seq)))
    if beyond_head:
        fresh = _heads(scope, {p.scope for p in beyond_head})
        for problem in beyond_head:
            head = fresh.get(problem.scope)
            if head is None or (problem.seq or 0) > head[0]:
                report.problems.append(problem)
    report.scopes = len(seen_scopes | set(heads))
    report.problems.sort(key=lambda p: (p.scope, p.seq if p.seq is not None else -1, p.kind))
    return report


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"seq {first} is missing"
    return f"seq {first}-{last} are missing ({last - first + 1} events)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
