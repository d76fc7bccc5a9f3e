"""Staff pages of the shell: the dashboard. (Sign-in/out live in web/urls.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from releasedesk.audit import selectors as audit_selectors
from releasedesk.catalog.choices import CustomerKind, InstanceKind
from releasedesk.catalog.models import Contact, Customer, Instance
from releasedesk.core import clock
from releasedesk.core.scoping import is_staff_principal
from releasedesk.core.timeutil import UnknownTimeZone, format_local, format_utc, get_zone

RECENT_EVENTS = 10
UNREACHABLE_SHOWN = 5


@dataclass(frozen=True, slots=True)
class KindCount:
    value: str
    label: str
    count: int


def user_zone(user: Any) -> str:
    """The signed-in staff member's zone (UTC when unset or invalid)."""
    zone = getattr(user, "timezone", "") or "UTC"
    try:
        get_zone(zone)
    except UnknownTimeZone:
        return "UTC"
    return str(zone)


def _by_kind(qs: QuerySet[Any], choices: Any) -> list[KindCount]:
    counts = {row["kind"]: row["n"] for row in qs.order_by().values("kind").annotate(n=Count("id"))}
    return [KindCount(value, str(label), counts.get(value, 0)) for value, label in choices.choices]


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not is_staff_principal(user):
        raise PermissionDenied("The dashboard is for the vendor's staff.")
    zone = user_zone(user)
    now = clock.now()
    customers = _by_kind(Customer.objects.for_user(user), CustomerKind)
    instances = _by_kind(Instance.objects.for_user(user), InstanceKind)
    unreachable_qs = Contact.objects.for_user(user).filter(reachable=False, erased_at__isnull=True)
    context = {
        "zone": zone,
        "now": now,
        "now_utc": format_utc(now),
        "now_local": format_local(now, zone),
        "customers_by_kind": customers,
        "customers_total": sum(k.count for k in customers),
        "instances_by_kind": instances,
        "instances_total": sum(k.count for k in instances),
        "unreachable_count": unreachable_qs.count(),
        "unreachable": list(
            unreachable_qs.select_related("customer").order_by("customer__name", "name")[
                :UNREACHABLE_SHOWN
            ]
        ),
        "events": list(audit_selectors.events(user).order_by("-at", "-id")[:RECENT_EVENTS]),
    }
    return render(request, "web/dashboard.html", context)
