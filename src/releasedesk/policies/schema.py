"""The policy document: what a vendor's release process says, as validated data.

A policy is written as YAML (see examples/policies/ and docs/policies.md), parsed by
`policies.loader` and validated by these pydantic models. Unknown keys are errors
(`extra="forbid"`), so a typo never silently drops a rule.

Cross-field rules (a level named in the matrix must be defined, roles must be known,
…) are computed by `PolicyDocument.issues()`, each with the path of the offending
value, so the loader can point at its line and column. Plain
`PolicyDocument.model_validate()` raises on them too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from releasedesk.accounts.choices import DEFAULT_ROLES
from releasedesk.core.timeutil import is_valid_zone
from releasedesk.policies._base import DURATION_HELP as DURATION_HELP
from releasedesk.policies._base import Duration, Identifier, Slug, Strict
from releasedesk.policies._base import format_duration as format_duration
from releasedesk.policies._base import parse_duration as parse_duration
from releasedesk.policies.choices import DEFAULT_LEVEL_ORDER, ChangeKind, HotfixReason
from releasedesk.policies.timeschema import (
    RECIPIENTS,
    BlackoutSpec,
    DocumentationSpec,
    PublicationSpec,
    StageSpec,
    TargetSpec,
    TimelineEntry,
    WindowSpec,
    is_recipient,
)

TierName = Literal["internal", "partner", "public"]
KNOWN_ROLES: tuple[str, ...] = tuple(slug for slug, _ in DEFAULT_ROLES)
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class PolicyIssue:
    """One problem in a policy, at the path of the offending value."""

    loc: Loc
    message: str
    allowed: tuple[str, ...] = field(default=())

    @property
    def path(self) -> str:
        return ".".join(str(p) for p in self.loc) or "(document)"


# --- building blocks -------------------------------------------------------------------


class ApprovalRequirement(Strict):
    """`cto` (shorthand, one approval) or `{role: cto, count: 2}`."""

    role: Identifier
    count: int = Field(1, ge=1, le=10)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"role": data}
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        return {"anyOf": [{"type": "string", "description": "A role slug (one approval)."}, schema]}


class AfterwardsSpec(Strict):
    """Tell an audience after the release went out (e.g. after a hotfix)."""

    to: Identifier


class NoticeSpec(Strict):
    """Advance notice: delivered at least `lead` before the start (absolute duration)."""

    lead: Duration
    to: Identifier | None = None
    urgent_lead: Duration | None = None
    margin: Duration = dt.timedelta(hours=1)
    afterwards: AfterwardsSpec | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.lead > dt.timedelta(0) and not self.to:
            raise ValueError("a notice with a lead needs `to` (who receives it)")
        if self.urgent_lead is not None and self.urgent_lead > self.lead:
            raise ValueError("urgent_lead cannot be longer than lead")
        return self


class LevelDemands(Strict):
    """What a risk level (or the default level) demands of a release."""

    releasable: bool = True
    advice: str = Field("", max_length=500)
    window: Identifier = "anytime"
    approvals: list[ApprovalRequirement] = []
    notice: NoticeSpec | None = None
    verification: list[Identifier] = []

    def approval_roles(self) -> list[str]:
        return [a.role for a in self.approvals]


class FloorCondition(Strict):
    change_kind: ChangeKind | None = None
    flag: Literal["significant", "irreversible"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.change_kind is None) == (self.flag is None):
            raise ValueError("give exactly one of change_kind or flag")
        return self

    def describe(self) -> str:
        if self.change_kind is not None:
            return f"a {self.change_kind.label.lower()} change"
        return f"a change marked {self.flag}"


class Floor(Strict):
    """A condition on the change items that raises the level to at least `at_least`."""

    when: FloorCondition
    at_least: Identifier
    notice: NoticeSpec | None = None
    reason: str = Field(min_length=1, max_length=500)


def _check_rows(keys: set[int]) -> None:
    wanted = {1, 2, 3, 4, 5}
    if keys != wanted:
        missing = ", ".join(str(k) for k in sorted(wanted - keys))
        extra = ", ".join(str(k) for k in sorted(keys - wanted))
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
        detail = "; ".join(p for p in parts if p)
        raise ValueError(f"the matrix needs exactly the impact rows 1, 2, 3, 4, 5 ({detail})")


class RiskModel(Strict):
    """impact 1..5 (rows) x likelihood 1..5 (columns) → level name."""

    matrix: dict[int, Annotated[list[Identifier], Field(min_length=5, max_length=5)]]
    floors: list[Floor] = []
    order: list[Identifier] = list(DEFAULT_LEVEL_ORDER)

    @field_validator("matrix")
    @classmethod
    def _five_rows(cls, value: dict[int, list[str]]) -> dict[int, list[str]]:
        _check_rows(set(value))
        return dict(sorted(value.items()))

    def cell(self, impact: int, likelihood: int) -> str:
        return self.matrix[impact][likelihood - 1]


class HotfixLane(Strict):
    """The hotfix lane: which reasons qualify and what it waives or replaces."""

    reasons: list[HotfixReason] = list(HotfixReason)
    window: Identifier = "anytime"
    waives: list[Literal["window", "notice", "blackouts"]] = []
    notice: NoticeSpec | None = None
    approvers: list[ApprovalRequirement] | None = None


class ReleaseNotesSpec(Strict):
    audiences: list[Identifier] = Field(min_length=1)
    locales: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]] = ["en"]


def _parse_horizon(value: object) -> object:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(releases?)?\s*", value)
        if match:
            return int(match.group(1))
    return value


class RoadmapShare(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    with_: Identifier = Field(alias="with")
    horizon: Annotated[int, BeforeValidator(_parse_horizon), Field(ge=1, le=20)] = 2


class RoadmapSpec(Strict):
    visibility: TierName = "internal"
    approved_phrases: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = []
    share: RoadmapShare | None = None


Every = Annotated[str, StringConstraints(pattern=r"^[1-9]\d* (day|week|month)s?$")]


class FeedbackRound(Strict):
    every: Every
    to: Identifier


class FeedbackSpec(Strict):
    rounds: list[FeedbackRound] = []
    duplicates: Literal["merge_as_vote", "keep_separate"] = "merge_as_vote"


class VerificationSpec(Strict):
    after: list[Identifier] = []
    on_failure: Literal["revert_release", "pause_release", "alert"] = "revert_release"


# --- the document ----------------------------------------------------------------------


class PolicyDocument(Strict):
    """A whole policy. See docs/policies.md for the reference and examples."""

    policy: Slug
    zone: str = Field(max_length=64)
    description: str = Field("", max_length=2000)
    audiences: dict[Identifier, TierName] = {"internal": "internal"}
    roles: list[Identifier] | None = None
    risk: RiskModel | None = None
    default_level: Identifier | None = None
    levels: dict[Identifier, LevelDemands] = Field(min_length=1)
    hotfix: HotfixLane | None = None
    release_notes: ReleaseNotesSpec | None = None
    roadmap: RoadmapSpec | None = None
    feedback: FeedbackSpec | None = None
    verification: VerificationSpec | None = None
    # --- time sections (docs/policies.md "Time sections") ---
    windows: dict[Identifier, WindowSpec] = {}
    blackouts: list[BlackoutSpec] = []
    stages: list[StageSpec] = []
    targets: list[TargetSpec] = []
    timeline: list[TimelineEntry] = []
    publication: list[PublicationSpec] = []
    documentation: DocumentationSpec | None = None

    @field_validator("zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        if not is_valid_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)")
        return value

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Self:
        # The loader asks to collect the issues itself so it can place each one.
        if isinstance(info.context, dict) and info.context.get("defer_issues"):
            return self
        issues = self.issues()
        if issues:
            raise ValueError("; ".join(f"{i.path}: {i.message}" for i in issues))
        return self

    # -- helpers other apps use (they hide where levels live) --

    def level_order(self) -> list[str]:
        """Level names from lowest to highest."""
        if self.risk is None:
            return list(self.levels)
        return [name for name in self.risk.order if name in self.levels]

    def demands_for(self, level: str) -> LevelDemands:
        return self.levels[level]

    def known_roles(self) -> tuple[str, ...]:
        return KNOWN_ROLES + tuple(r for r in (self.roles or []) if r not in KNOWN_ROLES)

    def tier_of(self, audience: str) -> str:
        return self.audiences[audience]

    # -- cross-field rules --

    def issues(self) -> list[PolicyIssue]:
        return semantic_issues(self.model_dump(mode="json", by_alias=True))


def _as_dict(value: object) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _role_of(item: object) -> str | None:
    if isinstance(item, str):
        return item
    role = _as_dict(item).get("role")
    return role if isinstance(role, str) else None


def semantic_issues(data: dict[str, Any]) -> list[PolicyIssue]:
    """The cross-field rules, on raw (possibly otherwise invalid) data, so the loader can
    report them together with the schema errors. Values of the wrong type are skipped:
    the schema reports those."""
    found: list[PolicyIssue] = []
    levels = _as_dict(data.get("levels"))
    defined = tuple(str(k) for k in levels)
    declared = [r for r in _as_list(data.get("roles")) if isinstance(r, str)]
    roles = KNOWN_ROLES + tuple(r for r in declared if r not in KNOWN_ROLES)
    risk = data.get("risk")

    def need_level(loc: Loc, name: object, *, order: list[str] | None = None) -> None:
        if not isinstance(name, str):
            return
        if name not in levels:
            found.append(PolicyIssue(loc, f"level {name!r} is not defined in levels", defined))
        elif order is not None and name not in order:
            found.append(
                PolicyIssue(loc, f"level {name!r} is not listed in risk.order", tuple(order))
            )

    def need_roles(loc: Loc, approvals: object) -> None:
        for i, item in enumerate(_as_list(approvals)):
            role = _role_of(item)
            if role is not None and role not in roles:
                found.append(
                    PolicyIssue(
                        (*loc, i),
                        f"unknown role {role!r}; use a known role or declare it under roles",
                        roles,
                    )
                )

    default_level = data.get("default_level")
    if risk is None and default_level is None:
        found.append(
            PolicyIssue(("default_level",), "required when the policy has no risk model", defined)
        )
    if default_level is not None:
        need_level(("default_level",), default_level)
    if isinstance(risk, dict):
        # Names in `order` that no level defines are harmless (the default order lists all
        # five); a level used in the matrix or a floor must be both defined and ordered.
        order = [
            o for o in _as_list(risk.get("order", list(DEFAULT_LEVEL_ORDER))) if isinstance(o, str)
        ]
        seen: set[str] = set()
        for i, name in enumerate(order):
            if name in seen:
                found.append(PolicyIssue(("risk", "order", i), f"level {name!r} is listed twice"))
            seen.add(name)
        matrix = risk.get("matrix")
        if isinstance(matrix, dict):
            try:
                _check_rows({int(k) for k in matrix})
            except (ValueError, TypeError) as exc:
                found.append(PolicyIssue(("risk", "matrix"), str(exc)))
        for impact, row in _as_dict(matrix).items():
            for j, name in enumerate(_as_list(row)):
                need_level(("risk", "matrix", impact, j), name, order=order)
        for i, floor in enumerate(_as_list(risk.get("floors"))):
            need_level(
                ("risk", "floors", i, "at_least"), _as_dict(floor).get("at_least"), order=order
            )
    for name, demands in levels.items():
        need_roles(("levels", name, "approvals"), _as_dict(demands).get("approvals"))
    need_roles(("hotfix", "approvers"), _as_dict(data.get("hotfix")).get("approvers"))
    audiences = _as_dict(data.get("audiences", {"internal": "internal"}))
    names = tuple(str(a) for a in audiences)
    for i, aud in enumerate(_as_list(_as_dict(data.get("release_notes")).get("audiences"))):
        if isinstance(aud, str) and aud not in audiences:
            found.append(
                PolicyIssue(("release_notes", "audiences", i), f"unknown audience {aud!r}", names)
            )
    share_with = _as_dict(_as_dict(data.get("roadmap")).get("share")).get("with")
    if isinstance(share_with, str) and share_with not in audiences:
        found.append(
            PolicyIssue(("roadmap", "share", "with"), f"unknown audience {share_with!r}", names)
        )
    found += _time_issues(data, roles=roles, audiences=names)
    return found


def _time_issues(
    data: dict[str, Any], *, roles: tuple[str, ...], audiences: tuple[str, ...]
) -> list[PolicyIssue]:
    """Cross-references of the time sections: window names, roles, audiences, recipients,
    unique names."""
    found: list[PolicyIssue] = []
    windows = _as_dict(data.get("windows"))
    window_names = ("anytime", *(str(w) for w in windows if w != "anytime"))
    if "anytime" in windows:
        found.append(
            PolicyIssue(("windows", "anytime"), "'anytime' is reserved (no window at all)")
        )

    def need_window(loc: Loc, name: object) -> None:
        if isinstance(name, str) and name not in window_names:
            found.append(
                PolicyIssue(loc, f"window {name!r} is not defined in windows", window_names)
            )

    def need_audience(loc: Loc, name: object) -> None:
        if isinstance(name, str) and name not in audiences:
            found.append(PolicyIssue(loc, f"unknown audience {name!r}", audiences))

    def need_recipient(loc: Loc, name: object) -> None:
        if isinstance(name, str) and not is_recipient(name):
            found.append(
                PolicyIssue(
                    loc,
                    f"unknown recipients {name!r}; use one of these or role:<slug> / team:<slug>",
                    RECIPIENTS,
                )
            )

    def need_role(loc: Loc, role: object) -> None:
        if isinstance(role, str) and role not in roles:
            found.append(
                PolicyIssue(
                    loc, f"unknown role {role!r}; use a known role or declare it under roles", roles
                )
            )

    for name, demands in _as_dict(data.get("levels")).items():
        demands = _as_dict(demands)
        if "window" in demands:
            need_window(("levels", name, "window"), demands.get("window"))
        notice = _as_dict(demands.get("notice"))
        need_recipient(("levels", name, "notice", "to"), notice.get("to"))
    hotfix = _as_dict(data.get("hotfix"))
    if "window" in hotfix:
        need_window(("hotfix", "window"), hotfix.get("window"))
    afterwards = _as_dict(_as_dict(hotfix.get("notice")).get("afterwards"))
    need_recipient(("hotfix", "notice", "afterwards", "to"), afterwards.get("to"))
    for i, floor in enumerate(_as_list(_as_dict(data.get("risk")).get("floors"))):
        notice = _as_dict(_as_dict(floor).get("notice"))
        need_recipient(("risk", "floors", i, "notice", "to"), notice.get("to"))

    seen_targets: set[str] = set()
    for i, target in enumerate(_as_list(data.get("targets"))):
        target = _as_dict(target)
        loc: Loc = ("targets", i)
        name = target.get("name")
        if isinstance(name, str):
            if name in seen_targets:
                found.append(PolicyIssue((*loc, "name"), f"target {name!r} is defined twice"))
            seen_targets.add(name)
        if "window" in target:
            need_window((*loc, "window"), target.get("window"))
        need_recipient((*loc, "notice", "to"), _as_dict(target.get("notice")).get("to"))
        need_recipient((*loc, "consent", "by"), _as_dict(target.get("consent")).get("by"))
        need_recipient((*loc, "confirm", "to"), _as_dict(target.get("confirm")).get("to"))
        for j, message in enumerate(_as_list(target.get("messages"))):
            message = _as_dict(message)
            need_recipient((*loc, "messages", j, "to"), message.get("to"))
            need_audience((*loc, "messages", j, "notes"), message.get("notes"))

    seen_stages: set[str] = set()
    for i, stage in enumerate(_as_list(data.get("stages"))):
        stage = _as_dict(stage)
        name = stage.get("name")
        if isinstance(name, str):
            if name in seen_stages:
                found.append(PolicyIssue(("stages", i, "name"), f"stage {name!r} is defined twice"))
            seen_stages.add(name)
        need_role(("stages", i, "approval"), stage.get("approval"))

    for i, entry in enumerate(_as_list(data.get("timeline"))):
        entry = _as_dict(entry)
        for j, owner in enumerate(_as_list(entry.get("owners"))):
            need_role(("timeline", i, "owners", j), owner)
        need_audience(
            ("timeline", i, "publish", "notes"), _as_dict(entry.get("publish")).get("notes")
        )
        for j, aud in enumerate(_as_list(_as_dict(entry.get("send")).get("newsletter"))):
            need_audience(("timeline", i, "send", "newsletter", j), aud)
    for i, pub in enumerate(_as_list(data.get("publication"))):
        need_audience(("publication", i, "audience"), _as_dict(pub).get("audience"))
    documentation = _as_dict(data.get("documentation"))
    need_role(("documentation", "team"), documentation.get("team"))
    need_audience(("documentation", "notes"), documentation.get("notes"))
    return found


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, for editors (yaml-language-server) and the API."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ReleaseDesk policy"
    return schema
