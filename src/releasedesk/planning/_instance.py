"""The steps of one instance at its chosen slot: upgrade, notices, consent deadline,
reminder, verification, confirmation, messages and documentation (mixed into the planner).

Every local-time text comes from the slot (formatted once per group, `_slots.SlotInfo`), so
emitting an instance costs dictionary lookups, not zone conversions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

from releasedesk.planning import recipients
from releasedesk.planning._slots import SlotInfo, short_local
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ConsentFact,
    Facts,
    InstanceSnapshot,
    OwnWindow,
    Problem,
    ReleaseSnapshot,
    SlotFact,
    Step,
    StepKind,
)
from releasedesk.policies.schema import LevelDemands, PolicyDocument
from releasedesk.policies.timeschema import ConsentSpec, TargetSpec
from releasedesk.scheduling.durations import Duration


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _warning(code: str, message: str, key: str | None = None) -> Problem:
    return Problem(code, message, key, "warning")


@dataclasses.dataclass(frozen=True)
class _Notice:
    lead: Duration
    margin: Duration
    to: str
    afterwards_to: str = ""


@dataclasses.dataclass
class _Group:
    target: TargetSpec
    zone: str
    own_window: OwnWindow | None
    notice: _Notice | None
    instances: list[InstanceSnapshot]


class InstanceSteps:
    """Per-instance step emission. The planner provides these attributes and methods."""

    release: ReleaseSnapshot
    policy: PolicyDocument
    catalogue: CatalogueSnapshot
    facts: Facts
    rid: str
    max_upgrade: dt.datetime | None
    warned_slots: set[int]
    other_slots: dict[int, list[SlotFact]]

    def emit(self, step: Step) -> Step:
        raise NotImplementedError

    def consent_allowed(self, consent: ConsentSpec) -> bool:
        raise NotImplementedError

    def who(self, name: str, inst: InstanceSnapshot) -> recipients.Resolved:
        raise NotImplementedError

    def slot_steps(
        self,
        group: _Group,
        inst: InstanceSnapshot,
        slot: SlotInfo,
        demands: LevelDemands,
        carried: list[str],
        carried_dates: list[str],
        carry_time: dt.datetime | None,
        state: str,
        decided: ConsentFact | None,
    ) -> Iterator[Step | Problem]:
        target = group.target
        consent = target.consent
        consent_on = consent is not None and self.consent_allowed(consent)
        base = f"{self.rid}:i{inst.id}"
        upgrade_key = f"{base}:upgrade"
        zone = slot.zone
        common: dict[str, Any] = {
            "target": target.name,
            "instance_id": inst.id,
            "customer_id": inst.owner_id,
            "zone": zone,
        }
        if id(slot) not in self.warned_slots:
            self.warned_slots.add(id(slot))
            for code, message in slot.warnings:
                yield _warning(code, f"target {target.name}: {message}", upgrade_key)
        if slot.override:
            yield _warning("blackout_overridden", f"{inst.slug}: {slot.override}", upgrade_key)
        if slot.unmeetable:
            yield Problem("slot_in_blackout", f"{inst.slug}: {slot.unmeetable}", upgrade_key)
        for other in self.other_slots.get(inst.id, ()):
            other_end = other.end or other.start + dt.timedelta(minutes=1)
            own_end = slot.end or slot.start + dt.timedelta(minutes=1)
            if other.start < own_end and slot.start < other_end:
                yield _warning(
                    "conflict_other_release",
                    f"{inst.slug}: release {other.release_version} is also planned on this "
                    f"instance at {short_local(other.start, zone)}, in the same window as this "
                    f"release ({slot.start_text}); two releases in one window",
                    upgrade_key,
                )

        # -- upgrade
        reason = slot.reason
        if carried:
            reason += "; " + "; ".join(carried)
        requires: list[str] = []
        status: Literal["planned", "frozen", "unmeetable"] = "planned"
        if slot.unmeetable:
            status = "unmeetable"
            reason += f"; {slot.unmeetable}"
        if slot.override:
            reason += f"; {slot.override}"
        if consent_on and consent is not None and slot.deadline is not None:
            if consent.mode == "approve":
                if state == "approved" and decided is not None:
                    reason += (
                        f"; accepted {short_local(decided.received_at, slot.deadline_zone)}, "
                        f"before the deadline {slot.deadline_text}"
                    )
                else:
                    reason += f"; only if accepted by {slot.deadline_text}"
                    requires.append(f"consent:{slot.date_key}")
                if not slot.deadline_ok:
                    status = "unmeetable"
            else:
                reason += f"; unless opted out by {slot.deadline_text} (silence means proceed)"
        if slot.notice is not None:
            requires.append(f"notice:{slot.date_key}")
        late_after = slot.end
        if late_after is None and target.late_after is not None:
            late_after = slot.start + target.late_after
        if self.max_upgrade is None or slot.start > self.max_upgrade:
            self.max_upgrade = slot.start
        yield self.emit(
            Step(
                key=upgrade_key,
                kind=StepKind.UPGRADE,
                due_at=slot.start,
                zone=zone,
                label=f"Upgrade {inst.slug} to {self.release.version}",
                reason=reason,
                target=target.name,
                instance_id=inst.id,
                customer_id=inst.owner_id,
                ends_at=slot.end,
                late_after=late_after,
                payload={
                    **common,
                    "slot_date": slot.date_key,
                    "requires": requires,
                    "carried_from": carried_dates,
                    "consent": state or ("pending" if consent_on and consent else "none"),
                    "blackout_override": slot.override or None,
                },
                status=status,
            )
        )

        # -- notice before
        notice = group.notice
        if slot.notice is not None and notice is not None:
            times = slot.notice
            who = self.who(notice.to, inst)
            notice_reason = slot.derived.get("notice_reason")
            if notice_reason is None:
                notice_reason = slot.derived["notice_reason"] = (
                    f"{notice.lead.describe()} before the start ({slot.start_text}): "
                    f"delivered by {slot.deliver_by_text}, sent {notice.margin.describe()} earlier"
                )
            key = f"{base}:notice:{slot.date_key}"
            delivered = self.facts.notices_delivered.get(key)
            yield self.emit(
                Step(
                    key=key,
                    kind=StepKind.NOTICE,
                    due_at=times.send_at,
                    zone=zone,
                    label=f"Notice: {inst.slug} upgrade on {slot.start_text}",
                    reason=notice_reason,
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=notice.to,
                    late_after=times.must_deliver_by,
                    payload={
                        **common,
                        **who.as_payload(),
                        "to": notice.to,
                        "lead": str(notice.lead),
                        "deliver_by": slot.deliver_by_iso,
                        "slot_start": slot.start_iso,
                        "consent_deadline": slot.deadline_iso,
                        "opt_out_allowed": consent_on if consent else None,
                        "delivered_at": _iso(delivered),
                    },
                )
            )

        # -- the customer is told the new date when carried
        if carried and carry_time is not None:
            to = (
                (consent.by if consent and consent.by else "")
                or (notice.to if notice else "")
                or "instance_contacts"
            )
            who = self.who(to, inst)
            yield self.emit(
                Step(
                    key=f"{base}:notice:moved:{slot.date_key}",
                    kind=StepKind.NOTICE,
                    due_at=carry_time,
                    zone=zone,
                    label=f"Your date moved: {inst.slug} now {slot.start_text}",
                    reason=carried[-1] + f"; the new date is {slot.start_text}",
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=to,
                    payload={
                        **common,
                        **who.as_payload(),
                        "to": to,
                        "new_slot_start": slot.start_iso,
                        "moved_from": carried_dates,
                    },
                )
            )

        # -- consent deadline and reminder
        if consent_on and consent is not None and slot.deadline is not None:
            by = consent.by or (notice.to if notice else "") or "instance_contacts"
            who = self.who(by, inst)
            deadline_key = f"{base}:consent_deadline:{slot.date_key}"
            noun = "Opt-out" if consent.mode == "opt_out" else "Acceptance"
            decision = state or "pending"
            if not slot.deadline_ok:
                yield Problem(
                    "deadline_not_before_start",
                    f"{inst.slug}: {slot.deadline_reason}",
                    deadline_key,
                )
            yield self.emit(
                Step(
                    key=deadline_key,
                    kind=StepKind.CONSENT_DEADLINE,
                    due_at=slot.deadline,
                    zone=slot.deadline_zone,
                    label=f"{noun} deadline: {inst.slug} upgrade on {slot.start_text}",
                    reason=(
                        f"{slot.deadline_reason}; silence means "
                        f"{consent.effective_silence}"
                        + (f"; {decision}" if decision != "pending" else "")
                    ),
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=by,
                    payload={
                        **common,
                        **who.as_payload(),
                        "mode": consent.mode,
                        "silence": consent.effective_silence,
                        "decision": decision,
                        "decided_at": _iso(decided.received_at) if decided else None,
                        "slot_start": slot.start_iso,
                    },
                    status="planned" if slot.deadline_ok else "unmeetable",
                )
            )
            reminder = consent.reminder_before()
            if reminder is not None and decided is None and slot.deadline_ok:
                yield self.emit(
                    Step(
                        key=f"{base}:reminder:{slot.date_key}",
                        kind=StepKind.REMINDER,
                        due_at=slot.deadline - reminder.delta,
                        zone=slot.deadline_zone,
                        label=f"Reminder: {noun.lower()} deadline {slot.deadline_text}",
                        reason=f"{reminder.describe()} before the deadline {slot.deadline_text}",
                        target=target.name,
                        instance_id=inst.id,
                        customer_id=inst.owner_id,
                        audience=by,
                        late_after=slot.deadline,
                        payload={**common, **who.as_payload(), "deadline": slot.deadline_iso},
                    )
                )

        # -- verify and confirm
        checks = list(demands.verification) or (
            list(self.policy.verification.after) if self.policy.verification else []
        )
        verify_key = f"{base}:verify"
        if checks:
            yield self.emit(
                Step(
                    key=verify_key,
                    kind=StepKind.VERIFY,
                    due_at=slot.start,
                    zone=zone,
                    label=f"Verify {inst.slug}: {', '.join(checks)}",
                    reason="verified after the upgrade",
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    payload={
                        **common,
                        "after": upgrade_key,
                        "checks": checks,
                        "on_failure": (
                            self.policy.verification.on_failure
                            if self.policy.verification
                            else "revert_release"
                        ),
                    },
                )
            )
        if target.confirm is not None:
            after = verify_key if checks and target.confirm.after == "verified" else upgrade_key
            who = self.who(target.confirm.to, inst)
            yield self.emit(
                Step(
                    key=f"{base}:confirm",
                    kind=StepKind.CONFIRM,
                    due_at=slot.start,
                    zone=zone,
                    label=f"Confirm the upgrade of {inst.slug}",
                    reason=f"after the upgrade is {target.confirm.after}",
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=target.confirm.to,
                    payload={**common, **who.as_payload(), "after": after},
                )
            )
        if notice is not None and notice.afterwards_to and self.release.is_hotfix:
            who = self.who(notice.afterwards_to, inst)
            yield self.emit(
                Step(
                    key=f"{base}:notice:afterwards",
                    kind=StepKind.NOTICE,
                    due_at=slot.start,
                    zone=zone,
                    label=f"Tell {notice.afterwards_to.replace('_', ' ')} about the hotfix",
                    reason="hotfix without advance notice: affected people are told afterwards",
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=notice.afterwards_to,
                    payload={**common, **who.as_payload(), "after": upgrade_key},
                )
            )
        for spec in target.messages:
            who = self.who(spec.to, inst)
            yield self.emit(
                Step(
                    key=f"{base}:send:{spec.notes}",
                    kind=StepKind.SEND,
                    due_at=slot.start,
                    zone=zone,
                    label=f"Send the {spec.notes} release notes to {spec.to.replace('_', ' ')}",
                    reason=f"on the release day ({slot.start_text})",
                    target=target.name,
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=spec.to,
                    payload={**common, **who.as_payload(), "notes": spec.notes},
                )
            )
        yield from self.documentation(inst, slot, common, upgrade_key)

    def documentation(
        self, inst: InstanceSnapshot, slot: SlotInfo, common: dict[str, Any], after: str
    ) -> Iterator[Step]:
        spec = self.policy.documentation
        if spec is None or inst.kind != "white_label":
            return
        owner = self.catalogue.customer_by_id.get(inst.owner_id) if inst.owner_id else None
        who_updates: str = spec.white_label
        if who_updates == "per_customer":
            who_updates = (owner.contract.docs_responsibility if owner else None) or "vendor"
        name = owner.name if owner else inst.slug
        key = f"{self.rid}:i{inst.id}:docs"
        if who_updates == "vendor":
            yield self.emit(
                Step(
                    key=key,
                    kind=StepKind.TASK,
                    due_at=slot.start,
                    zone=slot.zone,
                    label=f"Update the white-label documentation of {name}",
                    reason=f"the vendor updates {name}'s documentation (white_label: {spec.white_label})",
                    target=common["target"],
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience=f"role:{spec.team}",
                    payload={**common, "owners": [spec.team], "after": after},
                )
            )
        else:
            who = self.who("oem_partner_contacts", inst)
            yield self.emit(
                Step(
                    key=key,
                    kind=StepKind.SEND,
                    due_at=slot.start,
                    zone=slot.zone,
                    label=f"Send the release notes to {name} for their documentation",
                    reason=f"{name} updates its own white-label documentation",
                    target=common["target"],
                    instance_id=inst.id,
                    customer_id=inst.owner_id,
                    audience="oem_partner_contacts",
                    payload={**common, **who.as_payload(), "notes": spec.notes, "after": after},
                )
            )
