"""The planner's inputs and outputs: plain frozen dataclasses, no Django, no I/O.

Inputs (built from the database by `planning.snapshot`, or by hand in tests):

- `ReleaseSnapshot`   the release being planned (with its risk level and demands)
- `CatalogueSnapshot` instances, customers, contacts, subscriptions, products
- `Facts`             what has already happened: approvals, stage passes, consents,
                      notice deliveries, steps already done/failed/skipped (frozen),
                      staff freezes, other releases' slots, ICS calendar texts

Output: `Plan(steps, problems, warnings)` of `Step`s. A step's `key` is its identity,
not its time: `r{release}:i{instance}:upgrade` keeps its key when its slot moves (its
`due_at` changes); a notice's key names the slot's local date, so a moved date is a
new notice. All instants are aware UTC datetimes; `zone` says where a person reads it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from releasedesk.core.timeutil import format_local, to_local
from releasedesk.policies.schema import LevelDemands

__all__ = [
    "CatalogueSnapshot",
    "ChangeSnapshot",
    "ConsentDecision",
    "ConsentFact",
    "ContactSnapshot",
    "ContractTerms",
    "CustomerSnapshot",
    "Facts",
    "FreezeFact",
    "InstanceSnapshot",
    "OwnWindow",
    "Plan",
    "Problem",
    "ProductSnapshot",
    "ReleaseSnapshot",
    "SlotFact",
    "Step",
    "StepFact",
    "StepKind",
    "StepStatus",
    "SubscriptionSnapshot",
]


class StepKind:
    """The values of `releasedesk.timeline.models.StepKind`, duplicated so this package
    stays free of Django models (a test checks they match)."""

    STAGE_GATE = "stage_gate"
    NOTICE = "notice"
    REMINDER = "reminder"
    CONSENT_DEADLINE = "consent_deadline"
    UPGRADE = "upgrade"
    VERIFY = "verify"
    CONFIRM = "confirm"
    PUBLISH = "publish"
    SEND = "send"
    DIGEST = "digest"
    TASK = "task"
    HYPERCARE = "hypercare"

    ALL: tuple[str, ...] = (
        "stage_gate",
        "notice",
        "reminder",
        "consent_deadline",
        "upgrade",
        "verify",
        "confirm",
        "publish",
        "send",
        "digest",
        "task",
        "hypercare",
    )


StepStatus = Literal["planned", "frozen", "unmeetable", "superseded"]
ConsentDecision = Literal["approved", "opted_out", "postponed"]


# --- the release ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeSnapshot:
    kind: str  # releasedesk.policies.choices.ChangeKind value
    significant: bool = False
    reversible: bool = True
    title: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseSnapshot:
    """What the planner needs to know about the release.

    `level`/`demands` come from the current risk assessment; `demands=None` means "not
    assessed" (policies without a risk model then use their default level). `target_date`
    is the intended release date (T for timeline offsets; no slot before it).
    """

    id: int
    version: str
    target_date: dt.date
    product_ids: tuple[int, ...]
    kind: str = "regular"  # "regular" | "hotfix"
    hotfix_reason: str = ""  # performance | functional | security | operational
    level: str | None = None
    demands: LevelDemands | None = None
    changes: tuple[ChangeSnapshot, ...] = ()
    blackout_override_reason: str = ""  # a hotfix may go out in a blackout only with this
    urgent: bool = False  # use the notice's urgent_lead where the policy gives one
    title: str = ""

    @property
    def is_hotfix(self) -> bool:
        return self.kind == "hotfix"

    @property
    def any_change_significant(self) -> bool:
        return any(c.significant for c in self.changes)

    @property
    def change_kinds(self) -> frozenset[str]:
        return frozenset(c.kind for c in self.changes)


# --- the catalogue -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnWindow:
    """An instance's or a contract's own weekly window (catalog.schemas.WindowOverride)."""

    weekday: str  # "thursday"
    start: str  # "HH:MM" local
    end: str  # "HH:MM" local
    zone: str | None = None  # None: the instance's / customer's zone


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """A customer's contract overrides (catalog.schemas.ContractOverrides); stricter wins."""

    notice_lead: dt.timedelta | None = None
    window: OwnWindow | None = None
    max_consecutive_opt_outs: int | None = None
    docs_responsibility: str | None = None  # "vendor" | "customer"


@dataclass(frozen=True, slots=True)
class ProductSnapshot:
    id: int
    slug: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    id: int
    slug: str
    kind: str  # shared | dedicated | white_label | staging
    product_id: int
    owner_id: int | None = None
    zone: str = ""  # empty: the owner's zone, else the policy's
    ring: int = 0
    window: OwnWindow | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    id: int
    name: str
    kind: str = "direct"  # direct | oem_partner | reseller | hosted
    zone: str = "UTC"
    locale: str = "en"
    parent_id: int | None = None
    contract: ContractTerms = ContractTerms()
    slug: str = ""


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    id: int
    customer_id: int
    roles: tuple[str, ...] = ()
    locale: str = ""  # empty: the customer's
    zone: str = ""  # empty: the customer's
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    customer_id: int
    product_id: int
    instance_id: int


@dataclass(frozen=True)
class CatalogueSnapshot:
    """The catalogue as the planner sees it. Lookups are built once, lazily."""

    instances: tuple[InstanceSnapshot, ...] = ()
    customers: tuple[CustomerSnapshot, ...] = ()
    contacts: tuple[ContactSnapshot, ...] = ()
    subscriptions: tuple[SubscriptionSnapshot, ...] = ()
    products: tuple[ProductSnapshot, ...] = ()

    @cached_property
    def customer_by_id(self) -> dict[int, CustomerSnapshot]:
        return {c.id: c for c in self.customers}

    @cached_property
    def product_by_id(self) -> dict[int, ProductSnapshot]:
        return {p.id: p for p in self.products}

    @cached_property
    def contacts_by_customer(self) -> dict[int, tuple[ContactSnapshot, ...]]:
        grouped: dict[int, list[ContactSnapshot]] = {}
        for contact in self.contacts:
            grouped.setdefault(contact.customer_id, []).append(contact)
        return {k: tuple(sorted(v, key=lambda c: c.id)) for k, v in grouped.items()}

    @cached_property
    def subscribers_by_instance(self) -> dict[int, tuple[SubscriptionSnapshot, ...]]:
        grouped: dict[int, list[SubscriptionSnapshot]] = {}
        for sub in self.subscriptions:
            grouped.setdefault(sub.instance_id, []).append(sub)
        return {k: tuple(v) for k, v in grouped.items()}


# --- what already happened -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """A customer's decision for one target instance.

    `slot_date` is the local date of the slot the decision is about; None means "this
    release, whatever the slot" (an OEM's acceptance after testing). A decision counts
    when `received_at` is at or before that slot's deadline.
    """

    target: str
    instance_id: int
    decision: ConsentDecision
    received_at: dt.datetime
    slot_date: dt.date | None = None
    channel: str = ""  # portal | email | api | staff
    proposed_at: dt.datetime | None = None  # for "postponed": the customer's proposed start


@dataclass(frozen=True, slots=True)
class StepFact:
    """A step that has already been carried out (or failed, or was skipped): frozen.

    The planner returns it unchanged (status "frozen"), whatever the rules say now.
    """

    key: str
    state: str  # done | failed | skipped | running | ...
    due_at: dt.datetime
    finished_at: dt.datetime | None = None
    kind: str = ""
    label: str = ""
    zone: str = "UTC"
    target: str = ""
    instance_id: int | None = None
    customer_id: int | None = None
    audience: str = ""
    reason: str = ""
    ends_at: dt.datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FreezeFact:
    """A staff-declared global change freeze [start, end)."""

    start: dt.datetime
    end: dt.datetime
    reason: str = "change freeze"


@dataclass(frozen=True, slots=True)
class SlotFact:
    """Another release's upgrade slot on an instance (for conflicts and carry-over).

    `supersedes`: the other release is newer (a higher version of a product this release
    also ships), has passed its gates for this instance and — where the customer must accept
    — was accepted. An instance whose slot is at or after that upgrade receives the newer
    release instead (DESIGN.md §4b carry-over): this release's upgrade is superseded there.
    """

    release_id: int
    release_version: str
    instance_id: int
    start: dt.datetime
    end: dt.datetime | None = None
    supersedes: bool = False


FROZEN_STATES: frozenset[str] = frozenset(
    {"done", "failed", "skipped", "running", "missed", "cancelled"}
)


@dataclass(frozen=True)
class Facts:
    """A snapshot of what has already happened; the planner never moves the past.

    - `approvals_complete_at`: when the last required approval arrived (None: incomplete)
    - `stage_passes`: stage name -> passed_at
    - `consents`: decisions per (target, instance, slot)
    - `notices_delivered`: notice step key -> delivered_at (SMTP 250 time)
    - `steps`: step key -> StepFact; states in FROZEN_STATES are frozen
    - `freezes`: staff change freezes
    - `other_slots`: other releases' upgrade slots (conflicts on the same instance)
    - `calendars`: ICS texts by the name the policy uses (`ics: calendars/x.ics`)
    - `opt_out_streaks`: instance id -> consecutive opt-outs before this release
    - `release_completed_at`: for `after: release_completed` tasks
    """

    approvals_complete_at: dt.datetime | None = None
    stage_passes: Mapping[str, dt.datetime] = field(default_factory=dict)
    consents: tuple[ConsentFact, ...] = ()
    notices_delivered: Mapping[str, dt.datetime] = field(default_factory=dict)
    steps: Mapping[str, StepFact] = field(default_factory=dict)
    freezes: tuple[FreezeFact, ...] = ()
    other_slots: tuple[SlotFact, ...] = ()
    calendars: Mapping[str, str] = field(default_factory=dict)
    opt_out_streaks: Mapping[int, int] = field(default_factory=dict)
    release_completed_at: dt.datetime | None = None

    def frozen(self, key: str) -> StepFact | None:
        fact = self.steps.get(key)
        return fact if fact is not None and fact.state in FROZEN_STATES else None


# --- the output -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One thing that happens at a time, for someone, with the reason in words.

    - `due_at`: UTC instant the worker acts (a notice: when it is sent)
    - `zone`: the IANA zone the people concerned read it in (`local_due`, `local_text`)
    - `late_after`: the late cutoff (a notice: must be delivered by; an upgrade: the
      window's end); past it the step is missed, never run late silently
    - `ends_at`: the end of a period (hypercare) or of the upgrade window
    - `payload`: JSON-able details (contact ids, deadline, the event a step waits for …)
    - `status`: "planned", "frozen" (already happened; kept as it was), "unmeetable"
      (cannot be met; the reason says why) or "superseded" (an upgrade a newer release
      takes over on this instance; it will not run)
    """

    key: str
    kind: str
    due_at: dt.datetime
    zone: str
    label: str
    reason: str
    target: str = ""
    instance_id: int | None = None
    customer_id: int | None = None
    audience: str = ""
    ends_at: dt.datetime | None = None
    late_after: dt.datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    status: StepStatus = "planned"

    @property
    def local_due(self) -> dt.datetime:
        return to_local(self.due_at, self.zone)

    @property
    def local_text(self) -> str:
        """'2027-04-01 16:00 CEST (Europe/Amsterdam)'."""
        return format_local(self.due_at, self.zone)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (ISO instants in UTC, plus the local time)."""

        def iso(value: dt.datetime | None) -> str | None:
            return value.astimezone(dt.UTC).isoformat() if value is not None else None

        return {
            "key": self.key,
            "kind": self.kind,
            "status": self.status,
            "due_at": iso(self.due_at),
            "local_due": self.local_due.isoformat(),
            "zone": self.zone,
            "label": self.label,
            "reason": self.reason,
            "target": self.target,
            "instance_id": self.instance_id,
            "customer_id": self.customer_id,
            "audience": self.audience,
            "ends_at": iso(self.ends_at),
            "late_after": iso(self.late_after),
            "payload": dict(self.payload),
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the plan cannot do (severity "problem") or should be looked at ("warning").

    `code` is stable (e.g. "deadline_not_before_start", "slot_in_blackout",
    "conflict_other_release", "dst_gap_shift", "approvals_pending"); `key` names the step
    concerned, if any.
    """

    code: str
    message: str
    key: str | None = None
    severity: Literal["problem", "warning"] = "problem"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "key": self.key}


@dataclass(frozen=True, slots=True)
class Plan:
    """Every step (sorted by due_at, kind order, key), plus problems and warnings."""

    steps: tuple[Step, ...]
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def by_key(self) -> dict[str, Step]:
        return {s.key: s for s in self.steps}

    def of_kind(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]

    def for_instance(self, instance_id: int) -> list[Step]:
        return [s for s in self.steps if s.instance_id == instance_id]

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.as_dict() for s in self.steps],
            "problems": [p.as_dict() for p in self.problems],
            "warnings": [w.as_dict() for w in self.warnings],
        }
