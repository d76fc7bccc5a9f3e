"""What the calendar shows between two instants: one list of `Entry`, built with a fixed
number of queries whatever the number of releases, instances or steps.

Sources: the policies' windows, blackouts (fixed dates, yearly, public holidays, ICS) and
cycles (from their latest versions), staff change freezes, releases (target date), planned
upgrade slots (ScheduledStep rows of kind `upgrade`, counted per release and slot — never
one entry per instance), stages (`stage_gate`) and hypercare periods (`hypercare`).

Every entry carries UTC instants and the zone it is defined in; the views and feeds turn it
into the viewer's or the customer's local time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse

from releasedesk.calendars.policy_sources import PolicyTime, latest_policy_times
from releasedesk.calendars.selectors import freezes_between
from releasedesk.core.queue_models import WorkState
from releasedesk.core.timeutil import ensure_aware, to_local
from releasedesk.policies.models import PolicyVersion
from releasedesk.releases.choices import ReleaseStatus
from releasedesk.releases.models import Release
from releasedesk.scheduling.cadence import cycles
from releasedesk.scheduling.periods import local_days
from releasedesk.scheduling.windows import occurrences
from releasedesk.timeline.models import ScheduledStep, StepKind

KINDS: tuple[str, ...] = (
    "window",
    "blackout",
    "freeze",
    "release",
    "upgrade",
    "cycle",
    "stage",
    "hypercare",
)
# Steps in these states will not happen (a re-plan replaced them, or staff stopped them).
HIDDEN_STEP_STATES = (WorkState.SUPERSEDED, WorkState.CANCELLED, WorkState.SKIPPED)
_UID_DOMAIN = "releasedesk"


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing on the calendar. `end_utc == start_utc` for an instant; `days` is set for a
    whole-day entry (first and last local date, inclusive, in `zone`)."""

    kind: str
    title: str
    start_utc: dt.datetime
    end_utc: dt.datetime
    zone: str
    uid: str
    detail: str = ""
    days: tuple[dt.date, dt.date] | None = None
    url: str = ""
    source: str = ""

    def overlaps(self, start_utc: dt.datetime, end_utc: dt.datetime) -> bool:
        if self.end_utc == self.start_utc:
            return start_utc <= self.start_utc < end_utc
        return self.start_utc < end_utc and start_utc < self.end_utc


@dataclass(slots=True)
class CalendarData:
    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _stamp(instant: dt.datetime) -> str:
    return f"{ensure_aware(instant):%Y%m%dT%H%M%SZ}"


def _whole_days(start: dt.datetime, end: dt.datetime, zone: str) -> tuple[dt.date, dt.date] | None:
    """The local dates covered when [start, end) runs from local midnight to local midnight."""
    first, after = to_local(start, zone), to_local(end, zone)
    if first.time() == dt.time(0) and after.time() == dt.time(0) and after > first:
        return first.date(), after.date() - dt.timedelta(days=1)
    return None


def latest_versions() -> list[PolicyVersion]:
    """The latest version of every policy (one query)."""
    newest = (
        PolicyVersion.objects.filter(policy_id=OuterRef("policy_id"))
        .order_by("-number")
        .values("number")[:1]
    )
    return list(
        PolicyVersion.objects.filter(number=Subquery(newest))
        .select_related("policy")
        .order_by("policy__slug")
    )


def _policy_entries(
    times: list[PolicyTime], start: dt.datetime, end: dt.datetime, kinds: Collection[str]
) -> list[Entry]:
    out: list[Entry] = []
    for pt in times:
        if "window" in kinds:
            for nw in pt.windows:
                for w in occurrences(nw.rule, nw.zone, start, end):
                    out.append(
                        Entry(
                            "window",
                            f"{nw.name} window ({pt.policy})",
                            w.start_utc,
                            w.end_utc,
                            nw.zone,
                            f"window-{pt.policy}-{nw.name}-{_stamp(w.start_utc)}@{_UID_DOMAIN}",
                            detail=nw.rule.text,
                            source=pt.policy,
                        )
                    )
        if "blackout" in kinds:
            for nb in pt.blackouts:
                for b in nb.source.intervals(start, end):
                    out.append(
                        Entry(
                            "blackout",
                            f"Blackout: {b.reason}",
                            b.start_utc,
                            b.end_utc,
                            nb.zone,
                            f"blackout-{pt.policy}-{b.kind}-{_stamp(b.start_utc)}-"
                            f"{_digest(b.reason)}@{_UID_DOMAIN}",
                            detail=f"{nb.label} ({pt.policy})",
                            days=_whole_days(b.start_utc, b.end_utc, nb.zone),
                            source=pt.policy,
                        )
                    )
        if "cycle" in kinds:
            for nc in pt.cycles:
                first = to_local(start, nc.zone).date() - dt.timedelta(days=1)
                last = to_local(end, nc.zone).date() + dt.timedelta(days=1)
                for day in cycles(nc.cadence, first, last):
                    instant = nc.instant(day)
                    if instant is not None:
                        s, e, days = instant, instant, None
                    else:
                        period = local_days(day, day, nc.zone)
                        s, e, days = period.start_utc, period.end_utc, (day, day)
                    entry = Entry(
                        "cycle",
                        f"{nc.target} cycle ({pt.policy})",
                        s,
                        e,
                        nc.zone,
                        f"cycle-{pt.policy}-{nc.target}-{day:%Y%m%d}@{_UID_DOMAIN}",
                        detail=nc.cadence.text,
                        days=days,
                        source=pt.policy,
                    )
                    if entry.overlaps(start, end):
                        out.append(entry)
    return out


def _freeze_entries(start: dt.datetime, end: dt.datetime) -> list[Entry]:
    out = []
    for f in freezes_between(start, end).prefetch_related("products"):
        scope = (
            "all products"
            if f.all_products
            else ", ".join(sorted(p.name for p in f.products.all()))
        )
        out.append(
            Entry(
                "freeze",
                f"Change freeze: {f.reason}",
                f.starts_at,
                f.ends_at,
                "UTC",
                f"freeze-{f.pk}@{_UID_DOMAIN}",
                detail=f"Applies to {scope}",
                url=reverse("calendars:freezes"),
                source=f"freeze {f.pk}",
            )
        )
    return out


def _release_entries(start: dt.datetime, end: dt.datetime, zones: dict[int, str]) -> list[Entry]:
    # Target dates are local dates in the policy zone: widen by a day each side, then check.
    first = start.date() - dt.timedelta(days=1)
    last = end.date() + dt.timedelta(days=1)
    out = []
    qs = (
        Release.objects.filter(target_date__range=(first, last))
        .exclude(status=ReleaseStatus.CANCELLED)
        .prefetch_related("products")
        .order_by("target_date", "id")
    )
    for r in qs:
        zone = zones.get(r.policy_id, "UTC")
        period = local_days(r.target_date, r.target_date, zone)
        products = ", ".join(sorted(p.name for p in r.products.all()))
        entry = Entry(
            "release",
            f"Release {r.version}" + (f" {r.title}" if r.title else ""),
            period.start_utc,
            period.end_utc,
            zone,
            f"release-{r.pk}@{_UID_DOMAIN}",
            detail=f"Target date of {products} ({r.get_status_display()})",
            days=(r.target_date, r.target_date),
            url=reverse("releases:detail", args=[r.pk]),
            source=f"release {r.pk}",
        )
        if entry.overlaps(start, end):
            out.append(entry)
    return out


def _step_overlap(start: dt.datetime, end: dt.datetime) -> Q:
    # [due_at, ends_at) overlaps [start, end); an instant (no end) must lie inside.
    return Q(due_at__lt=end) & (
        Q(ends_at__isnull=False, ends_at__gt=start) | Q(ends_at__isnull=True, due_at__gte=start)
    )


def _upgrade_entries(start: dt.datetime, end: dt.datetime) -> list[Entry]:
    rows = (
        ScheduledStep.objects.filter(_step_overlap(start, end), kind=StepKind.UPGRADE)
        .exclude(state__in=HIDDEN_STEP_STATES)
        .values("release_id", "target", "due_at", "ends_at", "zone")
        .annotate(version=F("release__version"), count=Count("id"))
        .order_by("due_at", "release_id", "target", "zone")
    )
    out = []
    for row in rows:
        n = row["count"]
        target = f" ({row['target']})" if row["target"] else ""
        out.append(
            Entry(
                "upgrade",
                f"Upgrade {row['version']}{target}: {n} instance{'s' if n != 1 else ''}",
                row["due_at"],
                row["ends_at"] or row["due_at"],
                row["zone"] or "UTC",
                f"upgrade-{row['release_id']}-{row['target'] or 'x'}-{_stamp(row['due_at'])}-"
                f"{(row['zone'] or 'UTC').replace('/', '_')}@{_UID_DOMAIN}",
                detail=f"Planned upgrade slot, local zone {row['zone'] or 'UTC'}",
                url=reverse("releases:detail", args=[row["release_id"]]),
                source=f"release {row['release_id']}",
            )
        )
    return out


def _period_entries(start: dt.datetime, end: dt.datetime, kinds: Collection[str]) -> list[Entry]:
    wanted = [
        k
        for k, name in ((StepKind.STAGE_GATE, "stage"), (StepKind.HYPERCARE, "hypercare"))
        if name in kinds
    ]
    if not wanted:
        return []
    out = []
    qs = (
        ScheduledStep.objects.filter(_step_overlap(start, end), kind__in=wanted)
        .exclude(state__in=HIDDEN_STEP_STATES)
        .annotate(version=F("release__version"), stop=Coalesce("ends_at", "due_at"))
        .only("id", "kind", "label", "release_id", "due_at", "ends_at", "zone", "state", "reason")
        .order_by("due_at", "id")
    )
    for step in qs:
        kind = "stage" if step.kind == StepKind.STAGE_GATE else "hypercare"
        zone = step.zone or "UTC"
        stop = step.ends_at or step.due_at
        out.append(
            Entry(
                kind,
                f"{step.version}: {step.label}",  # type: ignore[attr-defined]
                step.due_at,
                stop,
                zone,
                f"step-{step.pk}@{_UID_DOMAIN}",
                detail=step.reason,
                days=_whole_days(step.due_at, stop, zone) if step.ends_at else None,
                url=reverse("releases:detail", args=[step.release_id]),
                source=f"release {step.release_id}",
            )
        )
    return out


def collect(
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    *,
    kinds: Collection[str] = KINDS,
) -> CalendarData:
    """Everything on the staff calendar overlapping [start_utc, end_utc), sorted by start.

    Queries: latest policy versions 1, freezes 2, releases 2, upgrade slots 1, stages and
    hypercare 1 — independent of how many releases, instances or steps there are."""
    start, end = ensure_aware(start_utc), ensure_aware(end_utc)
    data = CalendarData()
    needs_policies = bool({"window", "blackout", "cycle", "release"} & set(kinds))
    versions = latest_versions() if needs_policies else []
    times = latest_policy_times(versions)
    for pt in times:
        data.problems.extend(pt.problems)
    data.entries.extend(_policy_entries(times, start, end, kinds))
    if "freeze" in kinds:
        data.entries.extend(_freeze_entries(start, end))
    if "release" in kinds:
        zones = {v.policy_id: pt.zone for v, pt in zip(versions, times, strict=True)}
        data.entries.extend(_release_entries(start, end, zones))
    if "upgrade" in kinds:
        data.entries.extend(_upgrade_entries(start, end))
    data.entries.extend(_period_entries(start, end, kinds))
    data.entries.sort(key=lambda e: (e.start_utc, KINDS.index(e.kind), e.title))
    return data
