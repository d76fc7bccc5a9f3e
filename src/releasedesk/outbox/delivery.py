"""Delivering outbox messages over SMTP through Django's mail (the `MAILERS` setting).

`handle_one_batch()` is the worker handler (`releasedesk.core.worker`): it claims up to
`BATCH` due messages through the one queue mechanism (`releasedesk.core.queue`) and sends
them over one SMTP connection with `deliver_one()`. (One row per claim, as
`worker.queue_handler` does, would open one SMTP connection per message.)

Outcomes of one attempt:
- 250 to DATA: `delivered_at` is that instant (the notice guarantee reads it), state done;
- a temporary failure (4xx, connection refused or dropped, timeout): retried with backoff
  through the queue, failed after `max_attempts`;
- a permanent failure for the recipient (5xx to RCPT TO, or 550/551/553 to DATA): the
  message fails and the contact is marked unreachable (staff alerted if that leaves its
  customer with no reachable admin);
- a transport or authentication failure (535, sender refused): retried, and staff alerted
  that the channel is broken — no address is marked.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from releasedesk.core import clock, queue, worker
from releasedesk.core.context import SYSTEM
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox import services
from releasedesk.outbox.models import Message

log = logging.getLogger("releasedesk.outbox")

BATCH = 20
LEASE = dt.timedelta(minutes=5)
BACKOFF = queue.Backoff(base=dt.timedelta(minutes=1), factor=2.0, cap=dt.timedelta(minutes=30))
MAILER_ALIAS = "default"
# DATA replies that mean "this mailbox", not "this message" (RFC 5321 §4.2.3).
MAILBOX_DATA_CODES = frozenset({550, 551, 553})


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str  # "temporary", "permanent" (the recipient), "message" (this message), "channel"
    code: int | None
    text: str


def _reply(code: int | None, msg: bytes | str) -> str:
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return f"{code} {text}".strip() if code is not None else text


def classify(exc: BaseException, address: str) -> Failure:
    """What a send exception means for the message, its recipient and the channel."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, msg = exc.recipients.get(address, next(iter(exc.recipients.values()), (None, b"")))
        text = _reply(code, msg)
        if code is not None and 500 <= code < 600:
            return Failure("permanent", code, text)
        return Failure("temporary", code, text)
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPSenderRefused):
        return Failure("channel", exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPDataError):
        text = _reply(exc.smtp_code, exc.smtp_error)
        if exc.smtp_code in MAILBOX_DATA_CODES:
            return Failure("permanent", exc.smtp_code, text)
        if 500 <= exc.smtp_code < 600:
            return Failure("message", exc.smtp_code, text)
        return Failure("temporary", exc.smtp_code, text)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = _reply(exc.smtp_code, exc.smtp_error)
        kind = "message" if 500 <= exc.smtp_code < 600 else "temporary"
        return Failure(kind, exc.smtp_code, text)
    # Connection refused/reset, timeouts, server disconnected, TLS errors.
    return Failure("temporary", None, f"{type(exc).__name__}: {exc}")


def build_email(
    message: Message, *, connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to_address],
        headers={
            "Message-ID": message.message_id,
            "Auto-Submitted": "auto-generated",
            "X-ReleaseDesk-Key": message.key,
        },
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


def open_connection() -> BaseEmailBackend:
    """A mail connection from the `MAILERS` setting (opened lazily by the first send)."""
    return mailers[MAILER_ALIAS]


def _settle_failure(message: Message, failure: Failure, *, owner: str) -> str | None:
    now = clock.now()
    if failure.kind == "permanent":
        won = queue.complete(
            message, owner=owner, now=now, state=WorkState.FAILED, error=failure.text
        )
        if won and message.contact_id is not None:
            contact = message.contact
            assert contact is not None
            services.mark_unreachable(
                actor=SYSTEM,
                contact=contact,
                reason=f"permanent delivery failure: {failure.text}"[:300],
                message=message,
            )
        return WorkState.FAILED if won else None
    if failure.kind == "message":
        won = queue.complete(
            message, owner=owner, now=now, state=WorkState.FAILED, error=failure.text
        )
        return WorkState.FAILED if won else None
    if failure.kind == "channel":
        services.alert_channel_failure(error=failure.text)
    return queue.retry_or_fail(message, owner=owner, now=now, error=failure.text, backoff=BACKOFF)


def deliver_one(
    message: Message, *, owner: str, connection: BaseEmailBackend | None = None
) -> str | None:
    """Send one *claimed* message (state running, leased by `owner`) and settle it.

    Returns the message's new state (done, pending for a retry, failed), or None when the
    lease was lost meanwhile (another worker owns the row now; nothing was overwritten).
    """
    conn = connection if connection is not None else open_connection()
    failure, state = _send(message, conn, owner=owner)
    if failure is not None:
        return state
    delivered_at = clock.now()
    won = queue.complete(
        message,
        owner=owner,
        now=delivered_at,
        values={"delivered_at": delivered_at, "smtp_response": "250"},
    )
    return WorkState.DONE if won else None


def _send(
    message: Message, conn: BaseEmailBackend, *, owner: str
) -> tuple[Failure | None, str | None]:
    """Send. On failure the row is settled at once: (the failure, the row's new state or
    None if the lease was lost). On 250: (None, None) — the caller records the delivery."""
    try:
        conn.send_messages([build_email(message, connection=conn)])
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        if isinstance(exc, ValueError):  # an address Django refuses to put on the wire
            failure = Failure("permanent", None, f"invalid address: {exc}")
        else:
            failure = classify(exc, message.to_address)
        log.info(
            "outbox: message %s not delivered (%s): %s", message.pk, failure.kind, failure.text
        )
        if failure.kind in ("temporary", "channel"):
            try:
                conn.close()  # a broken connection must not poison the rest of the batch
            except Exception:  # pragma: no cover - closing a dead socket
                log.debug("outbox: closing the connection failed", exc_info=True)
        return failure, _settle_failure(message, failure, owner=owner)
    return None, None


def _complete_delivered(delivered: list[tuple[Message, dt.datetime]], *, owner: str) -> None:
    """Record the 250s of a batch in one transaction (one write lock instead of one per
    message); each row's own 250 instant, each fenced by its lease."""
    if not delivered:
        return
    with transaction.atomic():
        for message, at in delivered:
            queue.complete(
                message,
                owner=owner,
                now=at,
                values={"delivered_at": at, "smtp_response": "250"},
            )
    delivered.clear()


def _server_unusable(failure: Failure | None) -> bool:
    """No point trying the rest of the batch: the server is unreachable (no SMTP reply at
    all) or refuses us as a sender."""
    return failure is not None and (
        failure.kind == "channel" or (failure.kind == "temporary" and failure.code is None)
    )


def deliver_due(
    *, owner: str | None = None, limit: int = BATCH, now: dt.datetime | None = None
) -> int:
    """Claim up to `limit` due messages and send them over one connection. Returns how many
    were claimed (0: nothing due)."""
    owner = owner or worker.worker_id()
    rows = queue.claim(Message, now=now or clock.now(), owner=owner, lease=LEASE, limit=limit)
    if not rows:
        return 0
    conn = open_connection()
    try:
        # Open it here so the whole batch shares one SMTP session (send_messages() on an
        # unopened backend opens and closes a connection per call). A refused connection is
        # handled per message below, as a temporary failure.
        conn.open()
    except (smtplib.SMTPException, OSError):
        log.debug("outbox: opening the SMTP connection failed", exc_info=True)
    delivered: list[tuple[Message, dt.datetime]] = []
    try:
        for i, row in enumerate(rows):
            failure, _ = _send(row, conn, owner=owner)
            if failure is None:
                delivered.append((row, clock.now()))
            if _server_unusable(failure):
                # Give the rest back unstarted instead of burning an attempt (and raising an
                # alert) for each of them.
                for rest in rows[i + 1 :]:
                    queue.release_lease(rest, owner=owner, now=clock.now())
                break
    finally:
        _complete_delivered(delivered, owner=owner)
        try:
            conn.close()
        except Exception:  # pragma: no cover
            log.debug("outbox: closing the connection failed", exc_info=True)
    return len(rows)


@worker.register
def handle_one_batch() -> bool:
    """Worker handler: deliver one batch of due messages (the worker's reaper returns
    expired outbox leases along with every other due-work table)."""
    return deliver_due() > 0
