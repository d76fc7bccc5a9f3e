"""Validated shapes of the catalogue's JSON fields (contract overrides, windows, executors).

Each model here is strict (`extra="forbid"`): an unknown key is an error naming the key, so
a typo in an import file or an API body never silently drops a setting. Later issues extend
these models; keep every field optional with a safe default.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from releasedesk.catalog.choices import SUPPORTED_LOCALES, ContactRole, DocsResponsibility
from releasedesk.core.timeutil import is_valid_zone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SECRET_REF = re.compile(r"^(env:[A-Z_][A-Z0-9_]{0,99}|file:/[^\s]{1,500})$")
_email_validator = EmailValidator()


# --- plain validators shared by services, the importer and these schemas -----------------


def zone_error(value: Any) -> str | None:
    if not isinstance(value, str) or not is_valid_zone(value):
        return f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)"
    return None


def locale_error(value: Any) -> str | None:
    if value not in SUPPORTED_LOCALES:
        return f"{value!r} is not a supported locale (one of: {', '.join(SUPPORTED_LOCALES)})"
    return None


def email_error(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 254:
        return "is not a valid e-mail address"
    try:
        _email_validator(value)
    except DjangoValidationError:
        return f"{value!r} is not a valid e-mail address"
    return None


def roles_error(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        return "must be a list of role names"
    unknown = [r for r in value if r not in ContactRole.values]
    if unknown:
        return f"unknown role(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(ContactRole.values)})"
    if len(set(value)) != len(value):
        return "lists a role twice"
    return None


def pydantic_errors(exc: PydanticValidationError, prefix: str) -> dict[str, str]:
    """`{"prefix.loc": "message"}` for every error of a pydantic validation."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(
            str(p)
            for p in err.get("loc", ())
            if p not in ("simulated", "manual", "webhook", "command")
        )
        if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            loc = "kind"
        key = f"{prefix}.{loc}" if loc else prefix
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        fields.setdefault(key, msg)
    return fields


# --- schemas -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


def _check_zone(value: str | None) -> str | None:
    if value is not None and (err := zone_error(value)):
        raise ValueError(err)
    return value


class WindowOverride(_Strict):
    """An instance's (or contract's) own weekly window in local time, e.g. Thursday 16:00-22:00."""

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    from_: str = Field(alias="from", description="Local start HH:MM")
    to: str = Field(description="Local end HH:MM, after `from` on the same day")
    zone: str | None = Field(None, description="IANA zone; empty: the instance's or customer's")

    @field_validator("from_", "to")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time HH:MM (00:00-23:59)")
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @model_validator(mode="after")
    def _order(self) -> WindowOverride:
        if self.to <= self.from_:
            raise ValueError(f"the window must end after it starts ({self.from_} - {self.to})")
        return self


class ContractOverrides(_Strict):
    """What a customer's contract changes about the policy. The stricter of the two wins."""

    notice_lead_hours: int | None = Field(
        None,
        ge=0,
        le=24 * 90,
        description="At least this much notice (hours); never shortens the policy's",
    )
    window: WindowOverride | None = None
    feedback_every_weeks: int | None = Field(None, ge=1, le=52)
    max_consecutive_opt_outs: int | None = Field(None, ge=0, le=12)
    docs_responsibility: DocsResponsibility | None = None
    notes: str = Field("", max_length=2000)


class SimulatedExecutor(_Strict):
    kind: Literal["simulated"] = "simulated"
    duration_seconds: int = Field(5, ge=0, le=86_400)
    failure_rate: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False)


class ManualExecutor(_Strict):
    kind: Literal["manual"]
    instructions: str = Field("", max_length=4000)


class WebhookExecutor(_Strict):
    kind: Literal["webhook"]
    url: str = Field(max_length=500)
    secret_ref: str | None = Field(
        None, max_length=510, description="env:NAME or file:/path; never the secret itself"
    )
    timeout_seconds: int = Field(10, ge=1, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("secret_ref")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_REF.match(value):
            raise ValueError("must be env:NAME (an environment variable) or file:/path")
        return value


class CommandExecutor(_Strict):
    kind: Literal["command"]
    argv: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        min_length=1, max_length=64
    )
    timeout_seconds: int = Field(600, ge=1, le=86_400)


ExecutorSettings = Annotated[
    SimulatedExecutor | ManualExecutor | WebhookExecutor | CommandExecutor,
    Field(discriminator="kind"),
]
_executor_adapter: TypeAdapter[Any] = TypeAdapter(ExecutorSettings)


def validate_json_field(
    kind: Literal["contract_overrides", "window_override", "executor"], value: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """(normalised value, field errors). An empty mapping means "no override / the default"."""
    if value is None or value == {}:
        return {}, {}
    if not isinstance(value, dict):
        return {}, {kind: "must be a mapping"}
    if "\\u0000" in json.dumps(value, default=str):
        return {}, {kind: "must not contain NUL characters"}
    try:
        if kind == "contract_overrides":
            model: BaseModel = ContractOverrides.model_validate(value)
        elif kind == "window_override":
            model = WindowOverride.model_validate(value)
        else:
            if "kind" not in value:
                return {}, {f"{kind}.kind": "is required (simulated, manual, webhook or command)"}
            model = _executor_adapter.validate_python(value)
    except PydanticValidationError as exc:
        return {}, pydantic_errors(exc, kind)
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped, {}
