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

Cost per message (docs/performance.md, "Notices through the outbox"): the message is an
`OutboxEmail`, whose `message()` builds the same MIME as Django's but without the stdlib
header registry's per-header parse and refold (`_WirePolicy`); the 250s of a batch are
recorded together at its end (`record_delivered`: one transaction, one prepared UPDATE per
row, each fenced by lease owner and attempt).
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.policy
import email.utils
import functools
import logging
import re
import secrets
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.contentmanager import raw_data_manager
from email.policy import EmailPolicy, Policy
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.utils import DNS_NAME
from django.db import connections, router, transaction
from django.utils.encoding import force_str
from django.utils.timezone import get_current_timezone

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


# --- the MIME message ---------------------------------------------------------------------

# Header values the header registry would write back unchanged: printable ASCII on one line,
# no encoded-word look-alike, no leading/trailing/double spaces.
_WIRE_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
# Address headers: a bare addr-spec, or a plain phrase (letters, digits, spaces) and <addr-spec>.
_ADDR_SPEC = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WIRE_ADDRESS = re.compile(rf"{_ADDR_SPEC}|[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <{_ADDR_SPEC}>")
_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender"}
    | {f"resent-{n}" for n in ("from", "to", "cc", "bcc", "sender")}
)


def _wire_ready(name: str, value: str, max_line_length: int | None) -> bool:
    if max_line_length and len(name) + 2 + len(value) > max_line_length:
        return False
    if name.lower() in _ADDRESS_HEADERS:
        return _WIRE_ADDRESS.fullmatch(value) is not None
    return "=?" not in value and _WIRE_TEXT.fullmatch(value) is not None


class _WirePolicy(EmailPolicy):
    """`email.policy.SMTP` (or whichever `EmailPolicy` the backend asks for) without the
    header registry's cost on every header of every message.

    The stdlib parses each header value into a header object when it is *set* and refolds it
    when the message is written — ~30 µs per header just to create the header class, more to
    parse and fold. This policy keeps a value that is already in wire form (see
    `_wire_ready`: what the registry would write back unchanged) as its source text, exactly
    as the stdlib parser stores the headers of a received message: written as is, parsed
    only when read. Parsed header objects are immutable, so the ones read while writing
    (Content-Type of each part) are memoised. Any other value (non-ASCII, too long, an
    unusual address) goes through the registry as with `email.policy.SMTP`.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, str) and _wire_ready(name, value, self.max_line_length):
            return (name, value)
        return super().header_store_parse(name, value)  # type: ignore[no-any-return]

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):
            return value
        # What EmailPolicy.header_fetch_parse does, memoised. Keyed by the header factory,
        # not the policy: the generator clones the policy for every part it writes.
        return _parsed_header(self.header_factory, name, "".join(_LINESEP.split(value)))

    def header_max_count(self, name: str) -> int | None:
        return _max_count(self.header_factory, name.lower())


_LINESEP = re.compile(r"\n|\r")  # email.policy.linesep_splitter


@functools.lru_cache(maxsize=256)
def _parsed_header(factory: Any, name: str, value: str) -> Any:
    return factory(name, value)


@functools.lru_cache(maxsize=64)
def _max_count(factory: Any, name: str) -> int | None:
    count: int | None = factory[name].max_count
    return count


@functools.lru_cache(maxsize=8)
def _wire_policy(policy: Policy) -> _WirePolicy | None:
    """The wire policy with `policy`'s settings (line length, linesep, cte_type, utf8…), or
    None for a policy that is not a plain `EmailPolicy` (compat32, a custom subclass)."""
    if type(policy) is not EmailPolicy:
        return None
    return _WirePolicy(**vars(policy))


def _domain_is_ascii(address: str) -> bool:
    return address.rpartition("@")[2].isascii()


class OutboxEmail(EmailMultiAlternatives):
    """An outbox message for Django's mail backends (SMTP, console, locmem, anymail…).

    ESP backends (django-anymail) read the attributes (subject, body, alternatives, headers)
    and never call `message()`. For backends that do (Django's SMTP backend asks for
    `message(policy=email.policy.SMTP).as_bytes()`), `message()` builds the same MIME tree as
    `EmailMultiAlternatives.message()` — the same headers in the same order, the same parts,
    the same body encodings (the stdlib's own `raw_data_manager`) — with `_WirePolicy`, which
    skips the header registry for values that are already in wire form. Only the boundary
    differs (random either way; ours is short enough to keep Content-Type on one line).
    Anything this fast path does not cover (attachments, Cc/Reply-To, a non-UTF-8 charset,
    non-ASCII domains, which need IDNA) is built by Django's own `message()`.
    """

    def message(
        self, *, policy: Policy | None = email.policy.default
    ) -> email.message.EmailMessage:
        wire = _wire_policy(policy) if policy is not None else None
        if wire is None or not self._fast_path_applies():
            return super().message(policy=policy)
        return self._wire_message(wire)

    def _fast_path_applies(self) -> bool:
        encoding = self.encoding or settings.DEFAULT_CHARSET
        names = {str(k).lower() for k in self.extra_headers}
        return (
            bool(self.body)
            and bool(self.alternatives)
            and not self.attachments
            and not self.cc
            and not self.reply_to
            and str(encoding).lower() in ("utf-8", "utf8")
            and not names & {"from", "to", "cc", "reply-to", "bcc"}
            and all(
                mimetype.startswith("text/") and isinstance(content, str)
                for content, mimetype in self.alternatives
            )
            and all(_domain_is_ascii(str(a)) for a in [self.from_email, *self.to])
        )

    def _wire_message(self, policy: _WirePolicy) -> email.message.EmailMessage:
        charset = "utf-8"
        body = str(self.body)
        # The parts, as EmailMultiAlternatives.message() makes them: the body's part carries
        # only its Content-* headers (make_alternative() moves them off the top level); each
        # alternative is an EmailMessage of its own, which adds MIME-Version (add_alternative).
        text = email.message.EmailMessage(policy=policy)
        raw_data_manager.set_content(text, body, self.content_subtype, charset=charset)
        parts = [text]
        contents = [body]
        for content, mimetype in self.alternatives:
            part = email.message.EmailMessage(policy=policy)
            part.set_content(str(content), subtype=mimetype.split("/", 1)[1], charset=charset)
            parts.append(part)
            contents.append(str(content))

        msg = email.message.EmailMessage(policy=policy)
        msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = f'multipart/alternative; boundary="{_boundary(contents)}"'
        for part in parts:
            msg.attach(part)
        msg["Subject"] = str(self.subject)
        msg["From"] = str(self.from_email)
        if self.to:
            msg["To"] = ", ".join(str(v) for v in self.to)
        names = {str(k).lower() for k in self.extra_headers}
        if "date" not in names:
            now = clock.now()
            if settings.EMAIL_USE_LOCALTIME:
                now = now.astimezone(get_current_timezone())
            msg["Date"] = email.utils.format_datetime(now)
        if "message-id" not in names:
            msg["Message-ID"] = email.utils.make_msgid(domain=str(DNS_NAME))
        for name, value in self.extra_headers.items():
            msg[name] = force_str(value, strings_only=True)
        return msg


def _boundary(contents: Sequence[str]) -> str:
    """A random MIME boundary that occurs in none of the parts (Content-Type stays one line)."""
    while True:
        boundary = f"=_{secrets.token_hex(12)}"
        if not any(boundary in c for c in contents):
            return boundary


def build_email(message: Message) -> OutboxEmail:
    email_message = OutboxEmail(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to_address],
        headers={
            "Message-ID": message.message_id,
            "Auto-Submitted": "auto-generated",
            "X-ReleaseDesk-Key": message.key,
        },
    )
    if message.body_html:
        email_message.attach_alternative(message.body_html, "text/html")
    return email_message


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
    won = record_delivered([(message, clock.now())], owner=owner)
    return WorkState.DONE if won else None


def _send(
    message: Message, conn: BaseEmailBackend, *, owner: str
) -> tuple[Failure | None, str | None]:
    """Send. On failure the row is settled at once: (the failure, the row's new state or
    None if the lease was lost). On 250: (None, None) — the caller records the delivery."""
    try:
        conn.send_messages([build_email(message)])
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


@functools.cache
def _delivered_sql(vendor: str) -> str:
    """The fenced UPDATE that records one 250: only a row still running under this owner
    *and* this attempt (the fencing token of `core.queue`) is touched."""
    del vendor  # the cache key: quoting is the connection's
    qn = connections[router.db_for_write(Message)].ops.quote_name

    columns = {f.name: str(f.column) for f in Message._meta.concrete_fields}

    def col(name: str) -> str:
        return qn(columns[name])

    return (
        f"UPDATE {qn(Message._meta.db_table)} SET {col('state')} = %s,"  # noqa: S608 - names from model meta
        f" {col('delivered_at')} = %s, {col('smtp_response')} = %s, {col('finished_at')} = %s,"
        f" {col('lease_owner')} = '', {col('lease_until')} = NULL, {col('updated_at')} = %s"
        f" WHERE {col('id')} = %s AND {col('state')} = %s AND {col('lease_owner')} = %s"
        f" AND {col('attempts')} = %s"
    )


def record_delivered(delivered: Sequence[tuple[Message, dt.datetime]], *, owner: str) -> int:
    """Record the 250s of a batch: one transaction, one prepared statement executed per row
    (`executemany`), each row with its own 250 instant and fenced by owner and attempt, so a
    row whose lease was lost (reaped, claimed again) is left to its new owner. Returns how
    many rows were recorded; those rows' attributes are updated in memory."""
    if not delivered:
        return 0
    connection = connections[router.db_for_write(Message)]
    adapt = connection.ops.adapt_datetimefield_value
    params = []
    for message, at in delivered:
        when = adapt(at)
        params.append(
            [
                WorkState.DONE.value,
                when,
                "250",
                when,
                when,
                message.pk,
                WorkState.RUNNING.value,
                owner,
                message.attempts,
            ]
        )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.executemany(_delivered_sql(connection.vendor), params)
        won = int(cursor.rowcount)
    if won != len(delivered):
        # Rare: some leases were lost meanwhile; their new owners' values stand. Read back
        # what the rows hold now.
        log.info(
            "outbox: %d of %d delivered message(s) lost their lease before the 250 was recorded",
            len(delivered) - won,
            len(delivered),
        )
        for message, _ in delivered:
            message.refresh_from_db()
        return won
    for message, at in delivered:
        message.state, message.delivered_at, message.smtp_response = WorkState.DONE, at, "250"
        message.finished_at = message.updated_at = at
        message.lease_owner, message.lease_until = "", None
    return won


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
        record_delivered(delivered, owner=owner)
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
