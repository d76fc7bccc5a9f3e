"""SCENARIOS.md S2 (OEM white-label, acceptance-gated) at the planner level: steps 1 and 2."""

from __future__ import annotations

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
    Plan,
    ProductSnapshot,
    ReleaseSnapshot,
    StepFact,
)

from .conftest import both, policy, utc

BERLIN = "Europe/Berlin"

# Platform (1): vendor production (20, shared); white-label instances of OEM X (21) and Y (22).
CATALOGUE = CatalogueSnapshot(
    products=(ProductSnapshot(1, "platform", "Platform"),),
    instances=(
        InstanceSnapshot(20, "vendor-prod", "shared", 1),
        InstanceSnapshot(21, "wl-x", "white_label", 1, owner_id=11),
        InstanceSnapshot(22, "wl-y", "white_label", 1, owner_id=12),
    ),
    customers=(
        CustomerSnapshot(
            11,
            "OEM X",
            "oem_partner",
            BERLIN,
            contract=ContractTerms(docs_responsibility="customer"),
        ),
        CustomerSnapshot(12, "OEM Y", "oem_partner", "Europe/Paris"),
    ),
    contacts=(
        ContactSnapshot(201, 11, ("oem_partner",)),
        ContactSnapshot(202, 12, ("oem_partner",)),
        ContactSnapshot(203, 11, ("admin",)),
        ContactSnapshot(204, 12, ("oem_partner",), reachable=False),
    ),
)
RELEASE = ReleaseSnapshot(
    id=7, version="2027.02.03", target_date=dt.date(2027, 2, 3), product_ids=(1,)
)
X_APPROVED = ConsentFact("white-label", 21, "approved", utc("2027-02-08 10:00"), channel="portal")
DONE_ON_RELEASE_DAY = {
    key: StepFact(key, "done", utc("2027-02-03 09:00"), utc("2027-02-03 09:20"))
    for key in ("r7:i20:upgrade", "r7:i20:send:partners")
}


def oem_plan(now: str, *consents: ConsentFact) -> Plan:
    facts = Facts(
        approvals_complete_at=utc("2027-02-01 09:00"),
        consents=consents,
        steps=DONE_ON_RELEASE_DAY,
    )
    return plan(RELEASE, policy("oem-white-label"), CATALOGUE, facts, utc(now))


def test_vendor_production_on_the_cycle_day_with_notes_to_oem_partners() -> None:
    result = plan(
        RELEASE,
        policy("oem-white-label"),
        CATALOGUE,
        Facts(approvals_complete_at=utc("2027-02-01 09:00")),
        utc("2027-02-01 09:00"),
    )
    steps = result.by_key()
    upgrade = steps["r7:i20:upgrade"]
    assert both(upgrade) == ("2027-02-03 09:00", "2027-02-03 10:00 CET")
    assert upgrade.reason == (
        "first cycle (every 2 weeks on wednesday from 2027-01-06) whose gates it meets: the "
        "cycle of 2027-02-03, on the cycle's release day at 10:00"
    )
    notes = steps["r7:i20:send:partners"]
    assert both(notes) == ("2027-02-03 09:00", "2027-02-03 10:00 CET")
    assert notes.payload["contact_ids"] == [201, 202]
    assert notes.payload["unreachable_contact_ids"] == [204]
    digest = steps["r7:digest:docs_portal:public"]
    assert both(digest) == ("2027-02-03 09:00", "2027-02-03 10:00 CET")


def test_step1_oem_x_approved_is_upgraded_on_2027_02_10() -> None:
    result = oem_plan("2027-02-08 12:00", X_APPROVED)
    steps = result.by_key()
    upgrade = steps["r7:i21:upgrade"]
    assert both(upgrade) == ("2027-02-10 09:00", "2027-02-10 10:00 CET")
    assert upgrade.zone == BERLIN
    assert upgrade.reason == (
        "first cycle (every 4 weeks on wednesday from 2027-01-06) whose gates it meets: the "
        "cycle of 2027-02-03, 7 days after the cycle's release at 10:00; accepted "
        "2027-02-08 11:00 CET, before the deadline 2027-02-09 17:00 CET"
    )
    assert upgrade.payload["consent"] == "approved"
    assert upgrade.payload["requires"] == []
    deadline = steps["r7:i21:consent_deadline:2027-02-10"]
    assert both(deadline) == ("2027-02-09 16:00", "2027-02-09 17:00 CET")
    assert deadline.payload["decision"] == "approved"
    assert "r7:i21:reminder:2027-02-10" not in steps  # no reminder once decided
    # X updates its own docs: a notice with the partner notes
    docs = steps["r7:i21:docs"]
    assert (docs.kind, docs.payload["contact_ids"], docs.payload["notes"]) == (
        "send",
        [201],
        "partners",
    )
    # the release-day steps already happened: frozen as they were
    assert steps["r7:i20:upgrade"].status == "frozen"
    assert steps["r7:i20:upgrade"].payload["state"] == "done"


def test_step1_oem_y_pending_before_the_deadline_is_conditional_and_reminded() -> None:
    result = oem_plan("2027-02-05 12:00", X_APPROVED)
    steps = result.by_key()
    upgrade = steps["r7:i22:upgrade"]
    assert both(upgrade) == ("2027-02-10 09:00", "2027-02-10 10:00 CET")
    assert upgrade.payload["requires"] == ["consent:2027-02-10"]
    assert upgrade.reason.endswith("; only if accepted by 2027-02-09 17:00 CET")
    reminder = steps["r7:i22:reminder:2027-02-10"]
    assert both(reminder) == ("2027-02-07 16:00", "2027-02-07 17:00 CET")
    assert reminder.payload["contact_ids"] == [202]
    assert reminder.reason == "2 days before the deadline 2027-02-09 17:00 CET"
    # Y's contract does not say: the vendor's docs team updates Y's documentation
    docs = steps["r7:i22:docs"]
    assert (docs.kind, docs.audience) == ("task", "role:docs")


def test_step2_oem_y_silent_is_carried_to_the_march_cycle() -> None:
    result = oem_plan("2027-02-09 16:01", X_APPROVED)
    steps = result.by_key()
    assert both(steps["r7:i21:upgrade"]) == ("2027-02-10 09:00", "2027-02-10 10:00 CET")
    upgrade = steps["r7:i22:upgrade"]
    assert both(upgrade) == ("2027-03-10 09:00", "2027-03-10 10:00 CET")
    assert upgrade.reason == (
        "next cycle (every 4 weeks on wednesday from 2027-01-06) whose gates it meets: the "
        "cycle of 2027-03-03, 7 days after the cycle's release at 10:00; carried to the next "
        "cycle: not accepted by 2027-02-09 17:00 CET; only if accepted by 2027-03-09 17:00 CET"
    )
    assert upgrade.payload["carried_from"] == ["2027-02-10"]
    moved = steps["r7:i22:notice:moved:2027-03-10"]
    assert both(moved) == ("2027-02-09 16:00", "2027-02-09 17:00 CET")
    assert moved.payload["contact_ids"] == [202]
    assert moved.label == "Your date moved: wl-y now 2027-03-10 10:00 CET"
    deadline = steps["r7:i22:consent_deadline:2027-03-10"]
    assert both(deadline) == ("2027-03-09 16:00", "2027-03-09 17:00 CET")
    reminder = steps["r7:i22:reminder:2027-03-10"]
    assert both(reminder) == ("2027-03-07 16:00", "2027-03-07 17:00 CET")
    assert "r7:i22:consent_deadline:2027-02-10" not in steps


def test_step2_y_accepts_late_and_goes_in_march() -> None:
    late = ConsentFact("white-label", 22, "approved", utc("2027-02-09 17:30"))
    steps = oem_plan("2027-02-09 18:00", X_APPROVED, late).by_key()
    upgrade = steps["r7:i22:upgrade"]
    assert both(upgrade) == ("2027-03-10 09:00", "2027-03-10 10:00 CET")
    assert upgrade.payload["consent"] == "approved"
    assert upgrade.reason.endswith(
        "carried to the next cycle: not accepted by 2027-02-09 17:00 CET; accepted "
        "2027-02-09 18:30 CET, before the deadline 2027-03-09 17:00 CET"
    )
