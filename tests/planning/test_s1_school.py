"""SCENARIOS.md S1 (school SaaS, risk-gated) at the planner level: steps 1, 3 and 5."""

from __future__ import annotations

import dataclasses

from releasedesk.planning.planner import plan
from releasedesk.planning.types import ChangeSnapshot, Plan, Problem

from .conftest import S1_CATALOGUE, both, in_utc, policy, school_facts, school_release, utc

AMS = "Europe/Amsterdam"


def school_plan(release: object, approved: str, now: str | None = None) -> Plan:
    return plan(
        release,  # type: ignore[arg-type]
        policy("school-saas"),
        S1_CATALOGUE,
        school_facts(utc(approved)),
        utc(now or approved),
    )


def test_step1_high_risk_goes_to_the_first_window_with_seven_days_notice() -> None:
    release = school_release()
    assert release.level == "high"
    result = school_plan(release, "2027-03-22 09:00")  # Monday 10:00 CET
    assert result.problems == ()
    assert result.warnings == ()
    steps = result.by_key()
    assert sorted(steps) == ["r54:i10:notice:2027-04-01", "r54:i10:upgrade", "r54:i10:verify"]

    upgrade = steps["r54:i10:upgrade"]
    assert both(upgrade) == ("2027-04-01 14:00", "2027-04-01 16:00 CEST")
    assert upgrade.zone == AMS
    assert upgrade.reason == "first Thursday window that leaves 7 days' notice (maintenance)"
    assert in_utc(upgrade.ends_at) == "2027-04-01 20:00"  # the window closes 22:00 CEST
    assert upgrade.late_after == upgrade.ends_at
    assert upgrade.payload["requires"] == ["notice:2027-04-01"]

    notice = steps["r54:i10:notice:2027-04-01"]
    assert in_utc(notice.late_after) == "2027-03-25 14:00"  # delivered by 15:00 CET
    assert both(notice) == ("2027-03-25 13:00", "2027-03-25 14:00 CET")  # sent 1 h earlier
    assert notice.payload["deliver_by"] == "2027-03-25T14:00:00+00:00"
    assert notice.payload["contact_ids"] == [101, 102, 103]  # a1, a2, b1 — not C, not tech
    assert notice.audience == "affected_org_admins"
    assert notice.reason == (
        "7 days before the start (2027-04-01 16:00 CEST): delivered by 2027-03-25 15:00 CET = "
        "2027-03-25 14:00 UTC, sent 1 hour earlier"
    )
    assert notice.late_after is not None
    assert (upgrade.due_at - notice.late_after).total_seconds() == 168 * 3600

    verify = steps["r54:i10:verify"]
    assert both(verify) == ("2027-04-01 14:00", "2027-04-01 16:00 CEST")
    assert verify.payload["checks"] == ["health_probe", "version_probe"]
    assert verify.payload["after"] == "r54:i10:upgrade"


def test_step1_urgent_database_change_gets_one_days_notice() -> None:
    release = dataclasses.replace(school_release(impact=2, likelihood=2), urgent=True)
    assert release.level == "medium"  # raised by the database migration floor
    result = school_plan(release, "2027-03-22 09:00")
    upgrade = result.by_key()["r54:i10:upgrade"]
    assert both(upgrade) == ("2027-03-25 15:00", "2027-03-25 16:00 CET")
    notice = result.by_key()["r54:i10:notice:2027-03-25"]
    assert in_utc(notice.late_after) == "2027-03-24 15:00"


def test_step3_low_release_is_planned_immediately_without_notice() -> None:
    release = school_release(impact=1, likelihood=3, changes=(ChangeSnapshot("feature"),))
    assert release.level == "low"
    result = school_plan(release, "2027-03-22 09:00")
    assert result.problems == ()
    assert result.warnings == ()
    assert [s.kind for s in result.steps] == ["upgrade", "verify"]
    upgrade = result.by_key()["r54:i10:upgrade"]
    assert both(upgrade) == ("2027-03-22 09:00", "2027-03-22 10:00 CET")
    assert upgrade.reason == "any time: immediately after approval, no window needed"
    assert upgrade.payload["requires"] == []


def test_step3_low_release_planned_later_goes_at_now() -> None:
    release = school_release(impact=1, likelihood=3, changes=(ChangeSnapshot("feature"),))
    result = school_plan(release, "2027-03-22 09:00", now="2027-03-23 08:30")
    assert both(result.by_key()["r54:i10:upgrade"]) == ("2027-03-23 08:30", "2027-03-23 09:30 CET")


def test_step5_security_hotfix_goes_out_immediately_and_admins_are_told_afterwards() -> None:
    release = school_release(
        rid=55,
        version="5.4.1",
        impact=2,
        likelihood=2,
        changes=(ChangeSnapshot("security"),),
        kind="hotfix",
        hotfix_reason="security",
        target=utc("2027-03-23 00:00").date(),
    )
    result = school_plan(release, "2027-03-23 10:00")  # Tuesday 11:00 CET
    assert result.problems == ()
    assert result.warnings == ()
    steps = result.by_key()
    assert sorted(steps) == ["r55:i10:notice:afterwards", "r55:i10:upgrade", "r55:i10:verify"]
    upgrade = steps["r55:i10:upgrade"]
    assert both(upgrade) == ("2027-03-23 10:00", "2027-03-23 11:00 CET")  # not a Thursday
    assert upgrade.reason == (
        "security hotfix: immediately after approval, outside any window, with no advance notice"
    )
    afterwards = steps["r55:i10:notice:afterwards"]
    assert both(afterwards) == ("2027-03-23 10:00", "2027-03-23 11:00 CET")
    assert afterwards.payload["contact_ids"] == [101, 102, 103]
    assert afterwards.payload["after"] == "r55:i10:upgrade"


def test_hotfix_in_a_blackout_needs_a_recorded_override_reason() -> None:
    # Good Friday 2027-03-26 is an NL public holiday (a blackout of the school policy).
    kwargs = dict(
        rid=56,
        impact=2,
        likelihood=2,
        changes=(ChangeSnapshot("fix"),),
        kind="hotfix",
        hotfix_reason="functional",
        target=utc("2027-03-26 00:00").date(),
    )
    refused = school_plan(school_release(**kwargs), "2027-03-26 08:00")  # type: ignore[arg-type]
    upgrade = refused.by_key()["r56:i10:upgrade"]
    assert upgrade.status == "unmeetable"
    assert refused.problems == (
        Problem(
            "slot_in_blackout",
            "saas-eu: inside Goede vrijdag (NL public holiday) (2027-03-26 00:00 CET to "
            "2027-03-27 00:00 CET): a hotfix may go out in a blackout only with a recorded "
            "override reason",
            "r56:i10:upgrade",
        ),
    )
    allowed = school_plan(
        school_release(**kwargs, override="Exam platform down"),  # type: ignore[arg-type]
        "2027-03-26 08:00",
    )
    upgrade = allowed.by_key()["r56:i10:upgrade"]
    assert upgrade.status == "planned"
    assert both(upgrade) == ("2027-03-26 08:00", "2027-03-26 09:00 CET")
    assert [w.code for w in allowed.warnings] == ["blackout_overridden"]
    assert "overridden with the recorded reason 'Exam platform down'" in upgrade.reason


def test_low_release_on_a_holiday_moves_past_the_blackout() -> None:
    release = school_release(
        rid=57,
        impact=1,
        likelihood=3,
        changes=(ChangeSnapshot("feature"),),
        target=utc("2027-03-26 00:00").date(),
    )
    result = school_plan(release, "2027-03-26 08:00")
    upgrade = result.by_key()["r57:i10:upgrade"]
    assert both(upgrade) == ("2027-03-26 23:00", "2027-03-27 00:00 CET")
    assert upgrade.reason == (
        "any time: immediately after approval, no window needed; moved past "
        "2027-03-26 09:00 CET (Goede vrijdag (NL public holiday))"
    )


def test_school_holiday_ics_blackout_skips_the_window() -> None:
    # Approved 2027-04-12: the first Thursday with 7 days' notice, 04-22, is free.
    # Approved 2027-04-19: 04-29 is in the meivakantie (ICS), 05-06 is Ascension Day.
    result = school_plan(school_release(rid=58), "2027-04-12 08:00")
    assert both(result.by_key()["r58:i10:upgrade"]) == ("2027-04-22 14:00", "2027-04-22 16:00 CEST")
    result = school_plan(school_release(rid=59), "2027-04-19 08:00")
    upgrade = result.by_key()["r59:i10:upgrade"]
    assert both(upgrade) == ("2027-05-13 14:00", "2027-05-13 16:00 CEST")
    assert upgrade.reason == (
        "first Thursday window that leaves 7 days' notice (maintenance); skipped "
        "2027-04-29 16:00 CEST (Meivakantie (School holidays (Noord))); "
        "2027-05-06 16:00 CEST (Hemelvaartsdag (NL public holiday))"
    )


def test_not_assessed_release_is_a_problem_not_a_crash() -> None:
    release = dataclasses.replace(school_release(), demands=None, level=None)
    result = school_plan(release, "2027-03-22 09:00")
    assert result.steps == ()
    assert [p.code for p in result.problems] == ["not_assessed"]


def test_extreme_is_not_releasable() -> None:
    release = school_release(impact=5, likelihood=5)
    result = school_plan(release, "2027-03-22 09:00")
    assert result.steps == ()
    assert result.problems == (
        Problem("not_releasable", "level extreme is not releasable: Reduce the risk and re-assess"),
    )
