"""Queries of the calendar app. `active_freezes` is what the planner reads as facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from releasedesk.calendars.models import ChangeFreeze
from releasedesk.catalog.models import Product
from releasedesk.core.timeutil import ensure_aware
from releasedesk.planning.types import FreezeFact
from releasedesk.scheduling.blackouts import Freeze


def freeze_label(freeze: ChangeFreeze) -> str:
    return f"Change freeze: {freeze.reason}"


def freezes_between(
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    products: Iterable[Product | int] | None = None,
    *,
    include_lifted: bool = False,
) -> QuerySet[ChangeFreeze]:
    """Freezes overlapping [start_utc, end_utc) (half-open), optionally only those that
    apply to any of `products` (freezes for all products always apply)."""
    start, end = ensure_aware(start_utc), ensure_aware(end_utc)
    qs = ChangeFreeze.objects.filter(starts_at__lt=end, ends_at__gt=start)
    if not include_lifted:
        qs = qs.filter(lifted_at__isnull=True)
    if products is not None:
        ids = [p if isinstance(p, int) else p.pk for p in products]
        qs = qs.filter(Q(all_products=True) | Q(products__in=ids)).distinct()
    return qs.order_by("starts_at", "id")


def active_freezes(
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    products: Iterable[Product | int] | None = None,
) -> list[Freeze]:
    """Freezes (not lifted) overlapping [start_utc, end_utc) as `scheduling.blackouts.Freeze`
    sources, ordered by start. With `products`, only freezes for all products or for one of
    them; without, every freeze. One query."""
    return [
        Freeze(f.starts_at, f.ends_at, freeze_label(f))
        for f in freezes_between(start_utc, end_utc, products)
    ]


def freeze_facts(
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    products: Iterable[Product | int] | None = None,
) -> tuple[FreezeFact, ...]:
    """The same freezes as `active_freezes`, in the planner's `Facts.freezes` shape."""
    return tuple(
        FreezeFact(start=f.start_utc, end=f.end_utc, reason=f.reason)
        for f in active_freezes(start_utc, end_utc, products)
    )
