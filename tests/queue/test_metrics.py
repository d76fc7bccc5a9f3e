"""`/metrics` and the staff worker page: the same queue figures, with access control."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client

from releasedesk.audit.models import AuditEvent
from releasedesk.core import queue
from releasedesk.core.queue_models import StaffAlert
from releasedesk.timeline.models import ScheduledStep

from .conftest import T0

pytestmark = pytest.mark.django_db
MakeSteps = Callable[..., list[Any]]
NOW = T0 + dt.timedelta(minutes=10)
TABLE = 'table="timeline.ScheduledStep"'


@pytest.fixture
def busy_queue(make_steps: MakeSteps) -> None:
    """At NOW: 2 due (oldest 10 min), 1 running, 1 later, 1 missed, 1 retried, 1 lease expiry."""
    make_steps(2, prefix="due", due_at=T0)
    make_steps(1, prefix="later", due_at=NOW + dt.timedelta(hours=1))
    make_steps(1, prefix="late", due_at=T0 - dt.timedelta(minutes=25), late_after=T0)
    make_steps(1, prefix="run", due_at=T0 - dt.timedelta(minutes=20))
    make_steps(1, prefix="retry", due_at=T0 - dt.timedelta(minutes=30))
    (retry,) = queue.claim(
        ScheduledStep, now=T0 - dt.timedelta(minutes=30), owner="w", lease=dt.timedelta(minutes=1)
    )
    queue.retry_or_fail(
        retry,
        owner="w",
        now=T0 - dt.timedelta(minutes=30),
        error="x",
        backoff=queue.Backoff(base=dt.timedelta(hours=2), cap=dt.timedelta(hours=2)),
    )
    (run,) = queue.claim(
        ScheduledStep, now=NOW - dt.timedelta(minutes=9), owner="w1", lease=dt.timedelta(minutes=2)
    )
    # The claim met the (older) late row first: it is missed, and the run row is claimed.
    assert run.key == "q:run:0"
    assert ScheduledStep.objects.get(key="q:late:0").state == "missed"
    queue.reap(ScheduledStep, now=NOW)  # the run row's lease ended at NOW-7min: reaped
    (again,) = queue.claim(ScheduledStep, now=NOW, owner="w2", lease=dt.timedelta(minutes=5))
    assert again.key == "q:run:0"


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{{TABLE}}} ") or line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


def test_metrics_from_loopback(client: Client, busy_queue: None) -> None:
    with time_machine.travel(NOW, tick=False):
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert _metric(text, "releasedesk_queue_due_rows") == 2
    assert _metric(text, "releasedesk_queue_oldest_due_age_seconds") == 600
    assert _metric(text, "releasedesk_queue_running_rows") == 1
    assert _metric(text, "releasedesk_queue_scheduled_rows") == 2  # "later" and the retry
    assert _metric(text, "releasedesk_queue_missed_rows") == 1
    assert _metric(text, "releasedesk_queue_lease_expiries_total") == 1
    assert _metric(text, "releasedesk_queue_retries_total") == 1
    assert _metric(text, "releasedesk_queue_missed_total") == 1
    assert _metric(text, "releasedesk_queue_failed_total") == 0
    assert _metric(text, "releasedesk_staff_alerts_open") == 1


def test_metrics_from_elsewhere_needs_the_token_or_staff(
    client: Client, vendor_admin: Any, customer_a: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote: dict[str, Any] = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", **remote).status_code == 404
    monkeypatch.setenv("RELEASEDESK_METRICS_TOKEN", "s3cret-metrics")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **remote).status_code == 404
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics", **remote)
    assert ok.status_code == 200
    assert b"releasedesk_queue_due_rows" in ok.content
    # Loopback access can be switched off (e.g. behind a reverse proxy on the same host).
    monkeypatch.setenv("RELEASEDESK_METRICS_LOOPBACK", "0")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405
    client.force_login(vendor_admin)
    assert client.get("/metrics", **remote).status_code == 200


def test_worker_page_shows_the_queue_and_alerts(
    client: Client, vendor_admin: Any, busy_queue: None
) -> None:
    vendor_admin.timezone = "Europe/Amsterdam"
    vendor_admin.save()
    with time_machine.travel(NOW, tick=False):
        client.force_login(vendor_admin)
        response = client.get("/worker/")
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index('id="queue-timelinescheduledstep"') :]
    row = row[: row.index("</tr>")]
    cells = [c.split("</td>")[0].strip() for c in row.split("<td>")[1:]]
    # due, oldest UTC, oldest local, waiting, running, expired, later, blocked, missed,
    # failed, lease expiries, retries
    assert cells == [
        "2",
        "2027-04-01 14:00 UTC",
        "2027-04-01 16:00 CEST (Europe/Amsterdam)",
        "10 min",
        "1",
        "0",
        "2",
        "0",
        "1",
        "0",
        "1",
        "1",
    ]
    assert "scheduled step q:late:0 missed its late cutoff" in html
    assert "Staff alerts <small>(1 open)</small>" in html


def test_acknowledging_an_alert(client: Client, vendor_admin: Any, busy_queue: None) -> None:
    alert = StaffAlert.objects.get()
    client.force_login(vendor_admin)
    response = client.post(f"/worker/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by_id == vendor_admin.pk
    assert alert.acknowledged_at is not None
    assert (
        AuditEvent.objects.filter(action="alert.acknowledged", object_id=str(alert.pk)).count() == 1
    )
    assert "No open alerts." in client.get("/worker/").content.decode()
    # A second acknowledgement changes nothing and writes no second event.
    client.post(f"/worker/alerts/{alert.pk}/acknowledge")
    assert AuditEvent.objects.filter(action="alert.acknowledged").count() == 1
    assert client.get(f"/worker/alerts/{alert.pk}/acknowledge").status_code == 405


def test_worker_page_is_staff_only(client: Client, customer_a: Any, outsider_contact: Any) -> None:
    response = client.get("/worker/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login") or "login" in response["Location"]
    from releasedesk.accounts.models import User

    plain = User.objects.create_user(username="plain", password="x", is_staff=False)
    client.force_login(plain)
    assert client.get("/worker/").status_code == 404
    assert client.post("/worker/alerts/1/acknowledge").status_code == 404
