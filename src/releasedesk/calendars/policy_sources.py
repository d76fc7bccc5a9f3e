"""Windows, blackouts and cycles of the policies, read from their stored documents.

The calendar reads each policy's latest version (`PolicyVersion.document`, the validated
policy as JSON) and turns its time sections into the `releasedesk.scheduling` primitives.
It reads the JSON shape (not the pydantic classes), so the calendar keeps working while the
schema grows; an entry that cannot be read becomes a `problem` shown on the calendar instead
of a crash (a validated policy never has one, but an ICS file can go missing).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from releasedesk.core.timeutil import UnknownTimeZone, combine_local, get_zone
from releasedesk.planning.snapshot import calendars_dirs
from releasedesk.policies.models import PolicyVersion
from releasedesk.scheduling._grammar import TimeRuleError
from releasedesk.scheduling.blackouts import (
    BlackoutSource,
    FixedDates,
    IcsBlackouts,
    PublicHolidays,
    YearlyDates,
)
from releasedesk.scheduling.cadence import Cadence, parse_cadence
from releasedesk.scheduling.windows import WindowRule, parse_window

_EVERY_WEEKS = re.compile(r"^\s*(\d+)\s*weeks?\s*$")


@dataclass(frozen=True, slots=True)
class NamedWindow:
    policy: str
    name: str
    rule: WindowRule
    zone: str


@dataclass(frozen=True, slots=True)
class NamedBlackouts:
    policy: str
    label: str
    source: BlackoutSource
    zone: str


@dataclass(frozen=True, slots=True)
class NamedCycle:
    policy: str
    target: str
    cadence: Cadence
    zone: str
    at: dt.time | None

    def instant(self, day: dt.date) -> dt.datetime | None:
        return combine_local(day, self.at, self.zone) if self.at is not None else None


@dataclass(slots=True)
class PolicyTime:
    """The time sections of one policy version, ready for the calendar."""

    policy: str
    zone: str
    windows: list[NamedWindow] = field(default_factory=list)
    blackouts: list[NamedBlackouts] = field(default_factory=list)
    cycles: list[NamedCycle] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _from(spec: Mapping[str, Any]) -> Any:
    return spec.get("from", spec.get("from_"))


def _zone(name: Any, fallback: str) -> str:
    if isinstance(name, str) and name and name not in ("policy", "instance", "slot"):
        get_zone(name)
        return name
    return fallback


def _ics_text(path_text: str, version: PolicyVersion | None) -> str:
    """The ICS file, looked up where the planner looks (`planning.snapshot.calendars_dirs`:
    RELEASEDESK_CALENDARS_DIR, the policy file's directory, the examples), never outside."""
    for base in calendars_dirs(version):
        path = (base / path_text).resolve()
        if base.resolve() in path.parents and path.is_file():
            return path.read_text(encoding="utf-8")
    raise TimeRuleError(f"ICS file {path_text!r} was not found")


def _window(policy: str, name: str, spec: Mapping[str, Any], zone: str) -> NamedWindow:
    text = spec.get("every") or spec.get("rrule")
    if not text:
        raise TimeRuleError(f"window {name!r} has neither `every` nor `rrule`")
    rule = parse_window(str(text), start=_from(spec), end=spec.get("to"))
    return NamedWindow(policy, name, rule, _zone(spec.get("zone"), zone))


def _blackout(
    policy: str, spec: Mapping[str, Any], zone: str, version: PolicyVersion | None
) -> NamedBlackouts:
    bzone = _zone(spec.get("zone"), zone)
    reason = str(spec.get("reason") or "")
    if spec.get("dates"):
        first = dt.date.fromisoformat(str(_from(spec["dates"])))
        last_text = spec["dates"].get("to")
        last = dt.date.fromisoformat(str(last_text)) if last_text else first
        label = reason or "blackout"
        return NamedBlackouts(policy, label, FixedDates(first, last, bzone, label), bzone)
    if spec.get("yearly"):
        first_md = str(_from(spec["yearly"]))
        last_md = str(spec["yearly"].get("to") or first_md)
        label = reason or f"yearly blackout {first_md}..{last_md}"
        return NamedBlackouts(policy, label, YearlyDates(first_md, last_md, bzone, label), bzone)
    if spec.get("holidays"):
        hol = spec["holidays"]
        if isinstance(hol, str):
            hol = {"country": hol}
        source = PublicHolidays(str(hol["country"]), bzone, hol.get("subdiv"), hol.get("language"))
        return NamedBlackouts(policy, reason or f"{source.where} public holidays", source, bzone)
    if spec.get("ics"):
        path_text = str(spec["ics"])
        ics = IcsBlackouts(_ics_text(path_text, version), bzone, reason or None)
        return NamedBlackouts(policy, reason or ics.name, ics, bzone)
    raise TimeRuleError("a blackout needs one of dates, yearly, holidays or ics")


def _cadence(spec: Mapping[str, Any]) -> Cadence:
    if spec.get("every"):
        match = _EVERY_WEEKS.match(str(spec["every"]))
        if not match:
            raise TimeRuleError(f"cycle every {spec['every']!r}: use 'N weeks'")
        anchor = f" from {_from(spec)}" if _from(spec) else ""
        return parse_cadence(f"every {int(match.group(1))} weeks on {spec.get('on')}{anchor}")
    if spec.get("monthly"):
        return parse_cadence(f"monthly on {spec['monthly']}")
    if spec.get("rule"):
        return parse_cadence(str(spec["rule"]))
    raise TimeRuleError("a cycle needs one of every, monthly or rule")


def policy_time(
    policy: str, document: Mapping[str, Any], *, version: PolicyVersion | None = None
) -> PolicyTime:
    """The time sections of `document` (a stored policy version's JSON)."""
    try:
        zone = _zone(document.get("zone"), "UTC")
    except UnknownTimeZone:
        zone = "UTC"
    result = PolicyTime(policy=policy, zone=zone)
    for name, spec in (document.get("windows") or {}).items():
        try:
            result.windows.append(_window(policy, str(name), spec, zone))
        except (TimeRuleError, UnknownTimeZone, ValueError, TypeError, KeyError) as exc:
            result.problems.append(f"{policy}: window {name!r} cannot be read: {exc}")
    for index, spec in enumerate(document.get("blackouts") or []):
        try:
            result.blackouts.append(_blackout(policy, spec, zone, version))
        except (TimeRuleError, UnknownTimeZone, ValueError, TypeError, KeyError, OSError) as exc:
            result.problems.append(f"{policy}: blackout {index + 1} cannot be read: {exc}")
    for target in document.get("targets") or []:
        cycle = target.get("cycle")
        if not cycle:
            continue
        name = str(target.get("name", "target"))
        try:
            at_text = cycle.get("at")
            at = (
                dt.time.fromisoformat(f"{int(at_text[:-3]):02d}:{at_text[-2:]}")
                if at_text
                else None
            )
            target_zone = _zone(target.get("zone"), zone)
            result.cycles.append(NamedCycle(policy, name, _cadence(cycle), target_zone, at))
        except (TimeRuleError, UnknownTimeZone, ValueError, TypeError, KeyError) as exc:
            result.problems.append(f"{policy}: cycle of target {name!r} cannot be read: {exc}")
    return result


def latest_policy_times(versions: Iterable[PolicyVersion]) -> list[PolicyTime]:
    """PolicyTime for each given PolicyVersion (with `policy` selected)."""
    return [policy_time(v.policy.slug, v.document or {}, version=v) for v in versions]
