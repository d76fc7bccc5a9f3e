"""Slots: where a target's upgrades go, computed once per group (zone + rule + lead).

A `SlotSeries` yields the acceptable slots of one group in order (the first is where
the release goes; later ones are where an instance is carried when it opts out or is
not accepted in time). Every text a step shows (local times, reasons) is formatted here
once per slot, so emitting 100,000 instances does no per-instance zone work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from releasedesk.core.timeutil import combine_local, format_local, format_utc, to_local
from releasedesk.scheduling.blackouts import Blackouts, next_window_outside_blackouts
from releasedesk.scheduling.cadence import Cadence, CycleOffset, NoMoreCycles, cycle_on_or_after
from releasedesk.scheduling.deadlines import DeadlineRule, evaluate_deadline
from releasedesk.scheduling.durations import Duration
from releasedesk.scheduling.notice import NoticeTimes, notice_times
from releasedesk.scheduling.windows import WindowRule

MAX_SLOTS = 60  # carried at most this many cycles/windows before the planner gives up


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat()


def short_local(instant: dt.datetime, zone: str) -> str:
    """'2027-02-09 17:00 CET' (for reasons; the step itself carries the zone name)."""
    local = to_local(instant, zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@dataclass(frozen=True)
class ConsentRule:
    rule: DeadlineRule
    zone: str  # where the deadline is read
    holidays: Collection[dt.date] = frozenset()


@dataclass
class SlotInfo:
    """One acceptable slot of a group, with everything the steps need, formatted once."""

    start: dt.datetime
    zone: str
    local_date: dt.date
    reason: str
    end: dt.datetime | None = None
    notice: NoticeTimes | None = None
    deadline: dt.datetime | None = None
    deadline_ok: bool = True
    deadline_reason: str = ""
    deadline_zone: str = ""
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    override: str = ""  # a hotfix's blackout override, in words
    unmeetable: str = ""  # why the slot cannot be used at all

    # Texts every instance of the group shows: formatted once per slot (no per-instance
    # zone work when 100,000 instances share the slot).

    @cached_property
    def date_key(self) -> str:
        return self.local_date.isoformat()

    @cached_property
    def start_text(self) -> str:
        return short_local(self.start, self.zone)

    @cached_property
    def start_iso(self) -> str:
        return iso(self.start)

    @cached_property
    def deadline_text(self) -> str:
        assert self.deadline is not None
        return short_local(self.deadline, self.deadline_zone or self.zone)

    @cached_property
    def deadline_iso(self) -> str | None:
        return iso(self.deadline) if self.deadline is not None else None

    @cached_property
    def deliver_by_text(self) -> str:
        """'2027-03-25 15:00 CET = 2027-03-25 14:00 UTC'."""
        assert self.notice is not None
        deliver_by = self.notice.must_deliver_by
        return f"{short_local(deliver_by, self.zone)} = {format_utc(deliver_by)}"

    @cached_property
    def deliver_by_iso(self) -> str | None:
        return iso(self.notice.must_deliver_by) if self.notice is not None else None

    @cached_property
    def derived(self) -> dict[str, str]:
        """Per-slot strings the planner builds once (reasons shared by every instance)."""
        return {}


def finish_slot(
    slot: SlotInfo,
    *,
    lead: Duration,
    margin: Duration,
    gate: dt.datetime,
    consent: ConsentRule | None,
) -> SlotInfo:
    """Add the notice times and the consent deadline to a slot."""
    if lead.delta > dt.timedelta(0):
        slot.notice = notice_times(slot.start, lead, margin=margin, approved_at=gate)
    if consent is not None:
        result = evaluate_deadline(consent.rule, slot.start, consent.zone, consent.holidays)
        slot.deadline = result.deadline_utc
        slot.deadline_ok = result.meetable
        slot.deadline_zone = consent.zone
        slot.deadline_reason = (
            f"{consent.rule.describe()} ({consent.zone})"
            if result.meetable
            else (
                f"deadline {consent.rule.describe()} ({short_local(result.deadline_utc, consent.zone)}) "
                f"is not before the start ({short_local(slot.start, consent.zone)}): it cannot be met"
            )
        )
    return slot


class SlotSeries:
    """The acceptable slots of one group, generated lazily and remembered."""

    def __init__(self, generator: Iterator[SlotInfo]) -> None:
        self._generator = generator
        self._slots: list[SlotInfo] = []
        self._done = False

    def get(self, index: int) -> SlotInfo | None:
        while len(self._slots) <= index and not self._done:
            try:
                self._slots.append(next(self._generator))
            except StopIteration:
                self._done = True
        return self._slots[index] if index < len(self._slots) else None


def _gap_warning(slot_start: dt.datetime, wanted: dt.time, zone: str) -> tuple[str, str] | None:
    local = to_local(slot_start, zone)
    if local.time().replace(tzinfo=None) == wanted:
        return None
    return (
        "dst_gap_shift",
        f"{wanted:%H:%M} does not exist on {local.date().isoformat()} in {zone} (the clocks "
        f"go forward): the slot moves forward to the transition, {format_local(slot_start, zone)}",
    )


def _notice_threshold(
    gate: dt.datetime, now: dt.datetime, lead: Duration, margin: Duration
) -> dt.datetime:
    """The earliest start that still leaves the full notice after `gate` and after now."""
    base = max(gate, now)
    if lead.delta > dt.timedelta(0):
        return base + lead.delta + margin.delta
    return base


def window_series(
    rule: WindowRule,
    zone: str,
    blackouts: Blackouts,
    *,
    gate: dt.datetime,
    now: dt.datetime,
    not_before: dt.datetime,
    lead: Duration,
    margin: Duration,
    consent: ConsentRule | None,
    window_name: str,
    is_delivered: Callable[[dt.date, dt.datetime], bool] | None = None,
) -> Iterator[SlotInfo]:
    """Windows outside blackouts that leave the full notice after `gate` and can still be
    announced now (or whose notice was already delivered in time: `is_delivered`)."""
    if is_delivered is None:
        threshold = max(_notice_threshold(gate, now, lead, margin), not_before)
    else:
        threshold = max(_notice_threshold(gate, gate, lead, margin), not_before)
    label = rule.label
    first = True
    for _ in range(MAX_SLOTS * 4):
        choice = next_window_outside_blackouts(rule, zone, blackouts, threshold)
        window = choice.window
        if window is None:
            return
        if (
            is_delivered is not None
            and not is_delivered(window.local_date, window.start_utc)
            and window.start_utc < _notice_threshold(now, now, lead, margin)
        ):
            threshold = window.start_utc + dt.timedelta(microseconds=1)
            continue
        if lead.delta > dt.timedelta(0):
            why = f"first {label} window that leaves {lead.possessive()} notice"
        else:
            why = f"first {label} window after approval"
        if not first:
            why = f"next {label} window"
        why += f" ({window_name})"
        if choice.skipped:
            why += "; skipped " + "; ".join(
                f"{short_local(s.window.start_utc, zone)} ({s.blackout.reason})"
                for s in choice.skipped
            )
        slot = SlotInfo(window.start_utc, zone, window.local_date, why, end=window.end_utc)
        gap = _gap_warning(window.start_utc, rule.start, zone)
        if gap:
            slot.warnings.append(gap)
        yield finish_slot(slot, lead=lead, margin=margin, gate=gate, consent=consent)
        first = False
        threshold = window.start_utc + dt.timedelta(microseconds=1)


def anytime_series(
    zone: str,
    blackouts: Blackouts,
    *,
    gate: dt.datetime,
    now: dt.datetime,
    not_before: dt.datetime,
    lead: Duration,
    margin: Duration,
    consent: ConsentRule | None,
    hotfix: str,
    override_reason: str,
    waives_blackouts: bool,
) -> Iterator[SlotInfo]:
    """One slot: as soon as approved (after the notice lead, if any), outside blackouts.
    A hotfix stays put inside a blackout only with a recorded override reason (or when the
    lane waives blackouts); without one the slot is unmeetable."""
    start = max(_notice_threshold(gate, now, lead, margin), not_before)
    if hotfix:
        why = f"{hotfix} hotfix: immediately after approval, outside any window"
        why += ", with no advance notice" if lead.delta == dt.timedelta(0) else ""
    elif lead.delta > dt.timedelta(0):
        why = f"any time after approval that leaves {lead.possessive()} notice"
    else:
        why = "any time: immediately after approval, no window needed"
    skipped: list[str] = []
    slot: SlotInfo | None = None
    for _ in range(MAX_SLOTS):
        blackout = blackouts.covers(start, start)
        if blackout is None:
            break
        if hotfix and (override_reason or waives_blackouts):
            slot = SlotInfo(start, zone, to_local(start, zone).date(), why)
            slot.override = (
                f"inside {blackout.reason} ({short_local(blackout.start_utc, zone)} to "
                f"{short_local(blackout.end_utc, zone)}): "
                + (
                    f"overridden with the recorded reason {override_reason!r}"
                    if override_reason
                    else "the hotfix lane waives blackouts"
                )
            )
            break
        if hotfix:
            slot = SlotInfo(start, zone, to_local(start, zone).date(), why)
            slot.unmeetable = (
                f"inside {blackout.reason} ({short_local(blackout.start_utc, zone)} to "
                f"{short_local(blackout.end_utc, zone)}): a hotfix may go out in a blackout only "
                "with a recorded override reason"
            )
            break
        skipped.append(f"{short_local(start, zone)} ({blackout.reason})")
        start = blackout.end_utc
    if slot is None:
        if skipped:
            why += "; moved past " + "; ".join(skipped)
        slot = SlotInfo(start, zone, to_local(start, zone).date(), why)
    yield finish_slot(slot, lead=lead, margin=margin, gate=gate, consent=consent)


def _cycle_problem(
    cycle: dt.date,
    start: dt.datetime,
    zone: str,
    blackouts: Blackouts,
    gate: dt.datetime,
    gate_reason: str,
    now: dt.datetime,
    lead: Duration,
    margin: Duration,
    delivered: bool,
) -> str:
    """Why a cycle's slot cannot be used ('' when it can)."""
    if start < gate:
        return f"{cycle.isoformat()}: before {gate_reason}"
    if lead.delta and start < gate + lead.delta + margin.delta:
        return (
            f"{cycle.isoformat()}: leaves less than {lead.possessive()} notice after {gate_reason}"
        )
    if lead.delta and start - lead.delta - margin.delta < now and not delivered:
        return f"{cycle.isoformat()}: too late to give {lead.possessive()} notice"
    if not lead.delta and start < now:
        return f"{cycle.isoformat()}: already past"
    blackout = blackouts.covers(start, start)
    if blackout is not None:
        return f"{cycle.isoformat()}: {short_local(start, zone)} is in {blackout.reason}"
    return ""


def cycle_series(
    cadence: Cadence,
    offset: CycleOffset,
    zone: str,
    blackouts: Blackouts,
    *,
    first_cycle_from: dt.date,
    gate: dt.datetime,
    gate_reason: str,
    now: dt.datetime,
    lead: Duration,
    margin: Duration,
    consent: ConsentRule | None,
    is_delivered: Callable[[dt.date, dt.datetime], bool] | None = None,
    own: tuple[WindowRule, str] | None = None,
) -> Iterator[SlotInfo]:
    """Cycle slots from the first cycle on or after `first_cycle_from` whose gates the
    release meets: after `gate` with the full notice lead, notice still sendable now, and
    not in a blackout or freeze.

    `own` (an instance's or contract's own window, with the zone it is read in): the upgrade
    goes into the first own window (outside blackouts) at or after the cycle's instant and
    before the next cycle's; a cycle without one is passed over."""
    try:
        cycle = cycle_on_or_after(cadence, first_cycle_from)
    except NoMoreCycles:
        return
    passed_over: list[str] = []
    first = True
    for _ in range(MAX_SLOTS * 4):
        start = offset.instant(cycle, zone)
        end: dt.datetime | None = None
        local_date = offset.local_date(cycle)
        wanted, wanted_zone = offset.at, zone
        problem = own_text = ""
        if own is not None:
            rule, own_zone = own
            try:
                following: dt.datetime | None = offset.instant(
                    cycle_on_or_after(cadence, cycle + dt.timedelta(days=1)), zone
                )
            except NoMoreCycles:
                following = None
            window = next_window_outside_blackouts(rule, own_zone, blackouts, start).window
            if window is None or (following is not None and window.start_utc >= following):
                problem = f"{cycle.isoformat()}: no own window ({rule.label}) before the next cycle"
            else:
                start, end = window.start_utc, window.end_utc
                local_date = to_local(start, zone).date()
                wanted, wanted_zone = rule.start, own_zone
                own_text = f"; the first own window ({rule.text}, {own_zone}) from then"
        if not problem:
            delivered = is_delivered is not None and is_delivered(local_date, start)
            problem = _cycle_problem(
                cycle, start, zone, blackouts, gate, gate_reason, now, lead, margin, delivered
            )
        if problem:
            if first:
                passed_over.append(problem)
        else:
            when = offset.describe()
            why = (
                f"{'first' if first else 'next'} cycle ({cadence.text}) whose gates it meets: "
                f"the cycle of {cycle.isoformat()}, {when}{own_text}"
            )
            if passed_over and first:
                why += "; passed over " + "; ".join(passed_over[-3:])
            slot = SlotInfo(start, zone, local_date, why, end=end)
            gap = _gap_warning(start, wanted, wanted_zone)
            if gap:
                slot.warnings.append(gap)
            yield finish_slot(slot, lead=lead, margin=margin, gate=gate, consent=consent)
            first = False
        try:
            cycle = cycle_on_or_after(cadence, cycle + dt.timedelta(days=1))
        except NoMoreCycles:
            return


def single_slot(
    start: dt.datetime,
    zone: str,
    reason: str,
    *,
    lead: Duration,
    margin: Duration,
    gate: dt.datetime,
    consent: ConsentRule | None,
    end: dt.datetime | None = None,
) -> SlotInfo:
    """A slot at a given instant (a frozen upgrade's, or a delivered notice's)."""
    slot = SlotInfo(start, zone, to_local(start, zone).date(), reason, end=end)
    return finish_slot(slot, lead=lead, margin=margin, gate=gate, consent=consent)


def local_midnight(day: dt.date, zone: str) -> dt.datetime:
    return combine_local(day, dt.time(0), zone)


__all__ = [
    "MAX_SLOTS",
    "ConsentRule",
    "SlotInfo",
    "SlotSeries",
    "anytime_series",
    "cycle_series",
    "format_utc",
    "local_midnight",
    "short_local",
    "single_slot",
    "window_series",
]
