"""The policy's time sections (issue 4 §1): parsed values and precise, placed errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from releasedesk.policies.loader import check_source, load_policy
from releasedesk.scheduling.durations import CalendarOffset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
HOSTED = (EXAMPLES / "hosted-monthly.yaml").read_text()


def errors_of(source: str) -> list[str]:
    document, errors = check_source(source, "p.yaml")
    assert document is None
    return [str(e) for e in errors]


def test_lead_times_are_absolute_and_offsets_are_calendar() -> None:
    doc = load_policy(HOSTED, "hosted-monthly.yaml")
    (target,) = doc.targets
    assert target.notice is not None
    assert target.notice.lead == dt.timedelta(hours=48)
    assert target.notice.margin == dt.timedelta(hours=1)
    assert doc.stages[0].lasts == CalendarOffset(14)
    assert target.cycle is not None
    assert target.cycle.cadence().text == "monthly on second tuesday"
    offset = target.cycle_offset()
    assert (offset.offset, offset.at) == (CalendarOffset(0), dt.time(18, 0))
    assert target.consent is not None
    assert target.consent.deadline_rule().describe() == "13:00 on the upgrade day"
    assert target.consent.effective_silence == "proceed"


def test_oem_example_cycle_offset_reminder_and_digest() -> None:
    doc = load_policy((EXAMPLES / "oem-white-label.yaml").read_text(), "oem.yaml")
    production, white_label = doc.targets
    assert production.cycle is not None
    assert production.cycle.cadence().text == "every 2 weeks on wednesday from 2027-01-06"
    assert white_label.cycle_offset().describe() == "7 days after the cycle's release at 10:00"
    assert white_label.consent is not None
    assert white_label.consent.reminder == dt.timedelta(days=2)
    assert white_label.consent.effective_silence == "wait"
    assert doc.publication[0].digest.at == "10:00"


def test_school_example_windows_and_blackouts() -> None:
    doc = load_policy((EXAMPLES / "school-saas.yaml").read_text(), "school.yaml")
    assert doc.windows["maintenance"].rule().text == "weekly on thursday 16:00-22:00"
    assert [b.holidays.country if b.holidays else b.ics for b in doc.blackouts] == [
        "NL",
        "calendars/school-holidays-noord.ics",
    ]
    assert (EXAMPLES / "calendars" / "school-holidays-noord.ics").is_file()


def test_field_software_timeline() -> None:
    doc = load_policy((EXAMPLES / "field-software.yaml").read_text(), "field.yaml")
    assert [(e.what, str(e.at) if e.at else e.after) for e in doc.timeline] == [
        ("task", "-4w"),
        ("publish", "-2w"),
        ("send", "-2w"),
        ("task", "-2w"),
        ("task", "-2w"),
        ("task", "+0d"),
        ("task", "release_completed"),
        ("hypercare", None),
    ]
    hypercare = doc.timeline[-1].hypercare
    assert hypercare is not None
    assert (hypercare.from_, hypercare.until) == (CalendarOffset(0), CalendarOffset(14))


def test_raw_rrule_window_and_readable_times_in_text() -> None:
    source = HOSTED + (
        "windows:\n"
        "  evenings: {every: weekly on monday 19:00-21:00, zone: Europe/Dublin}\n"
        "  raw: {rrule: 'RRULE:FREQ=WEEKLY;BYDAY=TH', from: '16:00', to: '22:00'}\n"
    )
    doc = load_policy(source, "p.yaml")
    assert doc.windows["evenings"].rule().text == "weekly on monday 19:00-21:00"
    assert doc.windows["raw"].rule().text == "RRULE:FREQ=WEEKLY;BYDAY=TH\n16:00-22:00"


ERRORS = {
    "undefined window": (
        ("    window: anytime        # the monthly", "    window: nightly        # the monthly"),
        [
            "p.yaml:23:13: levels.standard.window: window 'nightly' is not defined in windows "
            "(allowed: anytime)"
        ],
    ),
    "deadline": (
        ("deadline: 13:00 on upgrade day", "deadline: 13:00 on the day after"),
        [
            "p.yaml:47:17: targets.0.consent.deadline: deadline '13:00 on the day after' is not "
            "understood: use '13:00 on upgrade day', '17:00 previous working day', '17:00 2 "
            "working days before', '17:00 2 days before' or '48h before'"
        ],
    ),
    "recipients": (
        ("by: instance_contacts", "by: instance_people"),
        [
            "p.yaml:46:11: targets.0.consent.by: unknown recipients 'instance_people'; use one "
            "of these or role:<slug> / team:<slug> (allowed: affected_org_admins, "
            "instance_contacts, oem_partner_contacts, resellers, resellers_and_customers, "
            "customers, internal)"
        ],
    ),
    "hours as a calendar offset": (
        ("lasts: 14d", "lasts: 14h"),
        [
            "p.yaml:36:39: stages.0.lasts: calendar offset '14h' is not understood: use a "
            "signed number of days or weeks: -4w, +7d, 0d, or a combination like +1w2d (hours "
            "and minutes are absolute durations, not calendar offsets)"
        ],
    ),
    "signed lead": (
        (
            "notice: {lead: 48h, to: instance_contacts}\n    consent",
            "notice: {lead: -48h, to: instance_contacts}\n    consent",
        ),
        [
            "p.yaml:43:20: targets.0.notice.lead: '-48h' is not a duration (use e.g. 7d, 48h, "
            "30m, 2w, 1d12h or 0)"
        ],
    ),
    "fifth weekday cadence": (
        ("monthly: second tuesday", "monthly: fifth tuesday"),
        [
            "p.yaml:42:5: targets.0.cycle: monthly on fifth tuesday: 'fifth' is not an ordinal "
            "(use first, second, third, fourth, last)"
        ],
    ),
    "stage role": (
        ("approval: change_management}", "approval: change_board}"),
        [
            "p.yaml:36:54: stages.0.approval: unknown role 'change_board'; use a known role or "
            "declare it under roles (allowed: admin, product_manager, cto, service, sales, "
            "delivery, delivery_lead, customer_success, customer_success_lead, "
            "change_management, docs)"
        ],
    ),
    "target zone": (
        ("    zone: policy                  # 18:00", "    zone: Europe/Londn            # 18:00"),
        [
            "p.yaml:41:11: targets.0.zone: 'Europe/Londn' is not instance, policy or an IANA "
            "time zone (e.g. Europe/Amsterdam)"
        ],
    ),
    "cycle without a time": (
        ('cycle: {monthly: second tuesday, at: "18:00"}', "cycle: {monthly: second tuesday}"),
        [
            "p.yaml:39:5: targets.0: give the slot's local time: cycle.at, or at: "
            "'cycle_release + 7d, 10:00'"
        ],
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_name_line_field_and_what_is_allowed(name: str) -> None:
    (old, new), expected = ERRORS[name]
    assert old in HOSTED
    assert errors_of(HOSTED.replace(old, new)) == expected


def test_blackout_errors() -> None:
    source = HOSTED + (
        "blackouts:\n"
        "  - {holidays: XX}\n"
        "  - {dates: {from: 2027-12-24}, yearly: {from: 12-24}}\n"
        "  - {ics: /etc/x.ics}\n"
        "windows:\n"
        "  nightly: {every: weekly on thursday}\n"
    )
    assert errors_of(source) == [
        "p.yaml:53:16: blackouts.0.holidays: public holidays: 'XX' is not a known "
        "country/subdivision (Country XX not available)",
        "p.yaml:54:5: blackouts.1: give exactly one of dates, yearly, holidays or ics (got "
        "dates, yearly)",
        "p.yaml:55:11: blackouts.2.ics: '/etc/x.ics': give a path relative to the policy file "
        "or calendars directory",
        "p.yaml:57:3: windows.nightly: window 'weekly on thursday': no start time (e.g. 'weekly "
        "on thursday 16:00-22:00', or from: '16:00' with to: '22:00')",
    ]


def test_timeline_errors() -> None:
    source = HOSTED + (
        "timeline:\n"
        "  - {at: -4w, task: Review, owners: [nobody]}\n"
        '  - {at: "-2w 10:00", task: X}\n'
        "  - {task: X}\n"
        "  - {at: -2w, send: {newsletter: [resellers]}}\n"
    )
    errors = errors_of(source)
    assert errors[0].startswith(
        "p.yaml:53:38: timeline.0.owners.0: unknown role 'nobody'; use a known role"
    )
    assert errors[1:] == [
        "p.yaml:54:10: timeline.1.at: calendar offset '-2w 10:00' is not understood: use a "
        "signed number of days or weeks: -4w, +7d, 0d, or a combination like +1w2d",
        "p.yaml:55:5: timeline.2: give exactly one of at (a calendar offset, e.g. -4w) or after",
        "p.yaml:56:35: timeline.3.send.newsletter.0: unknown audience 'resellers' (allowed: "
        "internal, customers)",
    ]


def test_window_name_anytime_is_reserved_and_target_names_unique() -> None:
    source = HOSTED + ("windows:\n  anytime: {every: daily 00:00-23:00}\n")
    source = source.replace(
        "    confirm: {after: verified, to: instance_contacts}\n",
        "    confirm: {after: verified, to: instance_contacts}\n"
        "  - {name: hosted, instances: {kind: staging}}\n",
    )
    assert errors_of(source) == [
        "p.yaml:52:12: targets.1.name: target 'hosted' is defined twice",
        "p.yaml:54:3: windows.anytime: 'anytime' is reserved (no window at all)",
    ]
