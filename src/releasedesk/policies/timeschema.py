"""The time sections of a policy: windows, blackouts, cycles, targets, stages, timeline,
publication and documentation (issue 4; docs/policies.md "Time sections").

Every readable time rule is parsed here with the pure time layer
(`releasedesk.scheduling`), so a policy that validates is a policy the planner can run.
Two kinds of "how long" are kept apart by type (DESIGN.md §4):

- `Duration` (absolute; `lead`, `margin`, `late_after`, reminders): "48h", "7d", "0";
- `Offset` (calendar; `at` of timeline entries, `lasts` of stages, hypercare `from`/
  `until`): "-4w", "+7d", "0d" — moves the local date and keeps the local time.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from releasedesk.core.timeutil import is_valid_zone
from releasedesk.policies._base import Duration, Identifier, Slug, Strict
from releasedesk.scheduling.blackouts import PublicHolidays, YearlyDates
from releasedesk.scheduling.cadence import Cadence, CycleOffset, parse_cadence, parse_cycle_offset
from releasedesk.scheduling.deadlines import DeadlineRule, parse_deadline
from releasedesk.scheduling.durations import CalendarOffset, parse_calendar_offset
from releasedesk.scheduling.durations import Duration as AbsoluteDuration
from releasedesk.scheduling.windows import WindowRule, parse_window

# --- small types -------------------------------------------------------------------------


def _offset(value: object) -> CalendarOffset:
    if isinstance(value, CalendarOffset):
        return value
    if isinstance(value, int | str):
        return parse_calendar_offset(value)
    raise ValueError(f"{value!r} is not a calendar offset (use e.g. -4w, +7d, 0d)")


Offset = Annotated[
    CalendarOffset,
    PlainValidator(_offset),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[+-]?\s*(\d+\s*[wd]\s*)+$"},
                {"type": "integer", "const": 0},
            ],
            "description": "A calendar offset (moves the local date, keeps the local time): "
            "-4w, +7d, 0d.",
        }
    ),
]

ClockTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01]?\d|2[0-3]):[0-5]\d$"),
    Field(description="A local time of day, HH:MM."),
]

EndTime = Annotated[
    str,
    StringConstraints(pattern=r"^(([01]?\d|2[0-3]):[0-5]\d|24:00)$"),
    Field(description="A local end time, HH:MM; 24:00 is midnight at the end of the day."),
]

ZoneName = Annotated[str, StringConstraints(max_length=64)]

_ZONE_HELP = "an IANA time zone (e.g. Europe/Amsterdam)"


def _check_zone(value: str | None, *, allowed: tuple[str, ...] = ()) -> str | None:
    if value is None or value in allowed:
        return value
    if not is_valid_zone(value):
        extra = f"{', '.join(allowed)} or " if allowed else ""
        raise ValueError(f"{value!r} is not {extra}{_ZONE_HELP}")
    return value


# Who receives a notice/message: computed from the catalogue (outbox.audiences has the
# same names), or the vendor's staff by role/team.
RECIPIENTS: tuple[str, ...] = (
    "affected_org_admins",
    "instance_contacts",
    "oem_partner_contacts",
    "resellers",
    "resellers_and_customers",
    "customers",
    "internal",
)
_STAFF = re.compile(r"^(role|team):[a-z][a-z0-9_-]*$")


def is_recipient(name: str) -> bool:
    return name in RECIPIENTS or bool(_STAFF.match(name))


Recipient = Annotated[str, StringConstraints(max_length=80)]

# --- windows -----------------------------------------------------------------------------


class WindowSpec(Strict):
    """A recurring window: `{every: weekly on thursday, from: "16:00", to: "22:00"}`, the
    times in the text (`every: weekly on thursday 16:00-22:00`) or a raw RRULE
    (`{rrule: "RRULE:FREQ=WEEKLY;BYDAY=TH", from: "16:00", to: "22:00"}`).
    `zone` defaults to the target's zone (instance, else customer, else policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    every: str | None = Field(None, max_length=300)
    rrule: str | None = Field(None, max_length=1000)
    from_: ClockTime | None = Field(None, alias="from")
    to: EndTime | None = None
    zone: ZoneName | None = None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @model_validator(mode="after")
    def _parses(self) -> Self:
        if (self.every is None) == (self.rrule is None):
            raise ValueError("give exactly one of `every` (readable) or `rrule` (raw RRULE)")
        self.rule()
        return self

    def rule(self) -> WindowRule:
        text = self.every if self.every is not None else self.rrule
        assert text is not None
        return parse_window(text, start=self.from_, end=self.to)


# --- blackouts ---------------------------------------------------------------------------


class DateRange(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date | None = None

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"ends {self.to} before it starts {self.from_}")
        return self


MonthDay = Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{2}$")]


class YearlyRange(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: MonthDay = Field(alias="from")
    to: MonthDay | None = None

    @model_validator(mode="after")
    def _dates(self) -> Self:
        YearlyDates(self.from_, self.to or self.from_, "UTC", "check")
        return self


class HolidaySpec(Strict):
    """Public holidays from the `holidays` package: `{country: CH, subdiv: ZH}` or `NL`."""

    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")]
    subdiv: Annotated[str, StringConstraints(max_length=10)] | None = None
    language: Annotated[str, StringConstraints(max_length=10)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"country": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _known(self) -> Self:
        PublicHolidays(self.country, "UTC", self.subdiv, self.language)
        return self


class BlackoutSpec(Strict):
    """One of `dates`, `yearly`, `holidays` or `ics` (a path relative to the policy file or
    the configured calendars directory). Local dates are read in `zone` (default: the
    policy's)."""

    dates: DateRange | None = None
    yearly: YearlyRange | None = None
    holidays: HolidaySpec | None = None
    ics: Annotated[str, StringConstraints(pattern=r"^[\w./-]+\.ics$", max_length=300)] | None = None
    reason: str = Field("", max_length=300)
    zone: ZoneName | None = None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @field_validator("ics")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError(
                f"{value!r}: give a path relative to the policy file or calendars directory"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [n for n in ("dates", "yearly", "holidays", "ics") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of dates, yearly, holidays or ics"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


# --- cycles ------------------------------------------------------------------------------

_EVERY_WEEKS = re.compile(r"^\s*(\d+)\s*weeks?\s*$")


class CycleSpec(Strict):
    """A cadence of cycle (release) dates, fixed by the policy:

    `{every: 2 weeks, on: wednesday, from: 2027-01-06}`, `{monthly: second tuesday}`,
    `{monthly: day 15}`, or `{rule: "DTSTART:20270106\\nRRULE:FREQ=WEEKLY;INTERVAL=2"}`;
    `at` is the cycle's local time (the slot when the target gives no time)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    every: str | None = Field(None, max_length=40)
    on: str | None = Field(None, max_length=20)
    from_: dt.date | None = Field(None, alias="from")
    monthly: str | None = Field(None, max_length=40)
    rule: str | None = Field(None, max_length=1000)
    at: ClockTime | None = None

    @model_validator(mode="after")
    def _parses(self) -> Self:
        forms = [n for n in ("every", "monthly", "rule") if getattr(self, n) is not None]
        if len(forms) != 1:
            raise ValueError("give exactly one of every (+ on, from), monthly or rule")
        if self.every is not None and self.on is None:
            raise ValueError("`every` needs `on` (the weekday), e.g. on: wednesday")
        if self.every is None and (self.on is not None or self.from_ is not None):
            raise ValueError("`on` and `from` belong with `every: N weeks`")
        self.cadence()
        return self

    def text(self) -> str:
        if self.every is not None:
            match = _EVERY_WEEKS.match(self.every)
            if not match:
                raise ValueError(f"every {self.every!r}: use 'N weeks', e.g. 2 weeks")
            anchor = f" from {self.from_.isoformat()}" if self.from_ else ""
            return f"every {int(match.group(1))} weeks on {self.on}{anchor}"
        if self.monthly is not None:
            return f"monthly on {self.monthly}"
        assert self.rule is not None
        return self.rule

    def cadence(self) -> Cadence:
        return parse_cadence(self.text())


# --- targets -----------------------------------------------------------------------------

InstanceKindName = Literal["shared", "dedicated", "white_label", "staging"]


class InstanceSelector(Strict):
    """Which instances a target covers (all conditions must hold)."""

    kind: InstanceKindName | None = None
    ring: int | None = Field(None, ge=0, le=100)
    product: Slug | None = None
    instances: list[Slug] | None = None


class NoticeRef(Strict):
    """Advance notice: delivered at least `lead` (absolute) before the start; sent `margin`
    earlier. A customer contract may ask for longer (the longer wins)."""

    lead: Duration
    to: Recipient
    urgent_lead: Duration | None = None
    margin: Duration = dt.timedelta(hours=1)


class OptOutAllowed(Strict):
    """Whether a hotfix (or a security hotfix) may be opted out of; the notice says so."""

    hotfix: bool = True
    security: bool = True


def _reminder(value: object) -> object:
    if isinstance(value, str):
        text = " ".join(value.split()).lower()
        match = re.fullmatch(r"(.+?)(?:\s+before(?:\s+(?:the\s+)?deadline)?)?", text)
        if not match:
            raise ValueError(f"reminder {value!r}: use e.g. '2d before deadline' or '48h'")
        return match.group(1)
    return value


class ConsentSpec(Strict):
    """The customer's say: `opt_out` (silence proceeds) or `approve` (silence waits).

    `deadline` is read in `zone` on the slot's local date ("13:00 on upgrade day",
    "17:00 previous working day", "48h before"); `zone: slot` (default) is the slot's
    zone, `policy` the policy's, or an IANA name."""

    mode: Literal["opt_out", "approve"]
    by: Recipient | None = None
    deadline: str = Field(max_length=100)
    zone: ZoneName = "slot"
    silence: Literal["proceed", "wait"] | None = None
    otherwise: Literal["next_cycle", "skip"] = "next_cycle"
    on_opt_out: Literal["next_cycle", "skip"] = "next_cycle"
    reminder: Duration | None = None
    max_consecutive_opt_outs: int | None = Field(None, ge=0, le=12)
    opt_out_allowed: OptOutAllowed = OptOutAllowed()

    @field_validator("reminder", mode="before")
    @classmethod
    def _reminder_text(cls, value: object) -> object:
        return _reminder(value)

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        parse_deadline(value)
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _check_zone(value, allowed=("slot", "policy"))
        return value

    @property
    def effective_silence(self) -> Literal["proceed", "wait"]:
        if self.silence is not None:
            return self.silence
        return "proceed" if self.mode == "opt_out" else "wait"

    def deadline_rule(self) -> DeadlineRule:
        return parse_deadline(self.deadline)

    def reminder_before(self) -> AbsoluteDuration | None:
        return AbsoluteDuration(self.reminder) if self.reminder is not None else None


class ConfirmSpec(Strict):
    after: Literal["verified", "upgraded"] = "verified"
    to: Recipient


class MessageSpec(Strict):
    """E.g. release notes to OEM partner contacts on the release day."""

    notes: Identifier  # the audience whose notes are sent
    to: Recipient
    at: Literal["release_day"] = "release_day"


SLOT_FORMS = "release_slot, or a cycle offset such as 'cycle_release + 7d, 10:00'"


class TargetSpec(Strict):
    """Which instances are upgraded when, with which notice and consent.

    `at`: `release_slot` (the level's window after the notice lead; the default without a
    cycle) or a slot relative to the cycle date (`cycle_release + 7d, 10:00`; the default
    with a cycle is the cycle date at `cycle.at`). `zone`: `instance` (default: the
    instance's, else its owner's, else the policy's), `policy`, or an IANA name."""

    name: Slug
    instances: InstanceSelector = InstanceSelector()
    at: str | None = Field(None, max_length=100)
    cycle: CycleSpec | None = None
    window: Identifier | None = None
    zone: ZoneName = "instance"
    notice: NoticeRef | None = None
    consent: ConsentSpec | None = None
    confirm: ConfirmSpec | None = None
    messages: list[MessageSpec] = []
    late_after: Duration | None = None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _check_zone(value, allowed=("instance", "policy"))
        return value

    @model_validator(mode="after")
    def _slot(self) -> Self:
        at = (self.at or "").strip()
        if self.cycle is None:
            if at and at != "release_slot":
                raise ValueError(f"at {self.at!r}: a slot relative to a cycle needs `cycle`")
            if self.consent is not None and self.consent.mode == "approve":
                pass  # acceptance on a release slot: the deadline is relative to that slot
        else:
            if at == "release_slot":
                raise ValueError(
                    "a target with a cycle takes its slot from the cycle, not release_slot"
                )
            if not at and self.cycle.at is None:
                raise ValueError(
                    "give the slot's local time: cycle.at, or at: 'cycle_release + 7d, 10:00'"
                )
            self.cycle_offset()
        return self

    def cycle_offset(self) -> CycleOffset:
        assert self.cycle is not None
        return parse_cycle_offset(self.at or "cycle_release", default_time=self.cycle.at)

    @property
    def uses_release_slot(self) -> bool:
        return self.cycle is None


# --- stages, timeline, publication, documentation ----------------------------------------


class StageSpec(Strict):
    """A stage that must pass before the steps it gates (e.g. service acceptance, planned
    at 14 days from the release date, passed by a change-management approval)."""

    name: Identifier
    lasts: Offset
    approval: Identifier
    gates: Literal["customers", "everything"] = "customers"


class PublishSpec(Strict):
    channel: Identifier
    notes: Identifier  # audience


class SendSpec(Strict):
    newsletter: list[Identifier] = Field(min_length=1)  # audiences


class HypercareSpec(Strict):
    """A period of whole local days around the release date; `until` is inclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: Offset = Field(alias="from")
    until: Offset
    note: str = Field("", max_length=300)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.until.days < self.from_.days:
            raise ValueError(f"until {self.until} is before from {self.from_}")
        return self


TimelineCondition = Literal[
    "any_change_significant", "any_change_irreversible", "hotfix", "regular"
]


class TimelineEntry(Strict):
    """One entry of the communication timeline, at a calendar offset from the release date
    (`at: -4w`, optional `time`, default 17:00 in the policy zone) or on an event
    (`after: release_completed`); optionally only `when` a condition holds."""

    at: Offset | None = None
    time: ClockTime | None = None
    after: Literal["release_completed"] | None = None
    when: TimelineCondition | None = None
    task: str | None = Field(None, min_length=1, max_length=300)
    owners: list[Identifier] = []
    publish: PublishSpec | None = None
    send: SendSpec | None = None
    hypercare: HypercareSpec | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        what = [n for n in ("task", "publish", "send", "hypercare") if getattr(self, n) is not None]
        if len(what) != 1:
            raise ValueError(
                "give exactly one of task, publish, send or hypercare"
                + (f" (got {', '.join(what)})" if what else "")
            )
        if self.hypercare is not None:
            if self.at is not None or self.after is not None:
                raise ValueError("hypercare has its own from/until; leave out at/after")
        elif (self.at is None) == (self.after is None):
            raise ValueError("give exactly one of at (a calendar offset, e.g. -4w) or after")
        if self.after is not None and self.time is not None:
            raise ValueError("`time` goes with `at`, not with `after`")
        if self.owners and self.task is None:
            raise ValueError("`owners` belong to a task")
        return self

    @property
    def what(self) -> str:
        for name in ("task", "publish", "send", "hypercare"):
            if getattr(self, name) is not None:
                return name
        return "task"


class PublicationSpec(Strict):
    """A periodic publication, e.g. the 4-weekly release-notes digest to the docs portal."""

    digest: CycleSpec
    channel: Identifier
    audience: Identifier

    @model_validator(mode="after")
    def _time(self) -> Self:
        if self.digest.at is None:
            raise ValueError("give the digest's local time: digest.at, e.g. '10:00'")
        return self


class DocumentationSpec(Strict):
    """Who updates white-label documentation: the vendor (a task for `team`), the customer
    (a notice with the notes), or per customer (the contract's docs_responsibility)."""

    white_label: Literal["vendor", "customer", "per_customer"] = "per_customer"
    team: Identifier = "docs"
    notes: Identifier | None = None  # the audience whose notes the OEM receives
