"""Stages, the communication timeline, hypercare and publications: the steps that hang
on the release date rather than on an instance's slot (mixed into the planner)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from releasedesk.core.timeutil import combine_local, ensure_aware
from releasedesk.planning._slots import iso, short_local
from releasedesk.planning.types import Facts, Problem, ReleaseSnapshot, Step, StepKind
from releasedesk.policies.schema import PolicyDocument
from releasedesk.policies.timeschema import TimelineEntry
from releasedesk.scheduling.cadence import NoMoreCycles, cycle_on_or_after
from releasedesk.scheduling.periods import period_around

TASK_TIME = dt.time(17, 0)  # date-only tasks are due at 17:00 local in the policy zone


def _iso(value: dt.datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "entry"


class DateSteps:
    """Steps relative to the release date. The planner provides these attributes."""

    release: ReleaseSnapshot
    policy: PolicyDocument
    facts: Facts
    rid: str
    max_upgrade: dt.datetime | None

    def emit(self, step: Step) -> Step:
        raise NotImplementedError

    # -- stages --------------------------------------------------------------------------

    def stages(
        self, gate: dt.datetime, gate_reason: str
    ) -> tuple[list[Step], tuple[dt.datetime, str], str]:
        steps: list[Step] = []
        pending: list[str] = []
        zone = self.policy.zone
        for stage in self.policy.stages:
            planned_day = stage.lasts.apply(self.release.target_date)
            planned_end = combine_local(planned_day, TASK_TIME, zone)
            passed = self.facts.stage_passes.get(stage.name)
            role = stage.approval.replace("_", " ")
            payload = {
                "stage": stage.name,
                "approval": stage.approval,
                "gates": stage.gates,
                "planned_end": _iso(planned_end),
                "passed_at": _iso(passed),
            }
            if passed is not None:
                passed = ensure_aware(passed)
                if passed > gate:
                    gate, gate_reason = (
                        passed,
                        f"{stage.name} passed ({short_local(passed, zone)})",
                    )
                reason = f"passed {short_local(passed, zone)} with {role} approval"
            else:
                reason = (
                    f"planned to end {short_local(planned_end, zone)} "
                    f"({stage.lasts.describe()} from the release date); needs {role} approval "
                    "before any customer is scheduled or notified"
                )
                pending.append(
                    f"stage {stage.name} has not passed (planned to end "
                    f"{short_local(planned_end, zone)}, {role} approval): no customer is "
                    "scheduled or notified until it passes"
                )
            steps.append(
                Step(
                    key=f"{self.rid}:stage:{stage.name}",
                    kind=StepKind.STAGE_GATE,
                    due_at=passed if passed is not None else planned_end,
                    zone=zone,
                    label=f"Stage {stage.name.replace('_', ' ')} passes",
                    reason=reason,
                    audience=f"role:{stage.approval}",
                    payload=payload,
                    status="frozen" if passed is not None else "planned",
                )
            )
        return steps, (gate, gate_reason), "; ".join(pending)

    # -- timeline, hypercare, publication ------------------------------------------------

    def condition_holds(self, entry: TimelineEntry) -> bool:
        when = entry.when
        if when is None:
            return True
        if when == "any_change_significant":
            return self.release.any_change_significant
        if when == "any_change_irreversible":
            return any(not c.reversible for c in self.release.changes)
        if when == "hotfix":
            return self.release.is_hotfix
        return not self.release.is_hotfix

    def timeline(self, gate: dt.datetime) -> Iterator[Step | Problem]:
        zone = self.policy.zone
        day = self.release.target_date
        used: dict[str, int] = {}
        for entry in self.policy.timeline:
            if not self.condition_holds(entry):
                continue
            if entry.hypercare is not None:
                hc = entry.hypercare
                period = period_around(day, hc.from_, hc.until, zone)
                yield self.emit(
                    Step(
                        key=self.unique(f"{self.rid}:hypercare", used),
                        kind=StepKind.HYPERCARE,
                        due_at=period.start_utc,
                        zone=zone,
                        label=f"Hypercare: {hc.note}" if hc.note else "Hypercare",
                        reason=(
                            f"{period.first_day.isoformat()} to {period.last_day.isoformat()} "
                            f"inclusive ({hc.from_.describe()} to {hc.until.describe()})"
                        ),
                        ends_at=period.end_utc,
                        audience="internal",
                        payload={
                            "first_day": period.first_day.isoformat(),
                            "last_day": period.last_day.isoformat(),
                            "note": hc.note,
                        },
                    )
                )
                continue
            kind, label, audience, key_part, extra = self.entry_text(entry)
            payload: dict[str, Any] = {**extra, "when": entry.when}
            if entry.after is not None:
                done = self.facts.release_completed_at
                due = done or self.max_upgrade or combine_local(day, TASK_TIME, zone)
                payload["waits_for"] = entry.after
                reason = (
                    f"as soon as the release is completed ({short_local(done, zone)})"
                    if done
                    else "as soon as the release is completed (waits for that event; "
                    f"expected around {short_local(due, zone)})"
                )
            else:
                assert entry.at is not None
                time = dt.time.fromisoformat(entry.time.zfill(5)) if entry.time else TASK_TIME
                due = entry.at.at(day, time, zone)
                reason = (
                    f"{entry.at.describe()} from the release date {day.isoformat()}, {time:%H:%M}"
                    + ("" if entry.time else " (the default time for date-only tasks)")
                )
                if entry.when:
                    reason += f"; because {entry.when.replace('_', ' ')}"
            yield self.emit(
                Step(
                    key=self.unique(f"{self.rid}:{kind}:{key_part}", used),
                    kind=kind,
                    due_at=due,
                    zone=zone,
                    label=label,
                    reason=reason,
                    audience=audience[:64],
                    payload=payload,
                )
            )

    @staticmethod
    def unique(key: str, used: dict[str, int]) -> str:
        count = used.get(key, 0)
        used[key] = count + 1
        return key if count == 0 else f"{key}-{count + 1}"

    def entry_text(self, entry: TimelineEntry) -> tuple[str, str, str, str, dict[str, Any]]:
        if entry.task is not None:
            return (
                StepKind.TASK,
                entry.task,
                ",".join(f"role:{o}" for o in entry.owners),
                _slug(entry.task),
                {"owners": list(entry.owners)},
            )
        if entry.publish is not None:
            p = entry.publish
            return (
                StepKind.PUBLISH,
                f"Publish the {p.notes} release notes on {p.channel.replace('_', ' ')}",
                p.notes,
                f"{p.channel}:{p.notes}",
                {"channel": p.channel, "notes": p.notes},
            )
        assert entry.send is not None
        names = list(entry.send.newsletter)
        return (
            StepKind.SEND,
            f"Send the newsletter to {', '.join(names)}",
            ",".join(names),
            "newsletter:" + "+".join(names),
            {"newsletter": names, "notes": names},
        )

    def publication(self) -> Iterator[Step]:
        zone = self.policy.zone
        for pub in self.policy.publication:
            cadence = pub.digest.cadence()
            try:
                day = cycle_on_or_after(cadence, self.release.target_date)
            except NoMoreCycles:
                continue  # the digest's rule has ended: nothing to publish
            assert pub.digest.at is not None
            at = dt.time.fromisoformat(pub.digest.at.zfill(5))
            due = combine_local(day, at, zone)
            yield self.emit(
                Step(
                    key=f"{self.rid}:digest:{pub.channel}:{pub.audience}",
                    kind=StepKind.DIGEST,
                    due_at=due,
                    zone=zone,
                    label=f"Publish the {pub.audience} release-notes digest on {pub.channel.replace('_', ' ')}",
                    reason=f"the first digest ({cadence.text}) on or after the release date",
                    audience=pub.audience,
                    payload={
                        "channel": pub.channel,
                        "audience": pub.audience,
                        "day": day.isoformat(),
                    },
                )
            )
