"""SCENARIOS.md S1-S4: the exact times of the time layer, in UTC and local time."""

from __future__ import annotations

import datetime as dt

from releasedesk.scheduling.blackouts import Blackouts, IcsBlackouts
from releasedesk.scheduling.cadence import (
    Cadence,
    CycleOffset,
    cycle_on_or_after,
    cycles,
    next_cycle,
)
from releasedesk.scheduling.deadlines import DeadlineRule, deadline_for
from releasedesk.scheduling.durations import CalendarOffset, Duration
from releasedesk.scheduling.notice import earliest_start_with_notice, notice_times
from releasedesk.scheduling.periods import period_around
from releasedesk.scheduling.windows import WindowRule

from .conftest import in_utc, local, utc

AMS, BERLIN, LONDON, ZURICH = "Europe/Amsterdam", "Europe/Berlin", "Europe/London", "Europe/Zurich"


class TestS1SchoolSaaS:
    rule = WindowRule.parse("weekly on thursday", start="16:00", end="22:00")
    approved = utc("2027-03-22 09:00")  # Monday 10:00 CET

    def test_approval_instant(self) -> None:
        assert local(self.approved, AMS) == "2027-03-22 10:00 CET"

    def test_high_risk_release_goes_to_first_window_with_seven_days_notice(self) -> None:
        plan = earliest_start_with_notice(self.rule, AMS, self.approved, Duration.parse("7d"))
        assert plan.window is not None
        assert plan.notice is not None
        assert in_utc(plan.window.start_utc) == "2027-04-01 14:00"
        assert local(plan.window.start_utc, AMS) == "2027-04-01 16:00 CEST"
        assert in_utc(plan.notice.must_deliver_by) == "2027-03-25 14:00"
        assert local(plan.notice.must_deliver_by, AMS) == "2027-03-25 15:00 CET"
        assert in_utc(plan.notice.send_at) == "2027-03-25 13:00"
        assert plan.notice.feasible
        assert plan.reason == "first Thursday window that leaves 7 days' notice"
        # the 2027-03-25 window was passed over: it leaves only 3 days
        assert [local(w.start_utc, AMS) for w in plan.too_early] == ["2027-03-25 16:00 CET"]

    def test_notice_is_exactly_168_hours_across_the_dst_change(self) -> None:
        times = notice_times(utc("2027-04-01 14:00"), Duration.parse("7d"))
        assert times.start_utc - times.must_deliver_by == dt.timedelta(hours=168)

    def test_school_calendar_blackout_moves_the_release(self, school_ics: bytes) -> None:
        # The exam day (recurring every 4 weeks, 09:00-17:00) overlaps the 04-01 window.
        blackouts = Blackouts([IcsBlackouts(school_ics, AMS)])
        plan = earliest_start_with_notice(
            self.rule, AMS, self.approved, Duration.parse("7d"), blackouts=blackouts
        )
        assert plan.window is not None
        assert local(plan.window.start_utc, AMS) == "2027-04-08 16:00 CEST"
        assert [s.blackout.reason for s in plan.blocked] == ["Exam day (School holidays (Noord))"]
        assert plan.reason == (
            "first Thursday window that leaves 7 days' notice; skipped "
            "2027-04-01 16:00 CEST (Europe/Amsterdam) (Exam day (School holidays (Noord)))"
        )

    def test_urgent_database_change_one_day_notice(self) -> None:
        plan = earliest_start_with_notice(self.rule, AMS, self.approved, Duration.parse("1d"))
        assert plan.window is not None
        assert plan.notice is not None
        assert local(plan.window.start_utc, AMS) == "2027-03-25 16:00 CET"
        assert in_utc(plan.notice.must_deliver_by) == "2027-03-24 15:00"

    def test_hotfix_without_notice(self) -> None:
        hotfix_at = utc("2027-03-23 10:00")  # Tuesday 11:00 CET
        times = notice_times(hotfix_at, Duration.parse("0"), approved_at=hotfix_at)
        assert times.must_deliver_by == hotfix_at
        assert times.send_at == hotfix_at  # at approval, not before it


class TestS2OemWhiteLabel:
    production = Cadence.parse("every 2 weeks on wednesday from 2027-01-06")
    white_label = Cadence.every_weeks(4, "wednesday", "2027-01-06")
    slot = CycleOffset.parse("cycle_release + 7d, 10:00")
    deadline = DeadlineRule.parse("17:00 previous working day")

    def test_production_cycles(self) -> None:
        dates = list(cycles(self.production, dt.date(2027, 1, 1), dt.date(2027, 2, 28)))
        assert [d.isoformat() for d in dates] == [
            "2027-01-06",
            "2027-01-20",
            "2027-02-03",
            "2027-02-17",
        ]

    def test_white_label_cycles(self) -> None:
        dates = list(cycles(self.white_label, dt.date(2026, 12, 1), dt.date(2027, 4, 27)))
        assert [d.isoformat() for d in dates] == [
            "2027-01-06",
            "2027-02-03",
            "2027-03-03",
            "2027-03-31",
        ]

    def test_upgrade_one_week_after_release_and_deadline(self) -> None:
        start = self.slot.instant(dt.date(2027, 2, 3), BERLIN)
        assert in_utc(start) == "2027-02-10 09:00"
        assert local(start, BERLIN) == "2027-02-10 10:00 CET"
        deadline = deadline_for(self.deadline, start, BERLIN)
        assert in_utc(deadline) == "2027-02-09 16:00"
        assert local(deadline, BERLIN) == "2027-02-09 17:00 CET"

    def test_no_answer_carries_to_next_cycle(self) -> None:
        carried = next_cycle(self.white_label, dt.date(2027, 2, 3))
        assert carried == dt.date(2027, 3, 3)
        start = self.slot.instant(carried, BERLIN)
        assert in_utc(start) == "2027-03-10 09:00"
        assert local(start, BERLIN) == "2027-03-10 10:00 CET"
        assert local(deadline_for(self.deadline, start, BERLIN), BERLIN) == "2027-03-09 17:00 CET"


class TestS3HostedOptOut:
    cadence = Cadence.parse("monthly on second tuesday")
    at = CycleOffset.parse("18:00")
    lead = Duration.parse("48h")
    deadline = DeadlineRule.parse("13:00 on upgrade day")
    accepted = utc("2027-02-01 10:00")  # change management, Monday 10:00 GMT

    def test_first_cycle_after_acceptance(self) -> None:
        cycle = cycle_on_or_after(self.cadence, self.accepted.date())
        start = self.at.instant(cycle, LONDON)
        assert local(start, LONDON) == "2027-02-09 18:00 GMT"
        assert in_utc(start) == "2027-02-09 18:00"
        notice = notice_times(start, self.lead, approved_at=self.accepted)
        assert in_utc(notice.must_deliver_by) == "2027-02-07 18:00"
        assert in_utc(notice.send_at) == "2027-02-07 17:00"
        opt_out_by = deadline_for(self.deadline, start, LONDON)
        assert local(opt_out_by, LONDON) == "2027-02-09 13:00 GMT"
        assert in_utc(opt_out_by) == "2027-02-09 13:00"
        # met by anything received at or before the deadline
        assert utc("2027-02-09 12:59") <= opt_out_by
        assert not utc("2027-02-09 13:01") <= opt_out_by

    def test_opt_out_replans_into_next_cycle(self) -> None:
        cycle = next_cycle(self.cadence, dt.date(2027, 2, 9))
        start = self.at.instant(cycle, LONDON)
        assert local(start, LONDON) == "2027-03-09 18:00 GMT"
        assert in_utc(notice_times(start, self.lead).must_deliver_by) == "2027-03-07 18:00"
        assert local(deadline_for(self.deadline, start, LONDON), LONDON) == "2027-03-09 13:00 GMT"


class TestS4FieldSoftware:
    release_day = dt.date(2027, 6, 15)
    task_time = dt.time(17, 0)

    def test_timeline_tasks(self) -> None:
        minus4 = CalendarOffset.parse("-4w").at(self.release_day, self.task_time, ZURICH)
        assert local(minus4, ZURICH) == "2027-05-18 17:00 CEST"
        assert in_utc(minus4) == "2027-05-18 15:00"
        minus2 = CalendarOffset.parse("-2w").at(self.release_day, self.task_time, ZURICH)
        assert local(minus2, ZURICH) == "2027-06-01 17:00 CEST"
        assert in_utc(minus2) == "2027-06-01 15:00"
        day0 = CalendarOffset.parse("0d").at(self.release_day, self.task_time, ZURICH)
        assert local(day0, ZURICH) == "2027-06-15 17:00 CEST"

    def test_hypercare_includes_the_last_day(self) -> None:
        period = period_around(
            self.release_day, CalendarOffset.parse("0d"), CalendarOffset.parse("+2w"), ZURICH
        )
        assert (period.first_day.isoformat(), period.last_day.isoformat()) == (
            "2027-06-15",
            "2027-06-29",
        )
        assert local(period.start_utc, ZURICH) == "2027-06-15 00:00 CEST"
        assert local(period.end_utc, ZURICH) == "2027-06-30 00:00 CEST"
        assert in_utc(period.end_utc) == "2027-06-29 22:00"
        assert period.contains(utc("2027-06-29 21:59"))
        assert not period.contains(utc("2027-06-29 22:00"))
