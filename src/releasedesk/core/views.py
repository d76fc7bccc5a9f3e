"""The staff worker page: queue health per due-work table and open staff alerts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from releasedesk.accounts.models import User
from releasedesk.core import alerts, clock
from releasedesk.core.metrics import queue_status
from releasedesk.core.queue_models import StaffAlert
from releasedesk.core.timeutil import format_local, format_utc, is_valid_zone

MAX_ALERTS_SHOWN = 100


def _staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Active staff only; anyone else signed in gets 404, anonymous visitors sign in."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and user.is_authenticated and user.is_active and user.is_staff:
            return view(request, *args, **kwargs)
        from releasedesk.portal.auth import current_contact

        if user.is_authenticated or current_contact(request) is not None:
            raise Http404("Not found.")
        return redirect_to_login(request.get_full_path())

    return wrapper


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@require_GET
@_staff_only
def worker_status(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    zone = request.user.timezone if is_valid_zone(request.user.timezone) else "UTC"
    now = clock.now()
    tables = [
        {
            "t": t,
            "oldest_utc": format_utc(t.oldest_due_at) if t.oldest_due_at else "",
            "oldest_local": format_local(t.oldest_due_at, zone) if t.oldest_due_at else "",
            "age": _age(t.oldest_due_age) if t.oldest_due_at else "",
        }
        for t in queue_status(now)
    ]
    open_alerts = list(StaffAlert.objects.filter(acknowledged_at__isnull=True)[:MAX_ALERTS_SHOWN])
    return render(
        request,
        "core/worker.html",
        {
            "tables": tables,
            "alerts": [
                {"a": a, "utc": format_utc(a.created_at), "local": format_local(a.created_at, zone)}
                for a in open_alerts
            ],
            "alerts_open": StaffAlert.objects.filter(acknowledged_at__isnull=True).count(),
            "now_utc": format_utc(now),
            "now_local": format_local(now, zone),
            "zone": zone,
        },
    )


@require_POST
@_staff_only
def acknowledge_alert(request: HttpRequest, pk: int) -> HttpResponse:
    assert isinstance(request.user, User)
    alert = get_object_or_404(StaffAlert, pk=pk)
    alerts.acknowledge(alert=alert, actor_user_id=request.user.pk, now=clock.now())
    return redirect("core:worker")
