"""Consent pages.

- Signed links from e-mails (`/consent/link/<action>/<token>/`): GET (and HEAD) show a
  confirmation page and change nothing — mail scanners fetch links; only POST acts.
- The portal (`/consent/`, `/consent/<id>/`): a signed-in contact sees and answers their
  own organisation's consents (another organisation's answer 404).
- Staff (`/consent/release/<id>/`): every consent of a release; record a decision made by
  phone (marked as such), confirm or refuse a proposed date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from releasedesk.accounts.models import User
from releasedesk.catalog.models import Contact
from releasedesk.consent import links, services
from releasedesk.consent.choices import (
    ACTION_DECISION,
    Action,
    ConsentMode,
    ConsentState,
    DecisionChannel,
    PostponeStatus,
)
from releasedesk.consent.models import Consent
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, DomainError, ValidationFailed
from releasedesk.core.timeutil import (
    UnknownTimeZone,
    format_local,
    format_utc,
    get_zone,
    local_to_utc,
)
from releasedesk.portal.auth import contact_required, current_contact
from releasedesk.releases.models import Release
from releasedesk.releases.views import staff_page


def _zone_of(name: str) -> str:
    try:
        get_zone(name or "UTC")
    except UnknownTimeZone:
        return "UTC"
    return name or "UTC"


def _times(consent: Consent, zone: str) -> dict[str, str]:
    return {
        "start_local": format_local(consent.slot_start, zone),
        "start_utc": format_utc(consent.slot_start),
        "deadline_local": format_local(consent.deadline, zone),
        "deadline_utc": format_utc(consent.deadline),
        "decided_local": format_local(consent.decided_at, zone) if consent.decided_at else "",
        "decided_utc": format_utc(consent.decided_at) if consent.decided_at else "",
    }


def parse_local(value: str, zone: str, *, field: str = "proposed_start") -> dt.datetime | None:
    """A `YYYY-MM-DDTHH:MM` wall-clock time in `zone` as a UTC instant (None when empty)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(
            f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)",
            fields={field: "YYYY-MM-DDTHH:MM"},
        ) from exc
    if naive.tzinfo is not None:
        return naive.astimezone(dt.UTC)
    if not 2000 <= naive.year <= 2100:
        raise ValidationFailed("the year must be between 2000 and 2100", fields={field: "year"})
    return local_to_utc(naive, zone)


def _page(
    request: HttpRequest,
    consent: Consent,
    *,
    zone: str,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    now = clock.now()
    context: dict[str, Any] = {
        "consent": consent,
        "zone": zone,
        "organisation": consent.customer,
        "instance": consent.instance,
        "release": consent.release,
        "past_deadline": now > consent.deadline,
        "contact_text": services.contact_text(),
        "decided_by_phone": consent.channel == DecisionChannel.STAFF_PHONE,
        **_times(consent, zone),
        **extra,
    }
    template = extra.pop("template", "consent/link.html")
    return render(request, template, context, status=status)


# --- signed links -----------------------------------------------------------------------------


def _from_link(request: HttpRequest, action: str, token: str) -> tuple[Consent, Contact]:
    claims = links.read_token(token, action)
    consent = (
        Consent.objects.select_related("release", "instance", "customer")
        .filter(pk=claims.consent_id, customer_id=claims.customer_id)
        .first()
    )
    if consent is None:
        raise Gone(
            "This upgrade is no longer planned as the e-mail said: it moved or was cancelled. "
            "You receive a message with the new date; the portal shows your upcoming upgrades."
        )
    contact = (
        Contact.objects.select_related("customer")
        .filter(pk=claims.contact_id, customer_id=consent.customer_id, erased_at__isnull=True)
        .first()
    )
    if contact is None:
        raise Http404("No such consent.")
    signed_in = current_contact(request)
    if signed_in is not None and signed_in.customer_id != consent.customer_id:
        # A contact acts only for their own organisation.
        raise Http404("No such consent.")
    return consent, contact


class Gone(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@require_http_methods(["GET", "HEAD", "POST"])
def link(request: HttpRequest, action: str, token: str) -> HttpResponse:
    try:
        consent, contact = _from_link(request, action, token)
    except links.ExpiredLink as exc:
        return render(request, "consent/link_invalid.html", {"message": exc.message}, status=410)
    except links.InvalidLink as exc:
        return render(request, "consent/link_invalid.html", {"message": exc.message}, status=400)
    except Gone as exc:
        return render(request, "consent/link_invalid.html", {"message": exc.message}, status=404)
    zone = _zone_of(contact.effective_timezone)
    if request.method != "POST":
        return _page(request, consent, zone=zone, action=action, action_label=Action(action).label)
    decision = ACTION_DECISION[action]
    try:
        proposed = (
            parse_local(request.POST.get("proposed_start", ""), zone)
            if action == Action.POSTPONE
            else None
        )
        services.decide(
            consent=consent,
            decision=decision,
            actor=Actor(kind="contact", id=contact.pk),
            channel=DecisionChannel.EMAIL,
            contact=contact,
            proposed_start=proposed,
            comment=request.POST.get("comment", "")[:2000],
        )
    except ValidationFailed as exc:
        return _page(
            request,
            consent,
            zone=zone,
            action=action,
            action_label=Action(action).label,
            error=exc.message,
            status=422,
        )
    except Conflict as exc:
        consent.refresh_from_db()
        return _page(
            request,
            consent,
            zone=zone,
            action=action,
            action_label=Action(action).label,
            refused=exc.message,
            status=409,
        )
    consent.refresh_from_db()
    return _page(
        request, consent, zone=zone, action=action, action_label=Action(action).label, done=True
    )


# --- the portal ----------------------------------------------------------------------------------


def _contact(request: HttpRequest) -> Contact:
    contact: Contact = request.contact  # type: ignore[attr-defined]
    return contact


@contact_required
def portal_list(request: HttpRequest) -> HttpResponse:
    contact = _contact(request)
    zone = _zone_of(contact.effective_timezone)
    rows = [
        {"consent": c, **_times(c, zone)}
        for c in Consent.objects.for_user(contact)
        .select_related("release", "instance")
        .filter(slot_start__gte=clock.now() - dt.timedelta(days=30))
        .order_by("slot_start", "pk")[:200]
    ]
    return render(
        request,
        "consent/portal_list.html",
        {"rows": rows, "zone": zone, "organisation": contact.customer, "contact": contact},
    )


@contact_required
@require_http_methods(["GET", "HEAD", "POST"])
def portal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request)
    zone = _zone_of(contact.effective_timezone)
    consent = get_object_or_404(
        Consent.objects.for_user(contact).select_related("release", "instance", "customer"), pk=pk
    )
    actions = (
        [Action.ACCEPT]
        if consent.mode == ConsentMode.APPROVE
        else [Action.OPT_OUT, Action.POSTPONE]
    )
    page: dict[str, Any] = {"template": "consent/portal_detail.html", "actions": actions}
    if request.method != "POST":
        return _page(request, consent, zone=zone, **page)
    action = request.POST.get("action", "")
    if action not in actions:
        return _page(
            request,
            consent,
            zone=zone,
            error=f"Choose one of: {', '.join(actions)}",
            status=422,
            **page,
        )
    try:
        proposed = (
            parse_local(request.POST.get("proposed_start", ""), zone)
            if action == Action.POSTPONE
            else None
        )
        services.decide(
            consent=consent,
            decision=ACTION_DECISION[action],
            actor=Actor(kind="contact", id=contact.pk),
            channel=DecisionChannel.PORTAL,
            contact=contact,
            proposed_start=proposed,
            comment=request.POST.get("comment", "")[:2000],
        )
    except ValidationFailed as exc:
        return _page(request, consent, zone=zone, error=exc.message, status=422, **page)
    except Conflict as exc:
        consent.refresh_from_db()
        return _page(request, consent, zone=zone, refused=exc.message, status=409, **page)
    consent.refresh_from_db()
    return _page(request, consent, zone=zone, done=True, **page)


# --- staff -----------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@staff_page
def release_consents(request: HttpRequest, pk: int) -> HttpResponse:
    release = get_object_or_404(Release.objects.for_user(_user(request)), pk=pk)
    zone = _zone_of(_user(request).timezone)
    rows = []
    for consent in (
        Consent.objects.filter(release=release)
        .select_related("instance", "customer", "decided_by_contact", "decided_by_user")
        .order_by("slot_start", "instance__slug", "pk")
    ):
        rows.append(
            {
                "consent": consent,
                "row_zone": consent.zone,
                "proposed_local": (
                    format_local(consent.proposed_start, consent.zone)
                    if consent.proposed_start
                    else ""
                ),
                "allowed": services.ALLOWED.get(consent.mode, ()),
                **_times(consent, consent.zone),
            }
        )
    return render(
        request,
        "consent/release_consents.html",
        {
            "release": release,
            "rows": rows,
            "zone": zone,
            "states": ConsentState,
            "awaiting": PostponeStatus.PROPOSED,
        },
    )


@staff_page
@require_POST
def staff_decide(request: HttpRequest, pk: int) -> HttpResponse:
    consent = get_object_or_404(Consent.objects.for_user(_user(request)), pk=pk)
    back = reverse("consent:release", kwargs={"pk": consent.release_id})
    try:
        received = parse_local(
            request.POST.get("received_at", ""), consent.zone, field="received_at"
        )
        proposed = parse_local(request.POST.get("proposed_start", ""), consent.zone)
        services.decide(
            consent=consent,
            decision=request.POST.get("decision", ""),
            actor=Actor(kind="staff", id=_user(request).pk),
            channel=DecisionChannel.STAFF_PHONE,
            user=_user(request),
            proposed_start=proposed,
            comment=request.POST.get("comment", "")[:2000],
            received_at=received,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Decision recorded (by phone).")
    return redirect(back)


@staff_page
@require_POST
def staff_postponement(request: HttpRequest, pk: int) -> HttpResponse:
    consent = get_object_or_404(Consent.objects.for_user(_user(request)), pk=pk)
    confirm = request.POST.get("confirm") == "yes"
    try:
        services.decide_postponement(
            consent=consent,
            confirm=confirm,
            user=_user(request),
            actor=Actor(kind="staff", id=_user(request).pk),
            comment=request.POST.get("comment", "")[:2000],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Postponement confirmed." if confirm else "Postponement refused.")
    return redirect(reverse("consent:release", kwargs={"pk": consent.release_id}))
