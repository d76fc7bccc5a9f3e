"""Staff calendar (month, week), change freezes, feed links; the contacts' subscribe page;
and the two iCal feeds (signed links, no session needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from releasedesk.accounts.models import User
from releasedesk.calendars import feeds, services
from releasedesk.calendars.entries import KINDS, collect
from releasedesk.calendars.models import ChangeFreeze
from releasedesk.calendars.presenters import build_days
from releasedesk.catalog.models import Contact, Customer, Product
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import (
    combine_local,
    format_local,
    format_utc,
    local_to_utc,
    to_local,
)
from releasedesk.portal.auth import contact_required
from releasedesk.releases.views import staff_page

MIN_YEAR, MAX_YEAR = 2000, 2100
CUSTOMER_LINKS = 200  # customers listed on the feed page (the API serves any customer)
KIND_LABELS = {
    "window": "Maintenance window",
    "blackout": "Blackout",
    "freeze": "Change freeze",
    "release": "Release (target date)",
    "upgrade": "Planned upgrade slot",
    "cycle": "Cycle",
    "stage": "Stage",
    "hypercare": "Hypercare",
}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _zone(request: HttpRequest) -> str:
    return feeds.valid_zone(_user(request).timezone)


def _actor(request: HttpRequest) -> Actor:
    return Actor(kind="staff", id=_user(request).pk)


def _kinds(request: HttpRequest) -> tuple[str, ...]:
    raw = request.GET.getlist("kind")
    chosen = tuple(k for k in KINDS if k in raw)
    return chosen or KINDS


def _render_calendar(
    request: HttpRequest,
    *,
    view: str,
    first: dt.date,
    last: dt.date,
    month: int | None,
    heading: str,
    prev_url: str,
    next_url: str,
    today_url: str,
    other_url: str,
) -> HttpResponse:
    zone = _zone(request)
    kinds = _kinds(request)
    start = combine_local(first, dt.time(0), zone)
    end = combine_local(last + dt.timedelta(days=1), dt.time(0), zone)
    data = collect(start, end, kinds=kinds)
    now = clock.now()
    days = build_days(
        data.entries, first, last, zone, month=month, today=to_local(now, zone).date()
    )
    query = "&".join(f"kind={k}" for k in kinds) if kinds != KINDS else ""
    context: dict[str, Any] = {
        "view": view,
        "heading": heading,
        "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
        "days": days,
        "zone": zone,
        "zone_abbr": "/".join(
            dict.fromkeys(
                str(to_local(moment, zone).tzname())
                for moment in (start, end - dt.timedelta(seconds=1))
            )
        ),
        "now_local": format_local(now, zone),
        "now_utc": format_utc(now),
        "problems": data.problems,
        "kinds": [(k, KIND_LABELS[k], k in kinds) for k in KINDS],
        "query": f"?{query}" if query else "",
        "prev_url": prev_url,
        "next_url": next_url,
        "today_url": today_url,
        "other_url": other_url,
        "other_label": "Week view" if view == "month" else "Month view",
        "entry_count": len(data.entries),
    }
    template = (
        "calendars/_calendar.html" if getattr(request, "htmx", False) else "calendars/calendar.html"
    )
    return render(request, template, context)


@require_GET
@staff_page
def home(request: HttpRequest) -> HttpResponse:
    today = to_local(clock.now(), _zone(request)).date()
    return redirect("calendars:month", today.year, today.month)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Http404(f"Years {MIN_YEAR}-{MAX_YEAR} only.")


@require_GET
@staff_page
def month(request: HttpRequest, year: int, month: int) -> HttpResponse:
    _check_year(year)
    if not 1 <= month <= 12:
        raise Http404("No such month.")
    first_of_month = dt.date(year, month, 1)
    next_month = (first_of_month + dt.timedelta(days=32)).replace(day=1)
    prev_month = (first_of_month - dt.timedelta(days=1)).replace(day=1)
    first = first_of_month - dt.timedelta(days=first_of_month.weekday())
    last_of_month = next_month - dt.timedelta(days=1)
    last = last_of_month + dt.timedelta(days=6 - last_of_month.weekday())
    today = to_local(clock.now(), _zone(request)).date()
    week_of = today if (today.year, today.month) == (year, month) else first_of_month
    return _render_calendar(
        request,
        view="month",
        first=first,
        last=last,
        month=month,
        heading=f"{first_of_month:%B %Y}",
        prev_url=reverse("calendars:month", args=[prev_month.year, prev_month.month]),
        next_url=reverse("calendars:month", args=[next_month.year, next_month.month]),
        today_url=reverse("calendars:month", args=[today.year, today.month]),
        other_url=reverse("calendars:week", args=list(week_of.isocalendar()[:2])),
    )


@require_GET
@staff_page
def week(request: HttpRequest, year: int, week: int) -> HttpResponse:
    _check_year(year)
    try:
        first = dt.date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise Http404("No such week.") from exc
    last = first + dt.timedelta(days=6)
    thursday = first + dt.timedelta(days=3)
    prev_year, prev_week, _ = (first - dt.timedelta(days=7)).isocalendar()
    next_year, next_week, _ = (first + dt.timedelta(days=7)).isocalendar()
    today_year, today_week, _ = to_local(clock.now(), _zone(request)).date().isocalendar()
    return _render_calendar(
        request,
        view="week",
        first=first,
        last=last,
        month=None,
        heading=f"Week {week}, {year} ({first:%d %b} - {last:%d %b %Y})",
        prev_url=reverse("calendars:week", args=[prev_year, prev_week]),
        next_url=reverse("calendars:week", args=[next_year, next_week]),
        today_url=reverse("calendars:week", args=[today_year, today_week]),
        other_url=reverse("calendars:month", args=[thursday.year, thursday.month]),
    )


# --- freezes -----------------------------------------------------------------------------


class FreezeForm(forms.Form):
    starts = forms.DateTimeField(
        label="Starts (your local time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    ends = forms.DateTimeField(
        label="Ends (your local time, exclusive)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    reason = forms.CharField(max_length=300)
    products = forms.ModelMultipleChoiceField(
        queryset=Product.objects.all(),
        required=False,
        help_text="Leave empty to freeze every product.",
        widget=forms.CheckboxSelectMultiple,
    )


class LiftForm(forms.Form):
    reason = forms.CharField(max_length=300)


@require_http_methods(["GET", "POST"])
@staff_page
def freezes(request: HttpRequest) -> HttpResponse:
    zone = _zone(request)
    form = FreezeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                # The form's values are local wall times in the viewer's zone (naive here, as
                # USE_TZ would otherwise read them in UTC): convert with the gap/fold rules.
                freeze = services.declare_freeze(
                    actor=_actor(request),
                    declared_by=_user(request),
                    starts_at=local_to_utc(data["starts"].replace(tzinfo=None), zone),
                    ends_at=local_to_utc(data["ends"].replace(tzinfo=None), zone),
                    reason=data["reason"],
                    products=list(data["products"]),
                )
            except DomainError as exc:
                for field, message in exc.fields.items():
                    name = {"starts_at": "starts", "ends_at": "ends"}.get(field, field)
                    if name in form.fields:
                        form.add_error(name, message)
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"Change freeze declared: {format_local(freeze.starts_at, zone)} until "
                    f"{format_local(freeze.ends_at, zone)}.",
                )
                return redirect("calendars:freezes")
        status = 422
    now = clock.now()
    rows = list(
        ChangeFreeze.objects.for_user(_user(request))
        .filter(ends_at__gte=now - dt.timedelta(days=90))
        .select_related("declared_by", "lifted_by")
        .prefetch_related("products")
        .order_by("starts_at", "id")
    )
    return render(
        request,
        "calendars/freezes.html",
        {"form": form, "freezes": rows, "zone": zone, "now": now, "lift_form": LiftForm()},
        status=status,
    )


@require_POST
@staff_page
def lift(request: HttpRequest, pk: int) -> HttpResponse:
    freeze = get_object_or_404(ChangeFreeze.objects.for_user(_user(request)), pk=pk)
    form = LiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the freeze is lifted.")
        return redirect("calendars:freezes")
    try:
        services.lift_freeze(
            actor=_actor(request),
            freeze=freeze,
            lifted_by=_user(request),
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Change freeze “{freeze.reason}” lifted.")
    return redirect("calendars:freezes")


# --- feed links ----------------------------------------------------------------------------


def staff_feed_url(request: HttpRequest, user: User) -> str:
    token = feeds.make_token("staff", user.pk)
    return request.build_absolute_uri(reverse("calendars:staff_feed", args=[user.pk, token]))


def customer_feed_url(request: HttpRequest, customer: Customer | int) -> str:
    pk = customer if isinstance(customer, int) else customer.pk
    token = feeds.make_token("customer", pk)
    return request.build_absolute_uri(reverse("calendars:customer_feed", args=[pk, token]))


@require_http_methods(["GET", "POST"])
@staff_page
def my_feed(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        services.rotate_feed_key(actor=_actor(request), user=user)
        messages.success(request, "Your previous feed link no longer works; here is the new one.")
        return redirect("calendars:my_feed")
    customers = list(
        Customer.objects.for_user(user)
        .order_by("name")
        .values("pk", "name", "timezone")[:CUSTOMER_LINKS]
    )
    return render(
        request,
        "calendars/my_feed.html",
        {
            "feed_url": staff_feed_url(request, user),
            "zone": _zone(request),
            "customers": customers,
            "more_customers": len(customers) == CUSTOMER_LINKS,
        },
    )


@require_http_methods(["GET", "POST"])
@staff_page
def customer_feed_link(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.for_user(_user(request)), pk=pk)
    if request.method == "POST":
        services.rotate_feed_key(actor=_actor(request), customer=customer)
        messages.success(
            request, f"The previous feed link of {customer.name} no longer works; send the new one."
        )
        return redirect("calendars:customer_feed_link", customer.pk)
    now = clock.now()
    zone = feeds.valid_zone(customer.timezone)
    upcoming = feeds.customer_maintenance(customer, start=now, end=now + feeds.CUSTOMER_FUTURE)
    return render(
        request,
        "calendars/customer_feed_link.html",
        {
            "customer": customer,
            "feed_url": customer_feed_url(request, customer),
            "zone": zone,
            "upcoming": [
                (m, format_local(m.start_utc, zone), format_utc(m.start_utc)) for m in upcoming[:50]
            ],
            "upcoming_count": len(upcoming),
        },
    )


@require_GET
@contact_required
def subscribe(request: HttpRequest) -> HttpResponse:
    """Portal: the contact's organisation's maintenance feed link and what it contains."""
    contact: Contact = request.contact  # type: ignore[attr-defined]
    customer = contact.customer
    zone = feeds.valid_zone(contact.effective_timezone)
    now = clock.now()
    upcoming = feeds.customer_maintenance(customer, start=now, end=now + feeds.CUSTOMER_FUTURE)
    return render(
        request,
        "calendars/subscribe.html",
        {
            "organisation": customer,
            "contact": contact,
            "feed_url": customer_feed_url(request, customer),
            "feed_zone": feeds.valid_zone(customer.timezone),
            "zone": zone,
            "upcoming": [
                (m, format_local(m.start_utc, zone), format_utc(m.start_utc)) for m in upcoming[:50]
            ],
        },
    )


# --- the feeds themselves --------------------------------------------------------------------


def _ics(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_safe  # calendar clients may probe with HEAD
def staff_feed(request: HttpRequest, user_id: int, token: str) -> HttpResponse:
    if not feeds.token_valid("staff", user_id, token):
        raise Http404("No such feed.")
    user = User.objects.filter(pk=user_id, is_active=True, is_staff=True).first()
    if user is None:
        raise Http404("No such feed.")
    return _ics(feeds.internal_feed(user, now=clock.now()), "releasedesk-internal.ics")


@require_safe
def customer_feed(request: HttpRequest, customer_id: int, token: str) -> HttpResponse:
    if not feeds.token_valid("customer", customer_id, token):
        raise Http404("No such feed.")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise Http404("No such feed.")
    return _ics(feeds.customer_feed(customer, now=clock.now()), f"{customer.slug}-maintenance.ics")
