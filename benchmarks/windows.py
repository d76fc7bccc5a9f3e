"""Next-window computation: once per distinct (zone, rule) vs naively per instance.

    python -m benchmarks windows [--size 100000] [--zones 30]

Every instance asks "the first window of my rule in my zone that leaves my notice
lead after approval". The planner computes each distinct (zone, rule) once
(`WindowIndex`: occurrences over the planning span, then a bisect per instance);
the naive way calls `next_window` per instance. Both must give identical windows.
Floor: a raw zoneinfo loop converting each instance's answer (local date + time)
to UTC once, the least work that yields one instant per instance.
Last line: JSON {"name", "size", "seconds", "floor_seconds", "ratio", "peak_mb",
"naive_seconds", "speedup"}; ratio = seconds / floor_seconds, speedup = naive / grouped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("PYTHONTZPATH", "")
zoneinfo.reset_tzpath([])

from releasedesk.scheduling.windows import (  # noqa: E402
    Window,
    WindowIndex,
    WindowRule,
    next_window,
)

ZONES = (
    "Europe/Amsterdam", "Europe/London", "Europe/Berlin", "Europe/Zurich", "Europe/Paris",
    "Europe/Helsinki", "Europe/Lisbon", "Europe/Dublin", "Europe/Athens", "Europe/Moscow",
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Sao_Paulo", "America/Santiago", "America/Havana", "America/St_Johns",
    "Australia/Sydney", "Australia/Lord_Howe", "Australia/Perth", "Pacific/Auckland",
    "Pacific/Chatham", "Asia/Kolkata", "Asia/Tokyo", "Asia/Kathmandu", "Asia/Tehran",
    "Africa/Casablanca", "Africa/Johannesburg", "UTC",
)  # fmt: skip
RULES = (
    WindowRule.parse("weekly on thursday 16:00-22:00"),
    WindowRule.parse("monthly on second tuesday 18:00-20:00"),
    WindowRule.parse("daily 02:30-04:00"),  # crosses the spring gap in many zones
)
# The planning run starts on the Monday before the 2027 European DST change.
BASE = dt.datetime(2027, 3, 22, 9, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=120)
LEADS = (dt.timedelta(0), dt.timedelta(hours=48), dt.timedelta(days=7))


def instances(size: int, zones: int) -> list[tuple[str, WindowRule, dt.datetime, dt.datetime]]:
    """(zone, rule, approved_at, min_start) per instance, deterministic."""
    out = []
    for i in range(size):
        zone = ZONES[i % zones]
        rule = RULES[(i // zones) % len(RULES)]
        approved = BASE + dt.timedelta(minutes=37 * (i % 211))
        out.append((zone, rule, approved, approved + LEADS[i % len(LEADS)] + dt.timedelta(hours=1)))
    return out


def naive(work: list[tuple[str, WindowRule, dt.datetime, dt.datetime]]) -> list[Window | None]:
    return [
        next_window(rule, zone, after, min_start=earliest) for zone, rule, after, earliest in work
    ]


def grouped(work: list[tuple[str, WindowRule, dt.datetime, dt.datetime]]) -> list[Window | None]:
    indexes: dict[tuple[str, WindowRule], WindowIndex] = {}
    out: list[Window | None] = []
    for zone, rule, after, earliest in work:
        index = indexes.get((zone, rule))
        if index is None:
            index = indexes[(zone, rule)] = WindowIndex(rule, zone, BASE, BASE + SPAN)
        out.append(index.next(after, min_start=earliest))
    return out


def floor(
    work: list[tuple[str, WindowRule, dt.datetime, dt.datetime]], answers: list[Window | None]
) -> list[dt.datetime]:
    tzs = {name: zoneinfo.ZoneInfo(name) for name in ZONES}
    out = []
    for (zone, rule, _after, _earliest), window in zip(work, answers, strict=True):
        assert window is not None
        local = dt.datetime.combine(window.local_date, rule.start, tzinfo=tzs[zone])
        out.append(local.astimezone(dt.UTC))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks windows", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--zones", type=int, default=len(ZONES), choices=range(1, len(ZONES) + 1))
    args = parser.parse_args(argv)
    work = instances(args.size, args.zones)

    started = time.perf_counter()
    fast = grouped(work)
    grouped_seconds = time.perf_counter() - started
    print(f"grouped: {grouped_seconds:.3f} s for {args.size:,} instances", file=sys.stderr)

    started = time.perf_counter()
    slow = naive(work)
    naive_seconds = time.perf_counter() - started
    print(f"naive:   {naive_seconds:.3f} s", file=sys.stderr)
    if fast != slow:
        mismatches = sum(a != b for a, b in zip(fast, slow, strict=True))
        print(f"MISMATCH: {mismatches} instances differ", file=sys.stderr)
        return 1

    started = time.perf_counter()
    floor(work, fast)
    floor_seconds = time.perf_counter() - started
    print(
        f"floor:   {floor_seconds:.3f} s (raw zoneinfo, one conversion per instance)",
        file=sys.stderr,
    )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "name": "windows",
        "size": args.size,
        "seconds": round(grouped_seconds, 4),
        "floor_seconds": round(floor_seconds, 4),
        "ratio": round(grouped_seconds / floor_seconds, 2) if floor_seconds else None,
        "peak_mb": round(peak_mb, 1),
        "naive_seconds": round(naive_seconds, 4),
        "speedup": round(naive_seconds / grouped_seconds, 1) if grouped_seconds else None,
        "zones": args.zones,
        "rules": len(RULES),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
