"""Plan and persist a release over many instances, against a raw floor measured in the same run.

    python -m benchmarks plan [--size 100000] [--keep]

The release goes to dedicated instances spread over 8 zones (Amsterdam, London, New York,
Los Angeles, Sydney, Lord Howe, Kolkata, Auckland), each upgraded in its own zone in the
Sunday 02:30-06:00 window with 48 hours' notice. Planned on 2027-03-10, the first slot is
Sunday 2027-03-14 — the day the United States springs forward, so 02:30 does not exist in
New York and Los Angeles (the slot moves to 03:00), and the week Australia and New Zealand
leave summer time is in the horizon.

Measured (one transaction, scratch database, see `_db.py`):
- seconds: `planning.planner.iter_plan` (the real planner) + `timeline.persist.persist_plan`
  (the real diff-and-store, raw batched INSERT / COPY);
- floor_seconds: a raw `zoneinfo` loop computing the same instants per instance (slot,
  notice send time, deadline) + a raw `executemany` of the same rows.
Last line: JSON {"name", "size", "seconds", "floor_seconds", "ratio", "peak_mb", ...}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
import tracemalloc
import zoneinfo
from typing import Any

from benchmarks._db import prepare_database, setup_django

ZONES = (
    "Europe/Amsterdam",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Auckland",
)
NOW = dt.datetime(2027, 3, 10, 9, 0, tzinfo=dt.UTC)
POLICY = {
    "policy": "bench-dedicated",
    "zone": "Europe/London",
    "default_level": "standard",
    "levels": {
        "standard": {
            "window": "maintenance",
            "approvals": [{"role": "change_management"}],
            "notice": {"lead": "48h", "to": "instance_contacts"},
        }
    },
    "windows": {"maintenance": {"every": "weekly on sunday", "from": "02:30", "to": "06:00"}},
    "targets": [
        {
            "name": "dedicated",
            "instances": {"kind": "dedicated"},
            "at": "release_slot",
            "zone": "instance",
            "notice": {"lead": "48h", "to": "instance_contacts"},
        }
    ],
}


def _catalogue(size: int) -> tuple[Any, list[int]]:
    """Product, one customer per zone, `size` dedicated instances (setup, not timed)."""
    from releasedesk.catalog.models import Customer, Instance, Product

    product = Product.objects.create(slug="bench", name="Bench")
    customers = [
        Customer.objects.create(slug=f"c{i}", name=f"Customer {i}", timezone=zone)
        for i, zone in enumerate(ZONES)
    ]
    Instance.objects.bulk_create(
        [
            Instance(
                slug=f"i{n}",
                name=f"i{n}",
                kind="dedicated",
                product=product,
                owner=customers[n % len(ZONES)],
                timezone=ZONES[n % len(ZONES)],
            )
            for n in range(size)
        ],
        batch_size=5000,
    )
    ids = list(Instance.objects.order_by("pk").values_list("pk", flat=True))
    return product, ids


def _snapshots(product: Any, instance_ids: list[int]) -> tuple[Any, Any, Any]:
    from releasedesk.planning.types import (
        CatalogueSnapshot,
        CustomerSnapshot,
        InstanceSnapshot,
        ProductSnapshot,
    )
    from releasedesk.policies.schema import PolicyDocument

    policy = PolicyDocument.model_validate(POLICY)
    customers = tuple(
        CustomerSnapshot(id=i + 1, name=f"Customer {i}", kind="hosted", zone=z)
        for i, z in enumerate(ZONES)
    )
    catalogue = CatalogueSnapshot(
        instances=tuple(
            InstanceSnapshot(
                id=pk,
                slug=f"i{n}",
                kind="dedicated",
                product_id=product.pk,
                owner_id=(n % len(ZONES)) + 1,
                zone=ZONES[n % len(ZONES)],
            )
            for n, pk in enumerate(instance_ids)
        ),
        customers=customers,
        products=(ProductSnapshot(id=product.pk, slug="bench"),),
    )
    return policy, catalogue, customers


def _floor(instance_ids: list[int], release_id: int) -> list[tuple[Any, ...]]:
    """Per instance with plain zoneinfo: the Sunday 02:30 slot (gap → forward), notice times."""
    from releasedesk.timeline.persist import COLUMNS

    rows: list[tuple[Any, ...]] = []
    lead = dt.timedelta(hours=48)
    margin = dt.timedelta(hours=1)
    for n, pk in enumerate(instance_ids):
        zone = zoneinfo.ZoneInfo(ZONES[n % len(ZONES)])
        earliest = NOW + lead + margin
        local_day = earliest.astimezone(zone).date()
        while True:
            days = (6 - local_day.weekday()) % 7
            day = local_day + dt.timedelta(days=days)
            wall = dt.datetime.combine(day, dt.time(2, 30), tzinfo=zone)
            start = wall.astimezone(dt.UTC)
            if start.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
                # the wall time does not exist: the first valid instant after the gap
                start = dt.datetime.combine(day, dt.time(3, 0), tzinfo=zone).astimezone(dt.UTC)
            if start >= earliest:
                break
            local_day = day + dt.timedelta(days=1)
        end = dt.datetime.combine(day, dt.time(6, 0), tzinfo=zone).astimezone(dt.UTC)
        deliver_by = start - lead
        send_at = deliver_by - margin
        for kind, due, key in (
            ("notice", send_at, f"r{release_id}:i{pk}:notice:{day.isoformat()}"),
            ("upgrade", start, f"r{release_id}:i{pk}:upgrade"),
        ):
            rows.append(
                (
                    key, "pending", due, end if kind == "upgrade" else deliver_by, "", 0, 5, "",
                    NOW, NOW, release_id, kind, "dedicated", pk, None, "",
                    f"{kind} i{n}", str(zone), end if kind == "upgrade" else None,
                    "first Sunday window that leaves 48 hours' notice", "{}", 1,
                )
            )  # fmt: skip
    assert len(rows[0]) == len(COLUMNS)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks plan")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    zoneinfo.reset_tzpath([])
    cleanup = prepare_database(args.keep)
    try:
        setup_django()
        return _run(args.size)
    finally:
        cleanup()


def _run(size: int) -> int:
    from django.db import connection, transaction
    from django.db.models import Count

    from releasedesk.planning.planner import iter_plan
    from releasedesk.planning.types import Facts, ReleaseSnapshot, Step
    from releasedesk.policies.services import apply_policy
    from releasedesk.releases.models import Release
    from releasedesk.timeline.models import ScheduledStep
    from releasedesk.timeline.persist import insert_rows, persist_plan

    print(f"setting up {size:,} instances in {len(ZONES)} zones …", file=sys.stderr)
    product, ids = _catalogue(size)
    policy_row = apply_policy(source=json.dumps(POLICY), filename="bench.json", actor=None).policy
    release = Release.objects.create(
        version="1.0", target_date=NOW.date(), policy=policy_row, status="approved"
    )
    release.products.set([product])
    policy, catalogue, _ = _snapshots(product, ids)
    snapshot = ReleaseSnapshot(
        id=release.pk,
        version="1.0",
        target_date=NOW.date(),
        product_ids=(product.pk,),
        level="standard",
        demands=policy.levels["standard"],
    )
    facts = Facts(approvals_complete_at=NOW)

    # floor: raw zoneinfo + raw executemany of the same rows
    t0 = time.perf_counter()
    with transaction.atomic():
        rows = _floor(ids, release.pk)
        insert_rows(rows)
        transaction.set_rollback(True)
    floor_seconds = time.perf_counter() - t0

    # peak memory of the same work, measured apart and rolled back (tracemalloc slows what it
    # watches, so the timed run below is not traced)
    tracemalloc.start()
    with transaction.atomic():
        steps = (
            s for s in iter_plan(snapshot, policy, catalogue, facts, NOW) if isinstance(s, Step)
        )
        persist_plan(release_id=release.pk, steps=steps, now=NOW)
        transaction.set_rollback(True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    t0 = time.perf_counter()
    with transaction.atomic():
        steps = (
            s for s in iter_plan(snapshot, policy, catalogue, facts, NOW) if isinstance(s, Step)
        )
        diff = persist_plan(release_id=release.pk, steps=steps, now=NOW)
    seconds = time.perf_counter() - t0

    stored = ScheduledStep.objects.filter(release=release).count()
    planned = dict(ScheduledStep.objects.filter(release=release).values_list("key", "due_at"))
    expected = {row[0]: row[2] for row in rows}
    mismatches = sum(1 for key, due in expected.items() if planned.get(key) != due)
    if mismatches:
        sample = next(k for k, d in expected.items() if planned.get(k) != d)
        print(
            f"MISMATCH: {mismatches} floor instants differ from the plan, e.g. {sample}: "
            f"floor {expected[sample]} vs plan {planned.get(sample)}",
            file=sys.stderr,
        )
    kinds = dict(
        ScheduledStep.objects.filter(release=release).values_list("kind").annotate(n=Count("id"))
    )
    print(
        f"planned and stored {stored:,} steps {kinds} for {size:,} instances in {seconds:.2f} s "
        f"(floor {len(rows):,} rows in {floor_seconds:.2f} s) on {connection.vendor}",
        file=sys.stderr,
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "name": "plan",
                "size": size,
                "seconds": round(seconds, 3),
                "floor_seconds": round(floor_seconds, 3),
                "ratio": round(seconds / floor_seconds, 2),
                "peak_mb": round(peak / 2**20, 1),
                "max_rss_mb": round(rss_mb, 1),
                "steps": stored,
                "added": diff.added,
                "database": connection.vendor,
                "mismatches": mismatches,
            }
        )
    )
    return 0
