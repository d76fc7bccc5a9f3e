"""The bounce/complaint tracking webhook: `POST /outbox/tracking/`.

An ESP or a DSN-mailbox reader posts events here, signed like Standard Webhooks:

    webhook-id: <unique id of this delivery>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 of HMAC-SHA256(secret, "<id>.<timestamp>.<raw body>")>

with the secret `RELEASEDESK_TRACKING_WEBHOOK_SECRET` (no secret: the endpoint answers 404).
The body uses anymail's normalised event names (a DSN-mailbox reader can post them as they
are; anymail's own ESP webhooks are wired in `outbox.esp`):

    {"events": [{"event_id": "…", "event_type": "bounced", "recipient": "a@b.example",
                 "message_id": "<…@releasedesk…>", "timestamp": "2027-03-25T14:00:00Z",
                 "description": "550 5.1.1 no such user"}]}

`bounced`, `complained` and `rejected` mark the contact unreachable (found by the
message's Message-ID, else by address); `delivered` is recorded. Each event id is processed
once; a repeated delivery answers 200 with the events counted as duplicates.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from releasedesk.core import clock
from releasedesk.core.errors import DomainError
from releasedesk.outbox.choices import TrackingEvent
from releasedesk.outbox.services import TrackingInput, record_tracking_event

TOLERANCE = dt.timedelta(minutes=5)
MAX_EVENTS = 100


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=200)
    event_type: str = Field(min_length=1, max_length=32)
    recipient: str = Field("", max_length=254)
    message_id: str = Field("", max_length=200)
    timestamp: dt.datetime | None = None
    description: str = Field("", max_length=2000)


class PayloadIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


def sign(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for this delivery."""
    mac = hmac.new(
        secret.encode(), f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(mac).decode()


def _error(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": fields or {}}}, status=status
    )


def _verify(request: HttpRequest, secret: str) -> JsonResponse | None:
    webhook_id = request.headers.get("webhook-id", "")
    stamp = request.headers.get("webhook-timestamp", "")
    given = request.headers.get("webhook-signature", "")
    if not webhook_id or not stamp.isdigit() or not given:
        return _error(
            401,
            "unauthenticated",
            "Signed requests only: webhook-id, webhook-timestamp and webhook-signature are required.",
        )
    sent = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC) if len(stamp) < 12 else None
    if sent is None or abs(clock.now() - sent) > TOLERANCE:
        return _error(401, "unauthenticated", "The webhook timestamp is too old or in the future.")
    expected = sign(secret, webhook_id=webhook_id, timestamp=int(stamp), body=request.body)
    # Several space-separated signatures are allowed (secret rotation).
    if not any(hmac.compare_digest(expected, candidate) for candidate in given.split()):
        return _error(401, "unauthenticated", "The webhook signature does not match.")
    return None


@csrf_exempt
@require_POST
def tracking_webhook(request: HttpRequest) -> JsonResponse:
    secret = str(getattr(settings, "OUTBOX_TRACKING_SECRET", "") or "")
    if not secret:
        return _error(404, "not_found", "The tracking webhook is not enabled.")
    problem = _verify(request, secret)
    if problem is not None:
        return problem
    try:
        data: Any = json.loads(request.body)
        payload = PayloadIn.model_validate(data)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, ValidationError):
            fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
            return _error(422, "validation_failed", "The events are not valid.", fields)
        return _error(400, "bad_request", "The body must be JSON.")
    unknown = [e.event_type for e in payload.events if e.event_type not in TrackingEvent.values]
    if unknown:
        return _error(
            422,
            "validation_failed",
            f"unknown event_type {unknown[0]!r} (allowed: {', '.join(TrackingEvent.values)})",
            {"event_type": "unknown"},
        )
    processed = duplicates = 0
    for event in payload.events:
        try:
            receipt = record_tracking_event(
                event=TrackingInput(
                    event_id=event.event_id,
                    event_type=event.event_type,
                    recipient=event.recipient,
                    message_id=event.message_id,
                    description=event.description,
                    timestamp=event.timestamp,
                )
            )
        except DomainError as exc:
            return _error(exc.status, exc.code, exc.message, exc.fields)
        if receipt is None:
            duplicates += 1
        else:
            processed += 1
    return JsonResponse({"processed": processed, "duplicates": duplicates})
