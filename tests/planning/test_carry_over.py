"""DESIGN.md §4b carry-over at the planner level: an instance carried to the next cycle
receives the newest release that passed its gates there (and that its customer accepted);
the older release's upgrade on it is superseded, never run after the newer one."""

from __future__ import annotations

import dataclasses
import datetime as dt

from releasedesk.planning.planner import plan
from releasedesk.planning.types import ConsentFact, Facts, Plan, SlotFact

from .conftest import both, policy, utc
from .test_s3_hosted import APPROVED, CATALOGUE, NOTICE_KEY, RELEASE, STAGE_PASSED

OPT_OUT = ConsentFact(
    "hosted", 30, "opted_out", utc("2027-02-09 12:59"), dt.date(2027, 2, 9), "portal"
)
MARCH = utc("2027-03-09 18:00")  # the next cycle, 18:00 GMT


def hosted(now: str, *others: SlotFact, consents: tuple[ConsentFact, ...] = (OPT_OUT,)) -> Plan:
    facts = Facts(
        approvals_complete_at=APPROVED,
        stage_passes={"service_acceptance": STAGE_PASSED},
        consents=consents,
        notices_delivered={
            NOTICE_KEY: utc("2027-02-07 17:00"),
            "r72:i31:notice:2027-02-09": utc("2027-02-06 17:00"),  # 72 h by contract
        },
        other_slots=others,
    )
    return plan(RELEASE, policy("hosted-monthly"), CATALOGUE, facts, utc(now))


def newer_73(instance_id: int = 30, at: dt.datetime = MARCH, **kwargs: bool) -> SlotFact:
    return SlotFact(73, "7.3", instance_id, at, at + dt.timedelta(hours=4), **kwargs)


def test_carried_instance_receives_the_newer_release_at_the_next_cycle() -> None:
    result = hosted("2027-02-09 13:00", newer_73(supersedes=True))
    steps = result.by_key()
    upgrade = steps["r72:i30:upgrade"]
    assert upgrade.status == "superseded"
    assert both(upgrade) == ("2027-03-09 18:00", "2027-03-09 18:00 GMT")
    assert upgrade.reason == (
        "carried to the next cycle: opted out 2027-02-09 12:59 GMT via portal, before the "
        "deadline 2027-02-09 13:00 GMT; superseded by release 7.3, the newest release that "
        "passed its gates for this instance, planned 2027-03-09 18:00 GMT"
    )
    assert upgrade.payload["superseded_by"] == 73
    assert upgrade.payload["carried_from"] == ["2027-02-09"]
    # Nothing else is planned for h1-prod at the next cycle (no notice, reminder, deadline,
    # verification or "date moved" of 7.2): 7.3's own notice tells them.
    assert [k for k in steps if k.startswith("r72:i30:")] == ["r72:i30:upgrade"]
    # The other customers keep release 7.2 on 2027-02-09.
    other = steps["r72:i31:upgrade"]
    assert (other.status, both(other)) == ("planned", ("2027-02-09 18:00", "2027-02-09 18:00 GMT"))
    assert result.warnings == ()


def test_a_newer_release_waiting_for_acceptance_does_not_take_over() -> None:
    result = hosted("2027-02-09 13:00", newer_73(supersedes=False))
    upgrade = result.by_key()["r72:i30:upgrade"]
    assert upgrade.status == "planned"
    assert both(upgrade) == ("2027-03-09 18:00", "2027-03-09 18:00 GMT")
    assert [w.code for w in result.warnings] == ["conflict_other_release"]


def test_a_newer_release_later_than_the_next_cycle_leaves_the_carry_alone() -> None:
    april = utc("2027-04-13 17:00")  # second Tuesday of April, 18:00 BST
    result = hosted("2027-02-09 13:00", newer_73(at=april, supersedes=True))
    upgrade = result.by_key()["r72:i30:upgrade"]
    assert (upgrade.status, both(upgrade)) == (
        "planned",
        ("2027-03-09 18:00", "2027-03-09 18:00 GMT"),
    )


def test_no_downgrade_after_a_newer_release_already_upgraded_the_instance() -> None:
    done_earlier = newer_73(instance_id=31, at=utc("2027-02-02 18:00"), supersedes=True)
    result = hosted("2027-02-05 09:00", done_earlier, consents=())
    steps = result.by_key()
    assert steps["r72:i31:upgrade"].status == "superseded"
    assert not any(k.startswith("r72:i31:notice") for k in steps)
    assert steps["r72:i30:upgrade"].status == "planned"


def test_the_newest_of_several_takes_over() -> None:
    a = newer_73(supersedes=True)
    b = dataclasses.replace(a, release_id=74, release_version="7.10")
    upgrade = hosted("2027-02-09 13:00", a, b).by_key()["r72:i30:upgrade"]
    assert upgrade.payload["superseded_by"] == 74
    assert "superseded by release 7.10" in upgrade.reason
