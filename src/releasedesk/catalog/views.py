"""Staff pages for the catalogue: customers, contacts, instances, products.

Reads go through `selectors` (scoped with `for_user`), writes through `services`; lists are
searchable (htmx live filtering returns just the rows) and paginated.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from releasedesk.accounts.authn import actor_for
from releasedesk.catalog import selectors, services
from releasedesk.catalog.choices import CustomerKind, InstanceKind
from releasedesk.catalog.forms import (
    ContactForm,
    CustomerForm,
    InstanceForm,
    SubscriptionForm,
    apply_errors,
)
from releasedesk.catalog.models import Customer, Instance
from releasedesk.core import clock
from releasedesk.core.errors import DomainError, NotFound
from releasedesk.core.timeutil import all_zones, format_local

PAGE_SIZE = 25
MAX_PAGE = 100_000


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in active staff only; everyone else is sent to sign in (or gets 404)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise Http404("Not found.")
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def _page(request: HttpRequest, items: Any) -> Page[Any]:
    try:
        number = min(max(int(request.GET.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        number = 1
    return Paginator(items, PAGE_SIZE).get_page(number)


def _query(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()[: selectors.MAX_QUERY_LENGTH]


# --- customers -----------------------------------------------------------------------------


@staff_required
def customer_list(request: HttpRequest) -> HttpResponse:
    q = _query(request)
    kind = request.GET.get("kind", "")
    kind = kind if kind in CustomerKind.values else ""
    page = _page(request, selectors.customers(request.user, query=q, kind=kind or None))
    context = {"page": page, "q": q, "kind": kind, "kinds": CustomerKind.choices}
    if getattr(request, "htmx", False):
        return render(request, "catalog/_customer_rows.html", context)
    return render(request, "catalog/customer_list.html", context)


@staff_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_detail(request.user, pk)
    now = clock.now()
    context = {
        "customer": customer,
        "local_now": format_local(now, customer.timezone),
        "created": format_local(customer.created_at, customer.timezone),
        "updated": format_local(customer.updated_at, customer.timezone),
        "subscription_form": SubscriptionForm(),
    }
    return render(request, "catalog/customer_detail.html", context)


def _customer_form(request: HttpRequest, customer: Customer | None) -> HttpResponse:
    initial = (
        CustomerForm.initial_for(customer)
        if customer
        else {"kind": CustomerKind.DIRECT, "timezone": "UTC", "locale": "en"}
    )
    form = CustomerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if customer is None:
                customer = services.create_customer(actor=actor_for(request), **data)
            else:
                customer = services.update_customer(
                    actor=actor_for(request), customer=customer, **data
                )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            return redirect("catalog:customer_detail", pk=customer.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "catalog/customer_form.html",
        {"form": form, "customer": customer, "zones": all_zones()},
        status=status,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    return _customer_form(request, None)


@staff_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _customer_form(request, selectors.customer(request.user, pk))


@staff_required
@require_POST
def subscription_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer(request.user, pk)
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        instance: Instance = form.cleaned_data["instance"]
        try:
            services.create_subscription(
                actor=actor_for(request),
                customer=customer,
                product=instance.product,
                instance=instance,
            )
        except DomainError as exc:
            apply_errors(form, exc)
    if form.errors:
        detail = selectors.customer_detail(request.user, pk)
        context = {
            "customer": detail,
            "local_now": format_local(clock.now(), detail.timezone),
            "created": format_local(detail.created_at, detail.timezone),
            "updated": format_local(detail.updated_at, detail.timezone),
            "subscription_form": form,
        }
        return render(request, "catalog/customer_detail.html", context, status=422)
    return redirect("catalog:customer_detail", pk=customer.pk)


@staff_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = selectors.subscription(request.user, pk)
    customer_id = subscription.customer_id
    services.delete_subscription(actor=actor_for(request), subscription=subscription)
    return redirect("catalog:customer_detail", pk=customer_id)


# --- contacts ------------------------------------------------------------------------------


def _contact_form(request: HttpRequest, customer: Customer, contact: Any) -> HttpResponse:
    if contact is not None:
        initial = {f: getattr(contact, f) for f in services.CONTACT_FIELDS}
    else:
        initial = {"reachable": True, "roles": ["admin"]}
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if contact is None:
                services.create_contact(
                    actor=actor_for(request), customer=customer, **form.cleaned_data
                )
            else:
                services.update_contact(
                    actor=actor_for(request), contact=contact, **form.cleaned_data
                )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            return redirect("catalog:customer_detail", pk=customer.pk)
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "customer": customer, "contact": contact, "zones": all_zones()}
    return render(request, "catalog/contact_form.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _contact_form(request, selectors.customer(request.user, pk), None)


@staff_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact(request.user, pk)
    if contact.erased_at is not None:
        raise Http404("This contact's personal data has been erased.")
    return _contact_form(request, contact.customer, contact)


@staff_required
@require_POST
def contact_erase(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact(request.user, pk)
    if contact.erased_at is None:  # already erased: nothing left to do
        services.erase_contact(actor=actor_for(request), contact=contact)
    return redirect("catalog:customer_detail", pk=contact.customer_id)


# --- instances -----------------------------------------------------------------------------


@staff_required
def instance_list(request: HttpRequest) -> HttpResponse:
    q = _query(request)
    kind = request.GET.get("kind", "")
    kind = kind if kind in InstanceKind.values else ""
    page = _page(request, selectors.instances(request.user, query=q, kind=kind or None))
    context = {"page": page, "q": q, "kind": kind, "kinds": InstanceKind.choices}
    if getattr(request, "htmx", False):
        return render(request, "catalog/_instance_rows.html", context)
    return render(request, "catalog/instance_list.html", context)


@staff_required
def instance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    instance = selectors.instance_detail(request.user, pk)
    zone = instance.timezone or (instance.owner.timezone if instance.owner else "UTC")
    context = {
        "instance": instance,
        "zone": zone,
        "local_now": format_local(clock.now(), zone),
        "updated": format_local(instance.updated_at, zone),
    }
    return render(request, "catalog/instance_detail.html", context)


def _instance_form(request: HttpRequest, instance: Instance | None) -> HttpResponse:
    if instance is not None:
        initial = {f: getattr(instance, f) for f in services.INSTANCE_FIELDS}
        initial["product"], initial["owner"] = instance.product_id, instance.owner_id
    else:
        initial = {"kind": InstanceKind.SHARED, "ring": 0, "executor": {"kind": "simulated"}}
    form = InstanceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if instance is None:
                instance = services.create_instance(actor=actor_for(request), **form.cleaned_data)
            else:
                instance = services.update_instance(
                    actor=actor_for(request), instance=instance, **form.cleaned_data
                )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            return redirect("catalog:instance_detail", pk=instance.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "catalog/instance_form.html",
        {"form": form, "instance": instance, "zones": all_zones()},
        status=status,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def instance_create(request: HttpRequest) -> HttpResponse:
    return _instance_form(request, None)


@staff_required
@require_http_methods(["GET", "POST"])
def instance_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _instance_form(request, selectors.instance(request.user, pk))


# --- products ------------------------------------------------------------------------------


@staff_required
def product_list(request: HttpRequest) -> HttpResponse:
    q = _query(request)
    page = _page(request, selectors.products(request.user, query=q))
    return render(request, "catalog/product_list.html", {"page": page, "q": q})
