"""Queue health, for `/metrics` (Prometheus text format) and the staff worker page.

Everything is read from the database at scrape time — due rows, running rows, the oldest due
row's age per due-work table, and the event counters (`QueueCounter`) — so one scrape of any
web process reports what every worker process did.

Access to `/metrics`: open to requests from loopback (127.0.0.0/8, ::1) unless
`RELEASEDESK_METRICS_LOOPBACK=0`; from elsewhere only with `Authorization: Bearer <token>`
where the token is `RELEASEDESK_METRICS_TOKEN`, or for a signed-in staff session. Anyone
else gets 404 (see docs/worker.md).
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from releasedesk.core import clock
from releasedesk.core.alerts import COUNTER_NAMES, counters
from releasedesk.core.queue_models import DueWork, StaffAlert, WorkState


@dataclass(frozen=True, slots=True)
class TableStatus:
    label: str  # "timeline.ScheduledStep"
    name: str  # "scheduled steps"
    due: int  # pending and due now
    scheduled: int  # pending, due later
    running: int
    expired_leases: int  # running with a lease in the past: the reaper will return them
    blocked: int
    missed: int
    failed: int
    oldest_due_at: dt.datetime | None
    oldest_due_age: float  # seconds; 0 when nothing is due
    counters: dict[str, int]


def table_status(
    model: type[DueWork], *, now: dt.datetime, counts: dict[tuple[str, str], int]
) -> TableStatus:
    """One aggregate query per table (the (state, due_at) index serves it)."""
    pending_due = Q(state=WorkState.PENDING, due_at__lte=now)
    agg = model._default_manager.aggregate(
        due=Count("pk", filter=pending_due),
        scheduled=Count("pk", filter=Q(state=WorkState.PENDING, due_at__gt=now)),
        running=Count("pk", filter=Q(state=WorkState.RUNNING)),
        expired=Count("pk", filter=Q(state=WorkState.RUNNING, lease_until__lt=now)),
        blocked=Count("pk", filter=Q(state=WorkState.BLOCKED)),
        missed=Count("pk", filter=Q(state=WorkState.MISSED)),
        failed=Count("pk", filter=Q(state=WorkState.FAILED)),
        oldest=Min("due_at", filter=pending_due),
    )
    oldest: dt.datetime | None = agg["oldest"]
    label = model._meta.label
    return TableStatus(
        label=label,
        name=str(model._meta.verbose_name_plural),
        due=agg["due"],
        scheduled=agg["scheduled"],
        running=agg["running"],
        expired_leases=agg["expired"],
        blocked=agg["blocked"],
        missed=agg["missed"],
        failed=agg["failed"],
        oldest_due_at=oldest,
        oldest_due_age=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        counters={name: counts.get((label, name), 0) for name in COUNTER_NAMES},
    )


def queue_status(now: dt.datetime | None = None) -> list[TableStatus]:
    from releasedesk.core.worker import due_work_models

    now = now or clock.now()
    counts = counters()
    return [
        table_status(m, now=now, counts=counts)
        for m in sorted(due_work_models(), key=lambda m: m._meta.label)
    ]


class QueueCollector(Collector):
    """Builds every metric from the database on each scrape."""

    def collect(self) -> Iterator[Metric]:
        tables = queue_status()
        gauges: dict[str, tuple[str, Callable[[TableStatus], float]]] = {
            "due_rows": ("Rows pending and due now", lambda t: t.due),
            "scheduled_rows": ("Rows pending and due later", lambda t: t.scheduled),
            "running_rows": ("Rows claimed by a worker", lambda t: t.running),
            "expired_leases": ("Running rows whose lease has expired", lambda t: t.expired_leases),
            "blocked_rows": ("Rows blocked until staff act", lambda t: t.blocked),
            "missed_rows": ("Rows marked missed (late cutoff passed)", lambda t: t.missed),
            "failed_rows": ("Rows that failed for good", lambda t: t.failed),
            "oldest_due_age_seconds": (
                "Age of the oldest due row (0 when none is due)",
                lambda t: t.oldest_due_age,
            ),
        }
        for name, (doc, value) in gauges.items():
            g = GaugeMetricFamily(f"releasedesk_queue_{name}", doc, labels=["table"])
            for t in tables:
                g.add_metric([t.label], float(value(t)))
            yield g
        docs = {
            "lease_expiries": "Leases that expired (a worker died or hung) and were reaped",
            "retries": "Failed attempts scheduled for a retry with backoff",
            "missed": "Rows marked missed at their late cutoff",
            "failed": "Rows that failed for good",
        }
        for name in COUNTER_NAMES:
            c = CounterMetricFamily(f"releasedesk_queue_{name}", docs[name], labels=["table"])
            for t in tables:
                c.add_metric([t.label], float(t.counters[name]))
            yield c
        a = GaugeMetricFamily("releasedesk_staff_alerts_open", "Staff alerts not yet acknowledged")
        a.add_metric([], float(StaffAlert.objects.filter(acknowledged_at__isnull=True).count()))
        yield a


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector())
    return generate_latest(registry)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def may_read_metrics(request: HttpRequest) -> bool:
    from releasedesk.accounts.authn import staff_user

    if os.environ.get("RELEASEDESK_METRICS_LOOPBACK", "1") != "0" and _is_loopback(
        request.META.get("REMOTE_ADDR", "")
    ):
        return True
    token = os.environ.get("RELEASEDESK_METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    if (
        token
        and given.startswith("Bearer ")
        and hmac.compare_digest(given[7:].encode(), token.encode())
    ):
        return True
    return staff_user(request) is not None


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not may_read_metrics(request):
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
