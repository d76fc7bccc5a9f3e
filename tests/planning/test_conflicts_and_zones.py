"""Conflicts (issue 4 §5) and explicit zone tables at the planner level."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from releasedesk.planning.planner import plan
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ContactSnapshot,
    CustomerSnapshot,
    Facts,
    FreezeFact,
    InstanceSnapshot,
    Plan,
    Problem,
    ReleaseSnapshot,
    SlotFact,
)
from releasedesk.planning.types import StepKind as PlanningStepKind
from releasedesk.policies.loader import load_policy
from releasedesk.policies.schema import PolicyDocument

from .conftest import S1_CATALOGUE, both, in_utc, local, policy, school_facts, school_release, utc

HEAD = """
policy: zones
zone: Europe/London
default_level: standard
levels:
  standard: {approvals: [change_management]}
"""


def custom_policy(target: str) -> PolicyDocument:
    return load_policy(HEAD + "targets:\n" + target, "zones.yaml")


def dedicated(zones: list[str]) -> CatalogueSnapshot:
    return CatalogueSnapshot(
        instances=tuple(
            InstanceSnapshot(100 + i, f"i{i}", "dedicated", 1, owner_id=i + 1, zone=zone)
            for i, zone in enumerate(zones)
        ),
        customers=tuple(CustomerSnapshot(i + 1, f"C{i}", "hosted", z) for i, z in enumerate(zones)),
        contacts=tuple(ContactSnapshot(500 + i, i + 1, ("admin",)) for i in range(len(zones))),
    )


def run(doc: PolicyDocument, catalogue: CatalogueSnapshot, target: dt.date, now: str) -> Plan:
    release = ReleaseSnapshot(id=1, version="1.0", target_date=target, product_ids=(1,))
    facts = Facts(approvals_complete_at=utc(now))
    return plan(release, doc, catalogue, facts, utc(now))


def test_step_kinds_match_the_timeline_model() -> None:
    from releasedesk.timeline.models import StepKind

    assert set(PlanningStepKind.ALL) == set(StepKind.values)


# --- conflicts -------------------------------------------------------------------------


def test_two_releases_on_one_instance_in_one_window_warns() -> None:
    facts = dataclasses.replace(
        school_facts(utc("2027-03-22 09:00")),
        other_slots=(SlotFact(99, "5.5.0", 10, utc("2027-04-01 15:00")),),
    )
    result = plan(
        school_release(), policy("school-saas"), S1_CATALOGUE, facts, utc("2027-03-22 09:00")
    )
    assert result.warnings == (
        Problem(
            "conflict_other_release",
            "saas-eu: release 5.5.0 is also planned on this instance at 2027-04-01 17:00 CEST, "
            "in the same window as this release (2027-04-01 16:00 CEST); two releases in one "
            "window",
            "r54:i10:upgrade",
            "warning",
        ),
    )


def test_staff_freeze_moves_the_window() -> None:
    facts = dataclasses.replace(
        school_facts(utc("2027-03-22 09:00")),
        freezes=(FreezeFact(utc("2027-03-31 22:00"), utc("2027-04-02 22:00"), "quarter close"),),
    )
    result = plan(
        school_release(), policy("school-saas"), S1_CATALOGUE, facts, utc("2027-03-22 09:00")
    )
    upgrade = result.by_key()["r54:i10:upgrade"]
    assert both(upgrade) == ("2027-04-08 14:00", "2027-04-08 16:00 CEST")
    assert upgrade.reason == (
        "first Thursday window that leaves 7 days' notice (maintenance); skipped "
        "2027-04-01 16:00 CEST (change freeze: quarter close)"
    )


def test_cycle_slot_in_a_freeze_goes_to_the_next_cycle() -> None:
    doc = custom_policy(
        "  - {name: t, zone: policy, cycle: {monthly: second tuesday, at: '18:00'}}\n"
    )
    catalogue = dedicated(["Europe/London"])
    release = ReleaseSnapshot(
        id=1, version="1.0", target_date=dt.date(2027, 2, 1), product_ids=(1,)
    )
    facts = Facts(
        approvals_complete_at=utc("2027-02-01 09:00"),
        freezes=(FreezeFact(utc("2027-02-08 00:00"), utc("2027-02-12 00:00"), "audit week"),),
    )
    result = plan(release, doc, catalogue, facts, utc("2027-02-01 09:00"))
    upgrade = result.by_key()["r1:i100:upgrade"]
    assert both(upgrade) == ("2027-03-09 18:00", "2027-03-09 18:00 GMT")
    assert upgrade.reason.endswith(
        "; passed over 2027-02-09: 2027-02-09 18:00 GMT is in change freeze: audit week"
    )


def test_slot_in_the_spring_gap_moves_forward_with_a_warning() -> None:
    doc = custom_policy("  - {name: t, cycle: {monthly: last sunday, at: '02:30'}}\n")
    result = run(doc, dedicated(["Europe/Amsterdam"]), dt.date(2027, 3, 1), "2027-03-01 09:00")
    upgrade = result.by_key()["r1:i100:upgrade"]
    assert both(upgrade) == ("2027-03-28 01:00", "2027-03-28 03:00 CEST")
    assert [(w.code, w.message) for w in result.warnings] == [
        (
            "dst_gap_shift",
            "target t: 02:30 does not exist on 2027-03-28 in Europe/Amsterdam (the clocks go "
            "forward): the slot moves forward to the transition, 2027-03-28 03:00 CEST "
            "(Europe/Amsterdam)",
        )
    ]


def test_lord_howe_half_hour_gap() -> None:
    doc = custom_policy("  - {name: t, cycle: {monthly: first sunday, at: '02:15'}}\n")
    result = run(doc, dedicated(["Australia/Lord_Howe"]), dt.date(2027, 10, 1), "2027-09-20 00:00")
    upgrade = result.by_key()["r1:i100:upgrade"]
    assert both(upgrade) == ("2027-10-02 15:30", "2027-10-03 02:30 +11")
    assert [w.code for w in result.warnings] == ["dst_gap_shift"]


def test_deadline_not_before_the_start_is_unmeetable_and_reported() -> None:
    doc = custom_policy(
        "  - name: t\n"
        "    zone: policy\n"
        "    cycle: {monthly: second tuesday, at: '09:00'}\n"
        "    consent: {mode: approve, deadline: 13:00 on upgrade day, silence: wait}\n"
    )
    result = run(doc, dedicated(["Europe/London"]), dt.date(2027, 2, 1), "2027-02-01 09:00")
    steps = result.by_key()
    deadline = steps["r1:i100:consent_deadline:2027-02-09"]
    assert deadline.status == "unmeetable"
    assert both(deadline) == ("2027-02-09 13:00", "2027-02-09 13:00 GMT")
    assert steps["r1:i100:upgrade"].status == "unmeetable"
    assert result.problems == (
        Problem(
            "deadline_not_before_start",
            "i0: deadline 13:00 on the upgrade day (2027-02-09 13:00 GMT) is not before the "
            "start (2027-02-09 09:00 GMT): it cannot be met",
            "r1:i100:consent_deadline:2027-02-09",
        ),
    )


def test_opt_out_limit_refuses_the_next_opt_out() -> None:
    from releasedesk.planning.types import ConsentFact

    doc = custom_policy(
        "  - name: t\n"
        "    zone: policy\n"
        "    cycle: {monthly: second tuesday, at: '18:00'}\n"
        "    consent: {mode: opt_out, deadline: 13:00 on upgrade day, max_consecutive_opt_outs: 2}\n"
    )
    release = ReleaseSnapshot(
        id=1, version="1.0", target_date=dt.date(2027, 2, 1), product_ids=(1,)
    )
    opt_out = ConsentFact("t", 100, "opted_out", utc("2027-02-05 10:00"), dt.date(2027, 2, 9))
    facts = Facts(
        approvals_complete_at=utc("2027-02-01 09:00"), consents=(opt_out,), opt_out_streaks={100: 2}
    )
    result = plan(release, doc, dedicated(["Europe/London"]), facts, utc("2027-02-05 10:00"))
    assert both(result.by_key()["r1:i100:upgrade"]) == ("2027-02-09 18:00", "2027-02-09 18:00 GMT")
    assert [w.code for w in result.warnings] == ["opt_out_limit"]


# --- zone tables -----------------------------------------------------------------------

ZONES = [
    "Europe/Amsterdam",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]
# Second Tuesday 18:00 local, 48 h notice, opt-out until 13:00 local on the day.
TABLE = {
    # zone: (March slot UTC, local), (April slot UTC, local), April deliver-by UTC, April deadline UTC
    "Europe/Amsterdam": (
        "2027-03-09 17:00",
        "18:00 CET",
        "2027-04-13 16:00",
        "18:00 CEST",
        "2027-04-11 16:00",
        "2027-04-13 11:00",
    ),
    "Europe/London": (
        "2027-03-09 18:00",
        "18:00 GMT",
        "2027-04-13 17:00",
        "18:00 BST",
        "2027-04-11 17:00",
        "2027-04-13 12:00",
    ),
    "America/New_York": (
        "2027-03-09 23:00",
        "18:00 EST",
        "2027-04-13 22:00",
        "18:00 EDT",
        "2027-04-11 22:00",
        "2027-04-13 17:00",
    ),
    "Australia/Sydney": (
        "2027-03-09 07:00",
        "18:00 AEDT",
        "2027-04-13 08:00",
        "18:00 AEST",
        "2027-04-11 08:00",
        "2027-04-13 03:00",
    ),
    "Australia/Lord_Howe": (
        "2027-03-09 07:00",
        "18:00 +11",
        "2027-04-13 07:30",
        "18:00 +1030",
        "2027-04-11 07:30",
        "2027-04-13 02:30",
    ),
    "Asia/Kolkata": (
        "2027-03-09 12:30",
        "18:00 IST",
        "2027-04-13 12:30",
        "18:00 IST",
        "2027-04-11 12:30",
        "2027-04-13 07:30",
    ),
}
ZONE_TARGET = (
    "  - name: t\n"
    "    cycle: {monthly: second tuesday, at: '18:00'}\n"
    "    notice: {lead: 48h, to: instance_contacts}\n"
    "    consent: {mode: opt_out, deadline: 13:00 on upgrade day}\n"
)


@pytest.mark.parametrize("month", [3, 4])
def test_second_tuesday_18_local_in_every_zone(month: int) -> None:
    result = run(
        custom_policy(ZONE_TARGET),
        dedicated(ZONES),
        dt.date(2027, month, 1),
        f"2027-0{month}-01 00:00",
    )
    steps = result.by_key()
    for i, zone in enumerate(ZONES):
        row = TABLE[zone]
        upgrade = steps[f"r1:i{100 + i}:upgrade"]
        utc_text, local_text = (row[0], row[1]) if month == 3 else (row[2], row[3])
        assert in_utc(upgrade.due_at) == utc_text, zone
        assert local(upgrade.due_at, zone)[11:] == local_text, zone
        assert upgrade.zone == zone
        if month == 4:
            day = "2027-04-13"
            notice = steps[f"r1:i{100 + i}:notice:{day}"]
            assert in_utc(notice.late_after) == row[4], zone
            assert upgrade.due_at - notice.late_after == dt.timedelta(hours=48)  # type: ignore[operator]
            deadline = steps[f"r1:i{100 + i}:consent_deadline:{day}"]
            assert in_utc(deadline.due_at) == row[5], zone
            assert local(deadline.due_at, zone)[:16] == f"{day} 13:00", zone


def test_29_february_2028() -> None:
    doc = custom_policy(
        "  - name: t\n"
        "    cycle: {monthly: day 29, at: '10:00'}\n"
        "    notice: {lead: 48h, to: instance_contacts}\n"
        "    consent: {mode: approve, deadline: 17:00 previous working day}\n"
    )
    result = run(doc, dedicated(["Europe/Berlin"]), dt.date(2028, 2, 1), "2028-02-01 09:00")
    steps = result.by_key()
    assert both(steps["r1:i100:upgrade"]) == ("2028-02-29 09:00", "2028-02-29 10:00 CET")
    deadline = steps["r1:i100:consent_deadline:2028-02-29"]
    assert both(deadline) == ("2028-02-28 16:00", "2028-02-28 17:00 CET")  # Monday
    assert in_utc(steps["r1:i100:notice:2028-02-29"].late_after) == "2028-02-27 09:00"
    # a common year: day 29 falls on 28 February (a Sunday in 2027 -> Friday deadline)
    result = run(doc, dedicated(["Europe/Berlin"]), dt.date(2027, 2, 1), "2027-02-01 09:00")
    steps = result.by_key()
    assert both(steps["r1:i100:upgrade"]) == ("2027-02-28 09:00", "2027-02-28 10:00 CET")
    assert both(steps["r1:i100:consent_deadline:2027-02-28"]) == (
        "2027-02-26 16:00",
        "2027-02-26 17:00 CET",
    )


# --- contract and instance overrides -----------------------------------------------------


def test_instance_own_window_replaces_the_policy_window() -> None:
    from releasedesk.planning.types import OwnWindow

    own = dataclasses.replace(
        S1_CATALOGUE.instances[0], window=OwnWindow("tuesday", "09:00", "11:00", "Europe/Amsterdam")
    )
    catalogue = dataclasses.replace(S1_CATALOGUE, instances=(own, S1_CATALOGUE.instances[1]))
    result = plan(
        school_release(),
        policy("school-saas"),
        catalogue,
        school_facts(utc("2027-03-22 09:00")),
        utc("2027-03-22 09:00"),
    )
    upgrade = result.by_key()["r54:i10:upgrade"]
    assert both(upgrade) == ("2027-03-30 07:00", "2027-03-30 09:00 CEST")
    assert upgrade.reason == "first Tuesday window that leaves 7 days' notice (own window)"
    assert in_utc(upgrade.ends_at) == "2027-03-30 09:00"


def test_a_subscribers_longer_contract_notice_wins_on_a_shared_instance() -> None:
    from releasedesk.planning.types import ContractTerms

    b = dataclasses.replace(
        S1_CATALOGUE.customers[1], contract=ContractTerms(notice_lead=dt.timedelta(days=11))
    )
    catalogue = dataclasses.replace(
        S1_CATALOGUE, customers=(S1_CATALOGUE.customers[0], b, S1_CATALOGUE.customers[2])
    )
    result = plan(
        school_release(),
        policy("school-saas"),
        catalogue,
        school_facts(utc("2027-03-22 09:00")),
        utc("2027-03-22 09:00"),
    )
    steps = result.by_key()
    assert both(steps["r54:i10:upgrade"]) == ("2027-04-08 14:00", "2027-04-08 16:00 CEST")
    notice = steps["r54:i10:notice:2027-04-08"]
    assert in_utc(notice.late_after) == "2027-03-28 14:00"  # 11 x 24 h before
    assert notice.payload["lead"] == "11d"


def test_broken_inputs_are_problems_not_crashes() -> None:
    release = dataclasses.replace(
        school_release(),
        demands=school_release().demands.model_copy(update={"window": "evenings"}),  # type: ignore[union-attr]
    )
    facts = dataclasses.replace(
        school_facts(utc("2027-03-22 09:00")),
        calendars={"calendars/school-holidays-noord.ics": "BEGIN:VCALENDAR\nnot ics"},
    )
    result = plan(release, policy("school-saas"), S1_CATALOGUE, facts, utc("2027-03-22 09:00"))
    assert [p.code for p in result.problems] == ["calendar_unreadable", "unknown_window"]
    assert result.steps == ()
