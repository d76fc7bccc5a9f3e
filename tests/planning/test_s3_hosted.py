"""SCENARIOS.md S3 (hosted instances, opt-out) at the planner level: steps 1, 2 and 5."""

from __future__ import annotations

import dataclasses
import datetime as dt

from releasedesk.planning.planner import plan
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ConsentFact,
    ContactSnapshot,
    ContractTerms,
    CustomerSnapshot,
    Facts,
    InstanceSnapshot,
    OwnWindow,
    Plan,
    ProductSnapshot,
    ReleaseSnapshot,
)

from .conftest import both, in_utc, local, policy, utc

LONDON = "Europe/London"

# Hosted app (1): dedicated instances of H1 (30, London) and H2 (31, Amsterdam-based
# customer, but the policy puts every hosted slot at 18:00 London).
CATALOGUE = CatalogueSnapshot(
    products=(ProductSnapshot(1, "hosted-app", "Hosted app"),),
    instances=(
        InstanceSnapshot(30, "h1-prod", "dedicated", 1, owner_id=21),
        InstanceSnapshot(31, "h2-prod", "dedicated", 1, owner_id=22),
        InstanceSnapshot(32, "h1-staging", "staging", 1, owner_id=21),
    ),
    customers=(
        CustomerSnapshot(21, "Hosted One", "hosted", LONDON),
        CustomerSnapshot(
            22,
            "Hosted Two",
            "hosted",
            "Europe/Amsterdam",
            contract=ContractTerms(notice_lead=dt.timedelta(hours=72)),
        ),
    ),
    contacts=(
        ContactSnapshot(301, 21, ("admin",)),
        ContactSnapshot(302, 21, ("technical",)),
        ContactSnapshot(303, 21, ("billing",)),
        ContactSnapshot(304, 22, ("admin",)),
    ),
)
RELEASE = ReleaseSnapshot(id=72, version="7.2", target_date=dt.date(2027, 1, 18), product_ids=(1,))
APPROVED = utc("2027-01-20 10:00")
STAGE_PASSED = utc("2027-02-01 10:00")  # Monday 10:00 GMT
NOTICE_KEY = "r72:i30:notice:2027-02-09"


def hosted_plan(
    now: str, *consents: ConsentFact, stage: bool = True, delivered: bool = False
) -> Plan:
    facts = Facts(
        approvals_complete_at=APPROVED,
        stage_passes={"service_acceptance": STAGE_PASSED} if stage else {},
        consents=consents,
        notices_delivered={NOTICE_KEY: utc("2027-02-07 17:00")} if delivered else {},
    )
    return plan(RELEASE, policy("hosted-monthly"), CATALOGUE, facts, utc(now))


def test_step1_upgrade_notice_and_opt_out_deadline() -> None:
    result = hosted_plan("2027-02-01 10:00")
    assert result.problems == ()
    assert result.warnings == ()
    steps = result.by_key()
    stage = steps["r72:stage:service_acceptance"]
    assert (stage.status, both(stage)) == ("frozen", ("2027-02-01 10:00", "2027-02-01 10:00 GMT"))

    upgrade = steps["r72:i30:upgrade"]
    assert both(upgrade) == ("2027-02-09 18:00", "2027-02-09 18:00 GMT")
    assert upgrade.zone == LONDON
    assert upgrade.reason == (
        "first cycle (monthly on second tuesday) whose gates it meets: the cycle of 2027-02-09, "
        "on the cycle's release day at 18:00; unless opted out by 2027-02-09 13:00 GMT "
        "(silence means proceed)"
    )
    assert upgrade.payload["requires"] == ["notice:2027-02-09"]

    notice = steps[NOTICE_KEY]
    assert in_utc(notice.late_after) == "2027-02-07 18:00"  # delivered by, 48 h before
    assert both(notice) == ("2027-02-07 17:00", "2027-02-07 17:00 GMT")
    assert notice.payload["contact_ids"] == [301, 302]  # admin + technical, not billing
    assert notice.payload["consent_deadline"] == "2027-02-09T13:00:00+00:00"
    assert notice.payload["opt_out_allowed"] is True

    deadline = steps["r72:i30:consent_deadline:2027-02-09"]
    assert both(deadline) == ("2027-02-09 13:00", "2027-02-09 13:00 GMT")
    assert deadline.reason == "13:00 on the upgrade day (Europe/London); silence means proceed"
    assert deadline.payload["mode"] == "opt_out"

    verify, confirm = steps["r72:i30:verify"], steps["r72:i30:confirm"]
    assert both(verify) == both(confirm) == ("2027-02-09 18:00", "2027-02-09 18:00 GMT")
    assert confirm.payload["after"] == "r72:i30:verify"
    assert confirm.payload["contact_ids"] == [301, 302]
    assert "r72:i32:upgrade" not in steps  # staging is not a target


def test_step1_contract_with_longer_notice_wins() -> None:
    steps = hosted_plan("2027-02-01 10:00").by_key()
    upgrade = steps["r72:i31:upgrade"]
    assert both(upgrade) == ("2027-02-09 18:00", "2027-02-09 18:00 GMT")
    notice = steps["r72:i31:notice:2027-02-09"]
    assert in_utc(notice.late_after) == "2027-02-06 18:00"  # 72 h, the contract's
    assert notice.late_after is not None
    assert local(notice.late_after, "Europe/Amsterdam") == "2027-02-06 19:00 CET"
    assert notice.payload["lead"] == "3d"


def test_step2_opt_out_at_1259_moves_to_the_next_cycle_with_fresh_notice() -> None:
    opt_out = ConsentFact(
        "hosted", 30, "opted_out", utc("2027-02-09 12:59"), dt.date(2027, 2, 9), "portal"
    )
    result = hosted_plan("2027-02-09 13:00", opt_out, delivered=True)
    steps = result.by_key()
    upgrade = steps["r72:i30:upgrade"]
    assert both(upgrade) == ("2027-03-09 18:00", "2027-03-09 18:00 GMT")
    assert upgrade.payload["carried_from"] == ["2027-02-09"]
    assert (
        "carried to the next cycle: opted out 2027-02-09 12:59 GMT via portal, before the "
        "deadline 2027-02-09 13:00 GMT"
    ) in upgrade.reason
    notice = steps["r72:i30:notice:2027-03-09"]
    assert in_utc(notice.late_after) == "2027-03-07 18:00"
    assert both(notice) == ("2027-03-07 17:00", "2027-03-07 17:00 GMT")
    deadline = steps["r72:i30:consent_deadline:2027-03-09"]
    assert both(deadline) == ("2027-03-09 13:00", "2027-03-09 13:00 GMT")
    moved = steps["r72:i30:notice:moved:2027-03-09"]
    assert both(moved) == ("2027-02-09 12:59", "2027-02-09 12:59 GMT")
    assert NOTICE_KEY not in steps  # the old notice is not planned again


def test_step2_opt_out_at_1301_does_not_count() -> None:
    late = ConsentFact(
        "hosted", 30, "opted_out", utc("2027-02-09 13:01"), dt.date(2027, 2, 9), "portal"
    )
    result = hosted_plan("2027-02-09 13:01", late, delivered=True)
    upgrade = result.by_key()["r72:i30:upgrade"]
    assert both(upgrade) == ("2027-02-09 18:00", "2027-02-09 18:00 GMT")
    assert [(w.code, w.message) for w in result.warnings] == [
        (
            "opt_out_after_deadline",
            "h1-prod: the opt-out received 2027-02-09 13:01 GMT came after the deadline "
            "2027-02-09 13:00 GMT and does not count",
        )
    ]


def test_undelivered_notice_cannot_be_given_in_time_so_next_cycle() -> None:
    # S3.4 at the planner level: planned after the send time without a delivery
    steps = hosted_plan("2027-02-08 09:00").by_key()
    assert both(steps["r72:i30:upgrade"]) == ("2027-03-09 18:00", "2027-03-09 18:00 GMT")
    assert "2027-02-09: too late to give 48 hours' notice" in steps["r72:i30:upgrade"].reason


def test_step5_no_customer_step_before_the_stage_passes() -> None:
    result = hosted_plan("2027-01-25 10:00", stage=False)
    assert [s.key for s in result.steps] == ["r72:stage:service_acceptance"]
    stage = result.steps[0]
    assert stage.status == "planned"
    assert both(stage) == ("2027-02-01 17:00", "2027-02-01 17:00 GMT")  # 14 days, 17:00
    assert result.warnings[0].code == "stage_pending"
    assert result.warnings[0].message == (
        "stage service_acceptance has not passed (planned to end 2027-02-01 17:00 GMT, change "
        "management approval): no customer is scheduled or notified until it passes"
    )


def test_a_contracts_own_window_places_the_cycle_upgrade() -> None:
    # Hosted One's contract: upgrades only Thursdays 20:00-23:00 Europe/London. The cycle of
    # 2027-02-09 (Tuesday 18:00 GMT) goes into the first such window from then: Thursday.
    own = ContractTerms(window=OwnWindow("thursday", "20:00", "23:00", LONDON))
    customers = (
        dataclasses.replace(CATALOGUE.customers[0], contract=own),
        CATALOGUE.customers[1],
    )
    catalogue = dataclasses.replace(CATALOGUE, customers=customers)
    facts = Facts(approvals_complete_at=APPROVED, stage_passes={"service_acceptance": STAGE_PASSED})
    steps = plan(RELEASE, policy("hosted-monthly"), catalogue, facts, utc("2027-02-01 10:00"))
    by_key = steps.by_key()
    upgrade = by_key["r72:i30:upgrade"]
    assert both(upgrade) == ("2027-02-11 20:00", "2027-02-11 20:00 GMT")
    assert in_utc(upgrade.ends_at) == "2027-02-11 23:00"
    assert upgrade.reason == (
        "first cycle (monthly on second tuesday) whose gates it meets: the cycle of "
        "2027-02-09, on the cycle's release day at 18:00; the first own window (weekly on "
        "thursday 20:00-23:00, Europe/London) from then; unless opted out by 2027-02-11 "
        "13:00 GMT (silence means proceed)"
    )
    notice = by_key["r72:i30:notice:2027-02-11"]
    assert (in_utc(notice.due_at), in_utc(notice.late_after)) == (
        "2027-02-09 19:00",
        "2027-02-09 20:00",
    )
    deadline = by_key["r72:i30:consent_deadline:2027-02-11"]
    assert both(deadline) == ("2027-02-11 13:00", "2027-02-11 13:00 GMT")
    # Hosted Two has no own window: the cycle's own instant.
    assert both(by_key["r72:i31:upgrade"]) == ("2027-02-09 18:00", "2027-02-09 18:00 GMT")
