"""The pure planner: `plan(release, policy, catalogue, facts, now) -> Plan` (DESIGN.md §1).

Deterministic and free of I/O: the same inputs give the same steps. Steps already
carried out (`facts.steps`) are frozen: returned as they happened, never moved. Steps that
cannot be met are returned with status "unmeetable" and a problem, never dropped.

`iter_plan` is the streaming form for large catalogues: it computes slots once per
group of instances sharing (target, zone, window, notice lead) and then emits each
instance's steps from that group's precomputed slots and texts (see `_slots`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import holidays as holidays_lib

from releasedesk.core.errors import ValidationFailed
from releasedesk.core.timeutil import ensure_aware
from releasedesk.core.versions import version_key
from releasedesk.planning import recipients
from releasedesk.planning._instance import InstanceSteps, _Group, _Notice
from releasedesk.planning._slots import (
    ConsentRule,
    SlotInfo,
    SlotSeries,
    anytime_series,
    cycle_series,
    local_midnight,
    short_local,
    single_slot,
    window_series,
)
from releasedesk.planning._timeline import TASK_TIME, DateSteps
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ConsentFact,
    Facts,
    InstanceSnapshot,
    OwnWindow,
    Plan,
    Problem,
    ReleaseSnapshot,
    SlotFact,
    Step,
    StepKind,
)
from releasedesk.policies.risk import ChangeFacts, assess
from releasedesk.policies.schema import LevelDemands, PolicyDocument
from releasedesk.policies.timeschema import ConsentSpec, TargetSpec
from releasedesk.scheduling._grammar import TimeRuleError
from releasedesk.scheduling.blackouts import (
    Blackouts,
    BlackoutSource,
    FixedDates,
    Freeze,
    IcsBlackouts,
    PublicHolidays,
    YearlyDates,
)
from releasedesk.scheduling.durations import Duration
from releasedesk.scheduling.windows import WindowRule, parse_window

__all__ = ["KIND_ORDER", "TASK_TIME", "iter_plan", "plan", "sort_key"]

KIND_ORDER: dict[str, int] = {
    k: i
    for i, k in enumerate(
        (
            StepKind.STAGE_GATE,
            StepKind.REMINDER,
            StepKind.CONSENT_DEADLINE,
            StepKind.NOTICE,
            StepKind.UPGRADE,
            StepKind.VERIFY,
            StepKind.CONFIRM,
            StepKind.SEND,
            StepKind.PUBLISH,
            StepKind.DIGEST,
            StepKind.TASK,
            StepKind.HYPERCARE,
        )
    )
}
_MAX_CARRIES = 24


def sort_key(step: Step) -> tuple[dt.datetime, int, str]:
    return (step.due_at, KIND_ORDER.get(step.kind, 99), step.key)


def plan(
    release: ReleaseSnapshot,
    policy: PolicyDocument,
    catalogue: CatalogueSnapshot,
    facts: Facts,
    now: dt.datetime,
) -> Plan:
    """Every step of the release, sorted by time, with its problems and warnings."""
    steps: list[Step] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for item in iter_plan(release, policy, catalogue, facts, now):
        if isinstance(item, Step):
            steps.append(item)
        elif item.severity == "warning":
            warnings.append(item)
        else:
            problems.append(item)
    steps.sort(key=sort_key)
    return Plan(tuple(steps), tuple(problems), tuple(warnings))


def iter_plan(
    release: ReleaseSnapshot,
    policy: PolicyDocument,
    catalogue: CatalogueSnapshot,
    facts: Facts,
    now: dt.datetime,
) -> Iterator[Step | Problem]:
    """The same steps as `plan`, streamed (grouped by target, not sorted by time)."""
    return _Planner(release, policy, catalogue, facts, now).run()


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _duration(delta: dt.timedelta) -> Duration:
    """A Duration written the way people say it: 48h up to two days, then days (7d)."""
    seconds = int(delta.total_seconds())
    if seconds and seconds % 86400 == 0 and seconds >= 3 * 86400:
        return Duration(delta, f"{seconds // 86400}d")
    if seconds and seconds % 3600 == 0:
        return Duration(delta, f"{seconds // 3600}h")
    return Duration(delta)


def _warning(code: str, message: str, key: str | None = None) -> Problem:
    return Problem(code, message, key, "warning")


class _Planner(InstanceSteps, DateSteps):
    def __init__(
        self,
        release: ReleaseSnapshot,
        policy: PolicyDocument,
        catalogue: CatalogueSnapshot,
        facts: Facts,
        now: dt.datetime,
    ) -> None:
        self.release = release
        self.policy = policy
        self.catalogue = catalogue
        self.facts = facts
        self.now = ensure_aware(now)
        self.rid = f"r{release.id}"
        self.products = frozenset(release.product_ids)
        self.max_upgrade: dt.datetime | None = None
        self.emitted: set[str] | None = set() if facts.steps else None
        self.consents: dict[tuple[str, int], list[ConsentFact]] = {}
        for fact in sorted(facts.consents, key=lambda c: (c.received_at, c.decision)):
            self.consents.setdefault((fact.target, fact.instance_id), []).append(fact)
        self.other_slots: dict[int, list[SlotFact]] = {}
        for other in facts.other_slots:
            if other.release_id != release.id:
                self.other_slots.setdefault(other.instance_id, []).append(other)
        self.delivered: dict[int, dict[str, dt.datetime]] = {}
        prefix = f"{self.rid}:i"
        for key, delivered_at in facts.notices_delivered.items():
            if key.startswith(prefix) and ":notice:" in key:
                head, _, day = key.partition(":notice:")
                try:
                    iid = int(head[len(prefix) :])
                except ValueError:
                    continue
                self.delivered.setdefault(iid, {})[day] = delivered_at
        self.warned_slots: set[int] = set()
        self.seen_instances: dict[int, str] = {}

    # -- emission ------------------------------------------------------------------------

    def emit(self, step: Step) -> Step:
        if self.emitted is None:
            return step
        self.emitted.add(step.key)
        fact = self.facts.frozen(step.key)
        if fact is None:
            return step
        payload = {**step.payload, "state": fact.state, "finished_at": _iso(fact.finished_at)}
        return dataclasses.replace(
            step,
            due_at=fact.due_at,
            label=fact.label or step.label,
            reason=fact.reason or step.reason,
            ends_at=fact.ends_at or step.ends_at,
            status="frozen",
            payload=payload,
        )

    def leftover_frozen(self) -> Iterator[Step]:
        """Frozen facts the current rules no longer produce (e.g. a notice for a date that
        moved): the past stays in the plan."""
        if self.emitted is None:
            return
        for key in sorted(self.facts.steps):
            fact = self.facts.frozen(key)
            if fact is None or key in self.emitted:
                continue
            yield Step(
                key=fact.key,
                kind=fact.kind or StepKind.TASK,
                due_at=fact.due_at,
                zone=fact.zone or "UTC",
                label=fact.label or fact.key,
                reason=fact.reason or f"already {fact.state}",
                target=fact.target,
                instance_id=fact.instance_id,
                customer_id=fact.customer_id,
                audience=fact.audience,
                ends_at=fact.ends_at,
                payload={
                    **fact.payload,
                    "state": fact.state,
                    "finished_at": _iso(fact.finished_at),
                },
                status="frozen",
            )

    # -- the whole plan ------------------------------------------------------------------

    def run(self) -> Iterator[Step | Problem]:
        demands, problem = self.demands()
        if problem is not None:
            yield problem
        blackouts, problems = self.blackouts()
        yield from problems
        self.blackout_set = blackouts
        self.holidays = self.public_holidays()
        gate, gate_reason = self.approval_gate()
        if self.facts.approvals_complete_at is None:
            yield _warning(
                "approvals_pending",
                "the required approvals are not complete: the times below assume approval "
                f"now ({short_local(self.now, self.policy.zone)})",
            )
        stage_steps, customer_gate, blocked = self.stages(gate, gate_reason)
        for step in stage_steps:
            yield self.emit(step)
        if demands is not None and not demands.releasable:
            yield Problem(
                "not_releasable",
                f"level {self.release.level or '?'} is not releasable: "
                f"{demands.advice or 'reduce the risk and re-assess'}",
            )
        elif demands is not None and blocked:
            yield _warning("stage_pending", blocked)
        elif demands is not None:
            for target in self.policy.targets:
                yield from self.target(target, demands, *customer_gate)
        yield from self.timeline(gate)
        yield from self.publication()
        yield from self.leftover_frozen()

    def demands(self) -> tuple[LevelDemands | None, Problem | None]:
        if self.release.demands is not None:
            return self.release.demands, None
        if self.policy.risk is not None:
            return None, Problem(
                "not_assessed",
                f"release {self.release.version} has no risk assessment: assess it to plan its "
                "targets (timeline tasks are planned without it)",
            )
        try:
            outcome = assess(
                self.policy,
                impact=None,
                likelihood=None,
                changes=[
                    ChangeFacts(c.kind, c.significant, c.reversible, c.title)
                    for c in self.release.changes
                ],
                kind=self.release.kind,
                hotfix_reason=self.release.hotfix_reason or None,
            )
        except ValidationFailed as exc:
            return None, Problem("not_assessed", exc.message)
        return outcome.demands, None

    def blackouts(self) -> tuple[Blackouts, list[Problem]]:
        sources: list[BlackoutSource] = []
        problems: list[Problem] = []
        for spec in self.policy.blackouts:
            zone = spec.zone or self.policy.zone
            if spec.dates is not None:
                last = spec.dates.to or spec.dates.from_
                reason = spec.reason or f"blackout {spec.dates.from_}..{last}"
                sources.append(FixedDates(spec.dates.from_, last, zone, reason))
            elif spec.yearly is not None:
                last_md = spec.yearly.to or spec.yearly.from_
                reason = spec.reason or f"yearly blackout {spec.yearly.from_}..{last_md}"
                sources.append(YearlyDates(spec.yearly.from_, last_md, zone, reason))
            elif spec.holidays is not None:
                h = spec.holidays
                sources.append(PublicHolidays(h.country, zone, h.subdiv, h.language))
            elif spec.ics is not None:
                text = self.facts.calendars.get(spec.ics)
                if text is None:
                    problems.append(
                        Problem(
                            "calendar_missing",
                            f"blackout calendar {spec.ics!r} was not found: its blackouts are "
                            "not applied",
                        )
                    )
                    continue
                try:
                    sources.append(IcsBlackouts(text, zone, spec.reason or None))
                except TimeRuleError as exc:
                    problems.append(
                        Problem(
                            "calendar_unreadable",
                            f"blackout calendar {spec.ics!r} cannot be read ({exc}): its "
                            "blackouts are not applied",
                        )
                    )
        for freeze in self.facts.freezes:
            sources.append(Freeze(freeze.start, freeze.end, f"change freeze: {freeze.reason}"))
        return Blackouts(sources), problems

    def public_holidays(self) -> frozenset[dt.date]:
        """Public holiday dates of the policy's holiday blackouts: not working days for
        'previous working day' deadlines."""
        year = self.release.target_date.year
        days: set[dt.date] = set()
        for spec in self.policy.blackouts:
            if spec.holidays is not None:
                table: Any = holidays_lib.country_holidays(
                    spec.holidays.country,
                    subdiv=spec.holidays.subdiv,
                    years=range(year - 1, year + 4),
                )
                days.update(table.keys())
        return frozenset(days)

    def approval_gate(self) -> tuple[dt.datetime, str]:
        approved = self.facts.approvals_complete_at
        if approved is None:
            return self.now, "approval (pending)"
        return ensure_aware(approved), f"approval ({short_local(approved, self.policy.zone)})"

    # -- targets -------------------------------------------------------------------------

    def select(self, target: TargetSpec) -> list[InstanceSnapshot]:
        sel = target.instances
        slugs = set(sel.instances) if sel.instances is not None else None
        found = []
        for inst in self.catalogue.instances:
            if inst.product_id not in self.products:
                continue
            if sel.kind is not None and inst.kind != sel.kind:
                continue
            if sel.ring is not None and inst.ring != sel.ring:
                continue
            if sel.product is not None:
                product = self.catalogue.product_by_id.get(inst.product_id)
                if product is None or product.slug != sel.product:
                    continue
            if slugs is not None and inst.slug not in slugs:
                continue
            found.append(inst)
        return sorted(found, key=lambda i: i.id)

    def zone_of(self, target: TargetSpec, inst: InstanceSnapshot) -> str:
        if target.zone == "policy":
            return self.policy.zone
        if target.zone != "instance":
            return target.zone
        if inst.zone:
            return inst.zone
        owner = self.catalogue.customer_by_id.get(inst.owner_id) if inst.owner_id else None
        return owner.zone if owner is not None and owner.zone else self.policy.zone

    def notice_for(self, target: TargetSpec, demands: LevelDemands) -> _Notice | None:
        level = demands.notice
        urgent = self.release.urgent
        leads: list[tuple[dt.timedelta, dt.timedelta, str]] = []
        if level is not None:
            lead = level.urgent_lead if urgent and level.urgent_lead is not None else level.lead
            leads.append((lead, level.margin, level.to or ""))
        if target.notice is not None and not self.release.is_hotfix:
            n = target.notice
            lead = n.urgent_lead if urgent and n.urgent_lead is not None else n.lead
            leads.append((lead, n.margin, n.to))
        afterwards = level.afterwards.to if level is not None and level.afterwards else ""
        if not leads:
            return None
        lead = max(x[0] for x in leads)
        margin = max(x[1] for x in leads)
        to = next((x[2] for x in leads if x[0] == lead and x[2]), "") or next(
            (x[2] for x in leads if x[2]), ""
        )
        return _Notice(_duration(lead), _duration(margin), to, afterwards)

    def contract_of(
        self, target: TargetSpec, inst: InstanceSnapshot
    ) -> tuple[dt.timedelta | None, OwnWindow | None]:
        """The strictest contract terms that apply to the instance: its owner's, or for a
        shared instance the longest notice among the customers using it."""
        by_id = self.catalogue.customer_by_id
        if inst.owner_id is not None:
            owner = by_id.get(inst.owner_id)
            if owner is None:
                return None, None
            return owner.contract.notice_lead, owner.contract.window
        leads = [
            c.contract.notice_lead
            for sub in self.catalogue.subscribers_by_instance.get(inst.id, ())
            if sub.product_id in self.products
            and (c := by_id.get(sub.customer_id)) is not None
            and c.contract.notice_lead is not None
        ]
        return (max(leads) if leads else None), None

    def target(
        self, target: TargetSpec, demands: LevelDemands, gate: dt.datetime, gate_reason: str
    ) -> Iterator[Step | Problem]:
        instances = self.select(target)
        if not instances:
            yield _warning(
                "no_instances",
                f"target {target.name}: no instance of the release's products matches "
                f"{target.instances.model_dump(exclude_none=True) or 'the selector'}",
            )
            return
        window_name = target.window or demands.window
        if (
            not self.release.is_hotfix
            and target.cycle is None
            and window_name != "anytime"
            and window_name not in self.policy.windows
        ):
            yield Problem(
                "unknown_window",
                f"target {target.name}: window {window_name!r} is not defined in this policy "
                f"version (defined: {', '.join(self.policy.windows) or 'none'}); re-assess the "
                "release under the current policy",
            )
            return
        base_notice = self.notice_for(target, demands)
        groups: dict[tuple[Any, ...], _Group] = {}
        for inst in instances:
            if inst.id in self.seen_instances:
                yield _warning(
                    "instance_in_two_targets",
                    f"instance {inst.slug} is in targets {self.seen_instances[inst.id]} and "
                    f"{target.name}: planned by {self.seen_instances[inst.id]} only",
                )
                continue
            self.seen_instances[inst.id] = target.name
            zone = self.zone_of(target, inst)
            notice = base_notice
            contract_lead, contract_window = self.contract_of(target, inst)
            if (
                notice is not None
                and notice.to
                and contract_lead is not None
                and contract_lead > notice.lead.delta
            ):
                notice = dataclasses.replace(notice, lead=_duration(contract_lead))
            own = None if self.release.is_hotfix else (inst.window or contract_window)
            key = (zone, own, notice)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(target, zone, own, notice, [])
            group.instances.append(inst)
        for group in groups.values():
            yield from self.group(group, demands, gate, gate_reason)

    def consent_rule(self, target: TargetSpec, zone: str) -> ConsentRule | None:
        consent = target.consent
        if consent is None or not self.consent_allowed(consent):
            return None
        where = {"slot": zone, "policy": self.policy.zone}.get(consent.zone, consent.zone)
        return ConsentRule(consent.deadline_rule(), where, self.holidays)

    def consent_allowed(self, consent: ConsentSpec) -> bool:
        if not self.release.is_hotfix:
            return True
        if self.release.hotfix_reason == "security" and not consent.opt_out_allowed.security:
            return False
        return consent.opt_out_allowed.hotfix

    def series_for(
        self,
        group: _Group,
        demands: LevelDemands,
        gate: dt.datetime,
        gate_reason: str,
        *,
        delivered: dict[str, dt.datetime] | None = None,
    ) -> SlotSeries:
        target, zone = group.target, group.zone
        lead = group.notice.lead if group.notice else Duration(dt.timedelta(0))
        margin = group.notice.margin if group.notice else Duration(dt.timedelta(hours=1))
        consent = self.consent_rule(target, zone)
        not_before = local_midnight(self.release.target_date, zone)
        window_name = target.window or demands.window
        lane = self.policy.hotfix
        if self.release.is_hotfix:
            return SlotSeries(
                anytime_series(
                    zone,
                    self.blackout_set,
                    gate=gate,
                    now=self.now,
                    not_before=not_before,
                    lead=lead,
                    margin=margin,
                    consent=consent,
                    hotfix=self.release.hotfix_reason or "a",
                    override_reason=self.release.blackout_override_reason,
                    waives_blackouts=lane is not None and "blackouts" in lane.waives,
                )
            )
        if target.cycle is not None:
            lead_ok = self._delivered_check(delivered, group.notice)
            own_rule: tuple[WindowRule, str] | None = None
            if group.own_window is not None:
                mine = group.own_window
                own_rule = (
                    parse_window(f"weekly on {mine.weekday} {mine.start}-{mine.end}"),
                    mine.zone or zone,
                )
            return SlotSeries(
                cycle_series(
                    target.cycle.cadence(),
                    target.cycle_offset(),
                    zone,
                    self.blackout_set,
                    first_cycle_from=self.release.target_date,
                    gate=gate,
                    gate_reason=gate_reason,
                    now=self.now,
                    lead=lead,
                    margin=margin,
                    consent=consent,
                    is_delivered=lead_ok,
                    own=own_rule,
                )
            )
        rule: WindowRule | None = None
        window_zone = zone
        if group.own_window is not None:
            own = group.own_window
            rule = parse_window(f"weekly on {own.weekday} {own.start}-{own.end}")
            window_zone = own.zone or zone
            window_name = "own window"
        elif window_name != "anytime":
            spec = self.policy.windows[window_name]
            rule = spec.rule()
            window_zone = spec.zone or zone
        if rule is None:
            return SlotSeries(
                anytime_series(
                    zone,
                    self.blackout_set,
                    gate=gate,
                    now=self.now if not delivered else gate,
                    not_before=not_before,
                    lead=lead,
                    margin=margin,
                    consent=consent,
                    hotfix="",
                    override_reason="",
                    waives_blackouts=False,
                )
            )
        return SlotSeries(
            window_series(
                rule,
                window_zone,
                self.blackout_set,
                gate=gate,
                now=self.now,
                not_before=not_before,
                lead=lead,
                margin=margin,
                consent=consent,
                window_name=window_name,
                is_delivered=self._delivered_check(delivered, group.notice),
            )
        )

    def _delivered_check(
        self, delivered: dict[str, dt.datetime] | None, notice: _Notice | None
    ) -> Callable[[dt.date, dt.datetime], bool] | None:
        if not delivered or notice is None:
            return None
        lead = notice.lead.delta

        def check(day: dt.date, start: dt.datetime) -> bool:
            at = delivered.get(day.isoformat())
            return at is not None and ensure_aware(at) <= start - lead

        return check

    def group(
        self, group: _Group, demands: LevelDemands, gate: dt.datetime, gate_reason: str
    ) -> Iterator[Step | Problem]:
        series = self.series_for(group, demands, gate, gate_reason)
        for inst in group.instances:
            own_series = series
            if inst.id in self.delivered:
                own_series = self.series_for(
                    group, demands, gate, gate_reason, delivered=self.delivered[inst.id]
                )
            yield from self.instance(group, inst, own_series, demands, gate)

    # -- one instance ----------------------------------------------------------------------

    def instance(
        self,
        group: _Group,
        inst: InstanceSnapshot,
        series: SlotSeries,
        demands: LevelDemands,
        gate: dt.datetime,
    ) -> Iterator[Step | Problem]:
        target = group.target
        base = f"{self.rid}:i{inst.id}"
        upgrade_key = f"{base}:upgrade"
        consent = (
            target.consent if target.consent and self.consent_allowed(target.consent) else None
        )
        frozen = self.facts.frozen(upgrade_key)
        carried: list[str] = []
        carried_dates: list[str] = []
        carry_time: dt.datetime | None = None
        state = ""
        decided: ConsentFact | None = None
        slot: SlotInfo | None
        if frozen is not None:
            lead = group.notice.lead if group.notice else Duration(dt.timedelta(0))
            margin = group.notice.margin if group.notice else Duration(dt.timedelta(hours=1))
            slot = single_slot(
                frozen.due_at,
                group.zone,
                f"already {frozen.state}",
                end=frozen.ends_at,
                lead=lead,
                margin=margin,
                gate=gate,
                consent=self.consent_rule(target, group.zone),
            )
        else:
            index = 0
            streak = self.facts.opt_out_streaks.get(inst.id, 0)
            used: set[int] = set()
            while True:
                slot = series.get(index)
                if slot is None or index > _MAX_CARRIES:
                    newer = self.superseding(inst, None)
                    if newer is not None:
                        yield self.superseded(target, inst, base, newer, carried, carried_dates)
                    else:
                        yield from self.no_slot(target, inst, base, carried)
                    return
                if consent is None or slot.deadline is None or slot.unmeetable:
                    break
                outcome = self.consent_outcome(target, consent, inst, slot, index, streak, used)
                if isinstance(outcome, Problem):
                    yield outcome
                    outcome = None
                if outcome is None:
                    break
                kind, text, fact, when = outcome
                if kind == "carry":
                    carried.append(text)
                    carried_dates.append(slot.date_key)
                    carry_time = when
                    if fact is not None and fact.decision != "approved":
                        streak += 1
                    index += 1
                    continue
                state, decided = kind, fact
                break
        assert slot is not None
        if frozen is None:
            newer = self.superseding(inst, slot)
            if newer is not None:
                yield self.superseded(target, inst, base, newer, carried, carried_dates)
                return
        yield from self.slot_steps(
            group, inst, slot, demands, carried, carried_dates, carry_time, state, decided
        )

    def consent_outcome(
        self,
        target: TargetSpec,
        consent: ConsentSpec,
        inst: InstanceSnapshot,
        slot: SlotInfo,
        index: int,
        streak: int,
        used: set[int],
    ) -> tuple[str, str, ConsentFact | None, dt.datetime] | Problem | None:
        """What the customer's decisions mean for this slot: ("carry", why, fact, when),
        ("approved"|"opted_in", …) or None (undecided), or a warning."""
        assert slot.deadline is not None
        facts = self.consents.get((target.name, inst.id), [])
        deadline = slot.deadline
        for position, fact in enumerate(facts):
            if position in used:
                continue
            applies = fact.slot_date is None or fact.slot_date == slot.local_date
            if not applies:
                continue
            received = ensure_aware(fact.received_at)
            if consent.mode == "approve":
                if fact.decision == "approved" and received <= deadline:
                    return ("approved", "", fact, received)
                continue
            if fact.decision not in ("opted_out", "postponed"):
                continue
            if received > deadline:
                if fact.slot_date is not None:
                    used.add(position)
                    return _warning(
                        "opt_out_after_deadline",
                        f"{inst.slug}: the opt-out received {short_local(received, slot.deadline_zone)} "
                        f"came after the deadline {slot.deadline_text} and does not count",
                        f"{self.rid}:i{inst.id}:consent_deadline:{slot.date_key}",
                    )
                continue
            used.add(position)
            limit = self.opt_out_limit(consent, inst)
            if limit is not None and streak >= limit:
                return _warning(
                    "opt_out_limit",
                    f"{inst.slug}: opt-out refused, {streak} consecutive opt-outs already "
                    f"(limit {limit}); the upgrade goes ahead and customer success is alerted",
                    f"{self.rid}:i{inst.id}:upgrade",
                )
            channel = f" via {fact.channel}" if fact.channel else ""
            return (
                "carry",
                f"carried to the next cycle: opted out {short_local(received, slot.deadline_zone)}"
                f"{channel}, before the deadline {slot.deadline_text}",
                fact,
                received,
            )
        if (
            consent.mode == "approve"
            and consent.effective_silence == "wait"
            and self.now > deadline
        ):
            return (
                "carry",
                f"carried to the next cycle: not accepted by {slot.deadline_text}",
                None,
                deadline,
            )
        return None

    def superseding(self, inst: InstanceSnapshot, slot: SlotInfo | None) -> SlotFact | None:
        """The newest release that takes this instance over at or before `slot` (any time
        when there is no slot): DESIGN.md §4b — a carried instance receives the newest
        release that passed its gates (and that its customer accepted)."""
        found = [
            other
            for other in self.other_slots.get(inst.id, ())
            if other.supersedes
            and (slot is None or other.start < (slot.end or slot.start + dt.timedelta(minutes=1)))
        ]
        if not found:
            return None
        return max(found, key=lambda other: (version_key(other.release_version), other.start))

    def superseded(
        self,
        target: TargetSpec,
        inst: InstanceSnapshot,
        base: str,
        newer: SlotFact,
        carried: list[str],
        carried_dates: list[str],
    ) -> Step:
        zone = self.zone_of(target, inst)
        why = (
            f"superseded by release {newer.release_version}, the newest release that passed "
            f"its gates for this instance, planned {short_local(newer.start, zone)}"
        )
        if carried:
            why = "; ".join(carried) + "; " + why
        return self.emit(
            Step(
                key=f"{base}:upgrade",
                kind=StepKind.UPGRADE,
                due_at=newer.start,
                zone=zone,
                label=f"Upgrade {inst.slug} to {self.release.version}",
                reason=why,
                target=target.name,
                instance_id=inst.id,
                customer_id=inst.owner_id,
                payload={
                    "target": target.name,
                    "instance_id": inst.id,
                    "customer_id": inst.owner_id,
                    "zone": zone,
                    "superseded_by": newer.release_id,
                    "superseded_by_version": newer.release_version,
                    "carried_from": carried_dates,
                },
                status="superseded",
            )
        )

    def opt_out_limit(self, consent: ConsentSpec, inst: InstanceSnapshot) -> int | None:
        limits = [consent.max_consecutive_opt_outs]
        if inst.owner_id is not None:
            owner = self.catalogue.customer_by_id.get(inst.owner_id)
            if owner is not None:
                limits.append(owner.contract.max_consecutive_opt_outs)
        found = [x for x in limits if x is not None]
        return min(found) if found else None

    def no_slot(
        self, target: TargetSpec, inst: InstanceSnapshot, base: str, carried: list[str]
    ) -> Iterator[Step | Problem]:
        why = f"no usable slot for target {target.name} within {_MAX_CARRIES} cycles/windows"
        if carried:
            why += "; " + "; ".join(carried[-3:])
        zone = self.zone_of(target, inst)
        key = f"{base}:upgrade"
        yield Problem("no_slot", f"{inst.slug}: {why}", key)
        yield self.emit(
            Step(
                key=key,
                kind=StepKind.UPGRADE,
                due_at=self.now,
                zone=zone,
                label=f"Upgrade {inst.slug} to {self.release.version}",
                reason=why,
                target=target.name,
                instance_id=inst.id,
                customer_id=inst.owner_id,
                status="unmeetable",
            )
        )

    def who(self, name: str, inst: InstanceSnapshot) -> recipients.Resolved:
        return recipients.resolve(
            name, catalogue=self.catalogue, product_ids=self.products, instances=[inst]
        )
