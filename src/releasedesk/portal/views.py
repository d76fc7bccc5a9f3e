"""Customer portal: sign-in by e-mailed link, home, instance page, sign-out."""

from __future__ import annotations

import logging

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from releasedesk.accounts import throttle
from releasedesk.catalog.models import Contact, Instance, Subscription
from releasedesk.core import clock
from releasedesk.core.timeutil import UnknownTimeZone, format_local, format_utc, get_zone
from releasedesk.portal import services
from releasedesk.portal.auth import (
    contact_required,
    current_contact,
    sign_in_contact,
    sign_out_contact,
)

log = logging.getLogger(__name__)


class LinkRequestForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Your e-mail address")


def _zone(contact: Contact) -> str:
    name = contact.effective_timezone or "UTC"
    try:
        get_zone(name)
    except UnknownTimeZone:
        return "UTC"
    return name


def _contact(request: HttpRequest) -> Contact:
    contact: Contact = request.contact  # type: ignore[attr-defined]
    return contact


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link. The answer is the same whether the address is known or not."""
    if request.method == "GET" and current_contact(request) is not None:
        return redirect("portal:home")
    form = LinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email: str = form.cleaned_data["email"]
        key = throttle.throttle_key("portal", email, throttle.client_address(request))
        wait = throttle.seconds_blocked(key)
        if wait:
            form.add_error(
                None,
                f"Too many sign-in link requests for this address. Try again in {throttle.wait_text(wait)}.",
            )
            response = render(request, "portal/login.html", {"form": form}, status=429)
            response["Retry-After"] = str(wait)
            return response
        throttle.record_failure(key)  # every request counts; a completed sign-in clears it
        for contact in services.eligible_contacts(email):
            try:
                services.send_sign_in_link(contact=contact)
            except Exception:  # the answer must not reveal that this address exists
                log.exception("portal sign-in link to contact %s could not be sent", contact.pk)
        minutes = max(1, services.max_age() // 60)
        return render(request, "portal/link_sent.html", {"email": email, "minutes": minutes})
    status = 422 if request.method == "POST" else 200
    return render(request, "portal/login.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a 'Sign in' button (mail scanners prefetch GET); only POST signs in."""
    try:
        if request.method == "POST":
            contact = services.sign_in_with_link(token=token)
        else:
            claims = services.read_token(token)
            services.check_unused(claims)
            contact = services.contact_for_claims(claims)
    except services.InvalidLink as exc:
        return render(request, "portal/link_invalid.html", {"message": exc.message}, status=400)
    if request.method == "GET":
        return render(request, "portal/link_confirm.html", {"organisation": contact.customer.name})
    sign_in_contact(request, contact)
    throttle.clear(throttle.throttle_key("portal", contact.email, throttle.client_address(request)))
    return redirect("portal:home")


@contact_required
def home(request: HttpRequest) -> HttpResponse:
    contact = _contact(request)
    zone = _zone(contact)
    instances = list(
        Instance.objects.for_user(contact)
        .select_related("product")
        .order_by("product__name", "name")
    )
    subscriptions = Subscription.objects.for_user(contact).select_related("product", "instance")
    uses: dict[int, list[str]] = {}
    for sub in subscriptions:
        uses.setdefault(sub.instance_id, []).append(sub.product.name)
    rows = [
        {
            "instance": inst,
            "products": sorted(uses.get(inst.pk, [inst.product.name])),
            "updated_local": format_local(inst.updated_at, zone),
        }
        for inst in instances
    ]
    now = clock.now()
    return render(
        request,
        "portal/home.html",
        {
            "contact": contact,
            "organisation": contact.customer,
            "rows": rows,
            "zone": zone,
            "now_local": format_local(now, zone),
            "now_utc": format_utc(now),
        },
    )


@contact_required
def instance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request)
    zone = _zone(contact)
    instance = get_object_or_404(
        Instance.objects.for_user(contact).select_related("product"), pk=pk
    )
    products = sorted(
        Subscription.objects.for_user(contact)
        .filter(instance=instance)
        .values_list("product__name", flat=True)
    )
    return render(
        request,
        "portal/instance.html",
        {
            "contact": contact,
            "organisation": contact.customer,
            "instance": instance,
            "products": products or [instance.product.name],
            "zone": zone,
            "updated_local": format_local(instance.updated_at, zone),
            "updated_utc": format_utc(instance.updated_at),
        },
    )


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    sign_out_contact(request)
    return redirect("portal:login")
