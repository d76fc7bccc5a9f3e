"""django-anymail tracking webhooks: bounces and complaints from an ESP mark the contact.

When ReleaseDesk sends through an ESP backend of django-anymail (`RELEASEDESK_EMAIL_BACKEND`,
e.g. `anymail.backends.postmark.EmailBackend`, with its keys in `RELEASEDESK_ANYMAIL_*`),
the ESP's tracking webhooks are mounted at `/outbox/anymail/<esp>/tracking/` — only when
`RELEASEDESK_ANYMAIL_WEBHOOK_SECRET` ("user:password", HTTP basic auth, checked by anymail)
is set; without it they answer 404, because an unauthenticated webhook would let anyone mark
contacts unreachable. anymail verifies and normalises each ESP's payload and sends its
`tracking` signal; `on_tracking` hands bounced, complained, rejected and delivered events to
`services.record_tracking_event` (the same path as the signed `/outbox/tracking/` webhook):
the contact is found by Message-ID, else by address; each event is processed once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

from releasedesk.outbox.choices import TrackingEvent
from releasedesk.outbox.services import TrackingInput, record_tracking_event

log = logging.getLogger("releasedesk.outbox")


# A temporary failure ("421 …", "4.2.2 mailbox full") is not a reason to stop writing.
_TEMPORARY = re.compile(r"^\s*(?:smtp;\s*)?4\d\d\b|\b4\.\d{1,3}\.\d{1,3}\b", re.IGNORECASE)


def tracking_input(event: AnymailTrackingEvent, esp_name: str) -> TrackingInput | None:
    """Our form of an anymail event, or None for events we do not act on (opened, deferred,
    a bounce whose SMTP reply says the failure is temporary)."""
    if event.event_type not in TrackingEvent.values:
        return None
    reply = str(event.mta_response or "")
    if event.event_type == TrackingEvent.BOUNCED and _TEMPORARY.search(reply):
        return None
    event_id = (
        event.event_id
        or hashlib.sha256(
            "|".join(
                str(part)
                for part in (
                    esp_name,
                    event.message_id,
                    event.recipient,
                    event.event_type,
                    event.timestamp,
                )
            ).encode()
        ).hexdigest()
    )
    description = " ".join(
        str(part) for part in (event.description, event.mta_response) if part
    ) or str(event.reject_reason or "")
    return TrackingInput(
        event_id=f"{esp_name.lower()}:{event_id}"[:100],
        event_type=event.event_type,
        recipient=event.recipient or "",
        message_id=str(event.message_id or ""),
        description=str(description)[:500],
        timestamp=event.timestamp,
    )


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    found = tracking_input(event, esp_name)
    if found is None:
        return
    if record_tracking_event(event=found) is None:
        log.info("outbox: %s tracking event %s already processed", esp_name, found.event_id)


def _guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
            raise Http404("ESP tracking webhooks are not enabled.")
        return view(request, *args, **kwargs)

    return guarded


def tracking_urlpatterns() -> list[URLPattern]:
    """anymail's tracking webhook URLs (not its inbound ones), each behind the guard."""
    from anymail import urls as anymail_urls

    patterns: list[URLPattern] = []
    for item in anymail_urls.urlpatterns:
        if not isinstance(item, URLPattern) or "tracking" not in str(item.pattern):
            continue
        route = str(item.pattern)
        make = re_path if route.startswith("^") else path
        patterns.append(make(route, _guarded(item.callback), name=f"anymail_{item.name}"))
    return patterns
