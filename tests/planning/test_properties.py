"""Planner properties (hypothesis) over all IANA zones and the years 2024-2040.

- a notice's deliver-by is exactly `lead` (absolute hours) before the start, it is sent
  `margin` earlier and never before approval;
- a consent deadline's local date and time equal its rule (or the documented gap shift),
  and it precedes the start — otherwise the step is "unmeetable" and a problem says why;
- the upgrade's local wall time equals the cycle's/window's time (or the gap shift);
- planning is deterministic, and planning again with the previous plan's steps as frozen
  facts changes nothing.
Example counts come from the hypothesis profile (ci / deep, tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releasedesk.core.timeutil import to_local
from releasedesk.planning.planner import plan
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ContactSnapshot,
    CustomerSnapshot,
    Facts,
    InstanceSnapshot,
    Plan,
    ReleaseSnapshot,
    StepFact,
)
from releasedesk.policies.schema import PolicyDocument
from releasedesk.scheduling.deadlines import previous_working_day

from ..scheduling.test_properties import DST_ZONES, assert_local_wall_time, instants, zones

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
hhmm = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}",
    st.integers(0, 3) | st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(zones | st.sampled_from(DST_ZONES))
    slot_time = draw(hhmm)
    if draw(st.booleans()):
        nth = draw(st.sampled_from(["first", "second", "third", "fourth", "last"]))
        cycle: dict[str, Any] | None = {
            "monthly": f"{nth} {draw(st.sampled_from(WEEKDAYS))}",
            "at": slot_time,
        }
        window = None
    else:
        cycle = None
        end = draw(hhmm)
        window = {
            "every": f"weekly on {draw(st.sampled_from(WEEKDAYS))}",
            "from": slot_time,
            "to": end if end != slot_time else "24:00",
        }
    lead_hours = draw(st.integers(0, 240))
    kind = draw(st.sampled_from(["on upgrade day", "previous working day", "days before"]))
    deadline_time = draw(hhmm)
    days = draw(st.integers(1, 5))
    deadline = {
        "on upgrade day": f"{deadline_time} on upgrade day",
        "previous working day": f"{deadline_time} previous working day",
        "days before": f"{deadline_time} {days} days before",
    }[kind]
    target: dict[str, Any] = {
        "name": "t",
        "consent": {"mode": draw(st.sampled_from(["opt_out", "approve"])), "deadline": deadline},
    }
    if lead_hours:
        target["notice"] = {"lead": f"{lead_hours}h", "to": "instance_contacts"}
    if cycle:
        target["cycle"] = cycle
    else:
        target["window"] = "w"
    doc = PolicyDocument.model_validate(
        {
            "policy": "p",
            "zone": "UTC",
            "default_level": "standard",
            "levels": {"standard": {"approvals": ["change_management"]}},
            "windows": {"w": window} if window else {},
            "targets": [target],
        }
    )
    approved = draw(instants)
    return {
        "doc": doc,
        "zone": zone,
        "approved": approved,
        "lead": dt.timedelta(hours=lead_hours),
        "slot_time": dt.time.fromisoformat(slot_time),
        "kind": kind,
        "deadline_time": dt.time.fromisoformat(deadline_time),
        "days": days,
        "now": approved + dt.timedelta(minutes=draw(st.integers(0, 600))),
    }


def run(s: dict[str, Any], facts: Facts | None = None) -> Plan:
    catalogue = CatalogueSnapshot(
        instances=(InstanceSnapshot(7, "i", "dedicated", 1, owner_id=1, zone=s["zone"]),),
        customers=(CustomerSnapshot(1, "C", "hosted", s["zone"]),),
        contacts=(ContactSnapshot(9, 1, ("admin",)),),
    )
    release = ReleaseSnapshot(
        id=1,
        version="1",
        target_date=to_local(s["approved"], s["zone"]).date(),
        product_ids=(1,),
    )
    return plan(
        release, s["doc"], catalogue, facts or Facts(approvals_complete_at=s["approved"]), s["now"]
    )


@relaxed
@given(scenarios())
def test_notice_deadline_and_slot_rules(s: dict[str, Any]) -> None:
    result = run(s)
    steps = result.by_key()
    upgrade = steps.get("r1:i7:upgrade")
    if upgrade is None or (upgrade.status == "unmeetable" and not upgrade.payload.get("slot_date")):
        return  # no slot within the horizon (reported as a problem)
    start = upgrade.due_at
    zone = s["zone"]
    slot_day = dt.date.fromisoformat(upgrade.payload["slot_date"])
    assert_local_wall_time(start, slot_day, s["slot_time"], zone)
    assert start >= s["approved"]
    if s["lead"]:
        notice = steps[f"r1:i7:notice:{slot_day.isoformat()}"]
        assert notice.late_after is not None
        assert start - notice.late_after == s["lead"]  # absolute hours, DST or not
        assert notice.due_at == notice.late_after - dt.timedelta(hours=1)
        assert notice.due_at >= s["approved"]
        assert notice.due_at >= s["now"]
    deadline = steps[f"r1:i7:consent_deadline:{slot_day.isoformat()}"]
    if s["kind"] == "on upgrade day":
        day = slot_day
    elif s["kind"] == "previous working day":
        day = previous_working_day(slot_day)
    else:
        day = slot_day - dt.timedelta(days=s["days"])
    assert_local_wall_time(deadline.due_at, day, s["deadline_time"], zone)
    if deadline.status == "planned":
        assert deadline.due_at < start
    else:
        assert deadline.status == "unmeetable"
        assert deadline.due_at >= start
        assert "deadline_not_before_start" in {p.code for p in result.problems}


@relaxed
@given(scenarios())
def test_planning_is_deterministic_and_idempotent(s: dict[str, Any]) -> None:
    first = run(s)
    assert run(s) == first
    frozen = {
        step.key: StepFact(
            key=step.key,
            state="done",
            due_at=step.due_at,
            finished_at=step.due_at,
            kind=step.kind,
            label=step.label,
            zone=step.zone,
            target=step.target,
            instance_id=step.instance_id,
            customer_id=step.customer_id,
            audience=step.audience,
            reason=step.reason,
            ends_at=step.ends_at,
            payload=step.payload,
        )
        for step in first.steps
    }
    again = run(s, Facts(approvals_complete_at=s["approved"], steps=frozen))

    def shape(p: Plan) -> list[tuple[Any, ...]]:
        return [
            (x.key, x.kind, x.due_at, x.zone, x.label, x.reason, x.ends_at, x.target, x.instance_id)
            for x in p.steps
        ]

    assert shape(again) == shape(first)
    assert {x.status for x in again.steps} <= {"frozen"}
