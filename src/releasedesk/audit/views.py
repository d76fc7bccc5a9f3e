"""The staff audit page: filters, htmx partial refresh, pagination, times in UTC and local."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from releasedesk.accounts.authn import staff_user
from releasedesk.audit import selectors
from releasedesk.audit.forms import EventFilterForm
from releasedesk.audit.services import record_denied
from releasedesk.core.context import Actor
from releasedesk.core.timeutil import format_local, format_utc, is_valid_zone

PAGE_SIZE = 50


def _deny(request: HttpRequest) -> None:
    """Anyone but active staff: 404, and the attempt is audited. Anonymous: sign in first."""
    from releasedesk.portal.auth import current_contact

    contact = current_contact(request)
    user = getattr(request, "user", None)
    if contact is not None:
        actor = Actor(kind="contact", id=contact.pk)
    elif user is not None and user.is_authenticated:
        actor = Actor(kind="staff", id=user.pk)
    else:
        return
    record_denied(
        actor=actor, action="audit.page.view", object_type="audit.auditevent", object_id=None
    )
    raise Http404("Not found.")


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def event_list(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    if user is None:
        _deny(request)
        return redirect_to_login(request.get_full_path())
    zone = user.timezone if is_valid_zone(user.timezone) else "UTC"
    form = EventFilterForm(request.GET or None, zone=zone)
    filters = form.to_filters() if form.is_bound and form.is_valid() else None
    if form.is_bound and not form.is_valid():
        qs = selectors.events(None)  # invalid filters: show the errors, no rows
    else:
        qs = selectors.events(user, filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "event": event,
            "utc": format_utc(event.at),
            "local": format_local(event.at, zone),
            "diff": [
                {**row, "before_text": _show(row["before"]), "after_text": _show(row["after"])}
                for row in selectors.diff_rows(event.before, event.after)
            ],
        }
        for event in page.object_list
    ]
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "zone": zone,
        "query": urlencode(query),
    }
    template = "audit/_events.html" if getattr(request, "htmx", False) else "audit/event_list.html"
    return render(request, template, context)
