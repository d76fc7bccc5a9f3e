"""Staff outbox pages: the list filtered by state, a message's preview, retry (POST, audited)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from releasedesk.accounts.authn import staff_user
from releasedesk.accounts.models import User
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.queue_models import WorkState
from releasedesk.core.timeutil import format_local, format_utc, is_valid_zone
from releasedesk.outbox import masking, services
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.models import Message
from releasedesk.outbox.selectors import messages_for

PAGE_SIZE = 50


def _staff_or_404(request: HttpRequest) -> User | None:
    """The staff user; None means "redirect to sign in". Contacts and other users: 404."""
    user = staff_user(request)
    if user is not None:
        return user
    from releasedesk.portal.auth import current_contact

    if current_contact(request) is not None or request.user.is_authenticated:
        raise Http404("Not found.")
    return None


def _zone(user: User) -> str:
    return user.timezone if is_valid_zone(user.timezone) else "UTC"


def _when(value: Any, zone: str) -> dict[str, str] | None:
    if value is None:
        return None
    return {"utc": format_utc(value), "local": format_local(value, zone)}


def _int(value: str | None) -> int | None:
    if value and value.isdigit() and len(value) < 10:
        return int(value)
    return None


@require_GET
def message_list(request: HttpRequest) -> HttpResponse:
    user = _staff_or_404(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    zone = _zone(user)
    state = request.GET.get("state") or None
    kind = request.GET.get("kind") or None
    release_id = _int(request.GET.get("release"))
    error = ""
    try:
        qs = messages_for(user, state=state, kind=kind, release_id=release_id)
    except DomainError as exc:
        error, qs = exc.message, Message.objects.none()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "m": m,
            "due": _when(m.due_at, zone),
            "delivered": _when(m.delivered_at, zone),
        }
        for m in page.object_list
    ]
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "rows": rows,
        "page": page,
        "zone": zone,
        "error": error,
        "states": WorkState.choices,
        "kinds": MessageKind.choices,
        "selected": {"state": state or "", "kind": kind or "", "release": release_id or ""},
        "query": urlencode(query),
    }
    template = (
        "outbox/_messages.html" if getattr(request, "htmx", False) else "outbox/message_list.html"
    )
    return render(request, template, context)


@require_GET
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_or_404(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    message: Message | None = messages_for(user).filter(pk=pk).first()
    if message is None:
        raise Http404("Message not found.")
    zone = _zone(user)
    context = {
        "m": message,
        "zone": zone,
        "due": _when(message.due_at, zone),
        "late_after": _when(message.late_after, zone),
        "delivered": _when(message.delivered_at, zone),
        "finished": _when(message.finished_at, zone),
        "retryable": message.state in services.RETRYABLE_STATES,
        # Sign-in links are one-time credentials: staff never see them (outbox.masking).
        "body_text": masking.preview_text(message),
        "body_html": masking.preview_html(message),
    }
    return render(request, "outbox/message_detail.html", context)


@require_POST
def message_retry(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_or_404(request)
    if user is None:
        return redirect_to_login(reverse("outbox:detail", args=[pk]))
    message: Message | None = messages_for(user).filter(pk=pk).first()
    if message is None:
        raise Http404("Message not found.")
    try:
        services.retry_message(actor=Actor(kind="staff", id=user.pk), message=message)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The message will be sent again now.")
    return HttpResponseRedirect(reverse("outbox:detail", args=[pk]))


# --- roadmap updates to partners ------------------------------------------------------------


def _roadmap_form(request: HttpRequest, data: Any) -> dict[str, Any]:
    from releasedesk.catalog.models import Product
    from releasedesk.outbox.roadmap import PARTNER_AUDIENCES

    chosen = [s for s in data.getlist("product") if isinstance(s, str)][:50]
    return {
        "products": list(Product.objects.order_by("name").values_list("slug", "name")),
        "audiences": PARTNER_AUDIENCES,
        "selected": {
            "products": chosen,
            "period": (data.get("period") or "")[:40],
            "audience": data.get("audience") or PARTNER_AUDIENCES[0],
        },
    }


@require_GET
def roadmap_update(request: HttpRequest) -> HttpResponse:
    """The form; with products and a period, the preview (recipients, items, text)."""
    from releasedesk.catalog.models import Product
    from releasedesk.outbox.roadmap import preview_roadmap_update

    user = _staff_or_404(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    context = _roadmap_form(request, request.GET)
    chosen = context["selected"]
    context["zone"] = _zone(user)
    if chosen["products"] and chosen["period"]:
        products = list(Product.objects.filter(slug__in=chosen["products"]).order_by("name"))
        try:
            preview = preview_roadmap_update(
                products=products, period=chosen["period"], audience=chosen["audience"]
            )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context["preview"] = preview
            context["next_release"] = _when(preview.roadmap.next_release_at, context["zone"])
    return render(request, "outbox/roadmap.html", context)


@require_POST
def roadmap_send(request: HttpRequest) -> HttpResponse:
    from releasedesk.catalog.models import Product
    from releasedesk.outbox.roadmap import send_roadmap_update

    user = _staff_or_404(request)
    if user is None:
        return redirect_to_login(reverse("outbox:roadmap"))
    form = _roadmap_form(request, request.POST)
    chosen = form["selected"]
    back = (
        reverse("outbox:roadmap")
        + "?"
        + urlencode(
            [("product", s) for s in chosen["products"]]
            + [("period", chosen["period"]), ("audience", chosen["audience"])]
        )
    )
    products = list(Product.objects.filter(slug__in=chosen["products"]))
    try:
        sent = send_roadmap_update(
            actor=Actor(kind="staff", id=user.pk),
            user=user,
            products=products,
            period=chosen["period"],
            audience=chosen["audience"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(back)
    messages.success(
        request,
        f"Roadmap update queued for {sent.created} recipient(s)"
        + (f"; {sent.existing} already had it" if sent.existing else "")
        + ".",
    )
    return HttpResponseRedirect(reverse("outbox:list") + "?kind=roadmap_update")
