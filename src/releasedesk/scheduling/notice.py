"""Notice arithmetic (DESIGN.md §4): lead times are absolute durations.

For a start instant S, a lead L and a send margin M (default 1 hour):

    must_deliver_by = S - L                      (the gate: delivered_at <= S - L)
    send_at         = max(S - L - M, approved_at)

The notice is feasible when it can be sent and still have the margin before it
must be delivered: approved_at + M <= S - L. `earliest_start_with_notice` finds the
first window occurrence whose start satisfies that, i.e. start >= approved_at + L + M.
All arithmetic is on UTC instants; a 7-day lead across a DST change is 168 real hours.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from releasedesk.core.timeutil import ensure_aware, format_local

from .blackouts import Blackouts, Skipped, next_window_outside_blackouts
from .durations import Duration
from .windows import Window, WindowRule, occurrences

__all__ = [
    "DEFAULT_MARGIN",
    "NoticePlan",
    "NoticeTimes",
    "earliest_start_with_notice",
    "notice_times",
]

Zone = zoneinfo.ZoneInfo | str
DEFAULT_MARGIN = Duration(dt.timedelta(hours=1), "1h")


@dataclass(frozen=True, slots=True)
class NoticeTimes:
    """When a notice for a start must be delivered and when to send it."""

    start_utc: dt.datetime
    lead: Duration
    margin: Duration
    must_deliver_by: dt.datetime
    send_at: dt.datetime
    feasible: bool


def notice_times(
    start_utc: dt.datetime,
    lead: Duration,
    *,
    margin: Duration = DEFAULT_MARGIN,
    approved_at: dt.datetime | None = None,
) -> NoticeTimes:
    """must_deliver_by = start - lead; send_at = max(start - lead - margin, approved_at);
    feasible when approved_at (if given) + margin <= must_deliver_by."""
    start = ensure_aware(start_utc)
    must_deliver_by = start - lead.delta
    send_at = must_deliver_by - margin.delta
    feasible = True
    if approved_at is not None:
        approved = ensure_aware(approved_at)
        send_at = max(send_at, approved)
        feasible = approved + margin.delta <= must_deliver_by
    return NoticeTimes(start, lead, margin, must_deliver_by, send_at, feasible)


@dataclass(frozen=True, slots=True)
class NoticePlan:
    """The chosen window, its notice times, the reason in words, and the windows passed
    over (too early for the notice, or inside a blackout) with why."""

    window: Window | None
    notice: NoticeTimes | None
    reason: str
    too_early: tuple[Window, ...] = ()
    blocked: tuple[Skipped, ...] = ()


def earliest_start_with_notice(
    window_rule: WindowRule,
    zone: Zone,
    approved_at_utc: dt.datetime,
    lead: Duration,
    margin: Duration = DEFAULT_MARGIN,
    *,
    blackouts: Blackouts | None = None,
    not_before: dt.datetime | None = None,
) -> NoticePlan:
    """The first window (optionally outside `blackouts`, and not before `not_before`)
    whose start leaves the full lead after approval plus the margin:
    start - lead >= approved_at + margin.

    S1: approved 2027-03-22 10:00 Europe/Amsterdam, weekly thursday 16:00, lead 7d,
    margin 1h -> 2027-04-01 16:00 CEST (14:00 UTC), deliver by 2027-03-25 14:00 UTC.
    """
    approved = ensure_aware(approved_at_utc)
    earliest = approved + lead.delta + margin.delta
    if not_before is not None:
        earliest = max(earliest, ensure_aware(not_before))
    choice = next_window_outside_blackouts(
        window_rule, zone, blackouts or Blackouts(()), approved, min_start=earliest
    )
    # Windows between approval and the first acceptable start: passed over for notice.
    too_early: list[Window] = []
    if lead.delta > dt.timedelta(0) or margin.delta > dt.timedelta(0):
        too_early = list(occurrences(window_rule, zone, approved, earliest))
    label = window_rule.label
    if choice.window is None:
        return NoticePlan(
            None,
            None,
            f"no {label} window found that leaves {lead.possessive()} notice",
            tuple(too_early),
            choice.skipped,
        )
    notice = notice_times(choice.window.start_utc, lead, margin=margin, approved_at=approved)
    reason = f"first {label} window that leaves {lead.possessive()} notice"
    if choice.skipped:
        reason += "; skipped " + "; ".join(
            f"{format_local(s.window.start_utc, zone)} ({s.blackout.reason})"
            for s in choice.skipped
        )
    return NoticePlan(choice.window, notice, reason, tuple(too_early), choice.skipped)
