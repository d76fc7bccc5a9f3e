"""Rendering messages from the per-locale templates (en, nl, de).

`outbox/templates/outbox/email/<locale>/<kind>.txt` holds the subject on its first line
(`Subject: …`), a blank line, then the text body. Shared pieces (`_when.txt`,
`_consent.txt`, `_footer.txt`) are included per locale. The HTML body is the same text in
one layout (`outbox/email/layout.html`): paragraphs, lists and links, escaped.

Every instant is shown in the recipient's zone *with the zone's name* and in UTC
("2027-04-01 16:00 CEST (Europe/Amsterdam) = 2027-04-01 14:00 UTC"). The context carries
only what may reach a customer: change items contribute their customer-facing note, never
their internal note, and a context key that mentions "internal" is refused.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from django.template import Context, Engine
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from releasedesk.catalog.choices import SUPPORTED_LOCALES
from releasedesk.core.errors import ValidationFailed
from releasedesk.core.timeutil import UnknownTimeZone, format_local, format_utc, get_zone
from releasedesk.outbox.choices import TEMPLATED_KINDS

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_LOCALE = "en"


class ChangeLike(Protocol):
    title: str
    customer_note: str


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What a message may say. Instants are aware UTC datetimes; texts are customer-facing."""

    release_version: str = ""
    release_title: str = ""
    products: tuple[str, ...] = ()
    customer_name: str = ""
    instance_name: str = ""
    starts_at: dt.datetime | None = None
    previous_starts_at: dt.datetime | None = None  # date_moved: the old slot
    deadline: dt.datetime | None = None  # opt-out / acceptance deadline
    consent_mode: str = ""  # "opt_out", "approve" or "" (nothing to answer)
    opt_out_cap: int | None = None  # consecutive opt-outs allowed
    opt_outs_used: int = 0
    cannot_opt_out: bool = False
    consent_links: tuple[tuple[str, str], ...] = ()
    changes: tuple[str, ...] = ()  # customer-facing notes (see change_lines)
    notes_text: str = ""  # release notes / newsletter body (customer-facing tier)
    roadmap_items: tuple[str, ...] = ()  # approved external wording only
    reason: str = ""  # hotfix reason, why the date moved, why cancelled
    contact_text: str = ""  # whom to contact
    period_label: str = ""  # newsletter / roadmap period ("June 2027")
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def change_lines(items: Iterable[ChangeLike]) -> tuple[str, ...]:
    """The customer-facing lines of change items: the customer note, else the title.
    Internal notes are never read here."""
    lines = []
    for item in items:
        text = (item.customer_note or item.title or "").strip()
        if text:
            lines.append(text)
    return tuple(lines)


def normalise_locale(locale: str) -> str:
    base = (locale or "").split("-")[0].split("_")[0].lower()
    return base if base in SUPPORTED_LOCALES else DEFAULT_LOCALE


def _zone(name: str) -> str:
    try:
        get_zone(name)
    except UnknownTimeZone:
        return "UTC"
    return name


def _times(prefix: str, instant: dt.datetime | None, zone: str) -> dict[str, str]:
    if instant is None:
        return {}
    return {f"{prefix}_local": format_local(instant, zone), f"{prefix}_utc": format_utc(instant)}


@lru_cache(maxsize=1)
def _text_engine() -> Engine:
    # Plain text: no HTML escaping; cached loader (templates parsed once per process).
    return Engine(
        dirs=[str(TEMPLATE_DIR)],
        autoescape=False,
        loaders=[
            ("django.template.loaders.cached.Loader", ["django.template.loaders.filesystem.Loader"])
        ],
    )


def template_context(
    ctx: MessageContext, *, locale: str, zone: str, recipient_name: str
) -> dict[str, Any]:
    for key in ctx.extra:
        if "internal" in key.lower():
            raise ValidationFailed(
                f"context key {key!r}: internal content never goes into a message",
                fields={key: "internal content is not allowed in messages"},
            )
    zone = _zone(zone)
    data: dict[str, Any] = {
        "locale": locale,
        "zone": zone,
        "recipient_name": recipient_name,
        "release_version": ctx.release_version,
        "release_title": ctx.release_title,
        "products": ", ".join(ctx.products),
        "customer_name": ctx.customer_name,
        "instance_name": ctx.instance_name,
        "consent_mode": ctx.consent_mode,
        "opt_out_cap": ctx.opt_out_cap,
        "opt_outs_used": ctx.opt_outs_used,
        "opt_outs_left": (
            max(ctx.opt_out_cap - ctx.opt_outs_used, 0) if ctx.opt_out_cap is not None else None
        ),
        "cannot_opt_out": ctx.cannot_opt_out,
        "consent_links": [{"label": label, "url": url} for label, url in ctx.consent_links],
        "changes": list(ctx.changes),
        "notes_text": ctx.notes_text,
        "roadmap_items": list(ctx.roadmap_items),
        "reason": ctx.reason,
        "contact_text": ctx.contact_text,
        "period_label": ctx.period_label,
        "extra": dict(ctx.extra),
    }
    data.update(_times("start", ctx.starts_at, zone))
    data.update(_times("previous", ctx.previous_starts_at, zone))
    data.update(_times("deadline", ctx.deadline, zone))
    return data


def _split(rendered: str, name: str) -> tuple[str, str]:
    head, sep, body = rendered.lstrip("\n").partition("\n")
    if not head.startswith("Subject:") or not sep:
        raise ValueError(f"template {name}: the first line must be 'Subject: …'")
    subject = " ".join(head.removeprefix("Subject:").split())
    text = "\n".join(line.rstrip() for line in body.strip("\n").splitlines())
    # Collapse runs of blank lines left by template tags.
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return subject, text.strip() + "\n"


_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(line: str) -> SafeString:
    """The line HTML-escaped, with its http(s) URLs as links (Django's urlize is 10x slower)."""
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(line):
        out.append(html.escape(line[pos : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        pos = match.end()
    out.append(html.escape(line[pos:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped above


def _paragraphs(text: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if lines and all(line.startswith("- ") for line in lines):
            blocks.append({"bullets": [linkify(line[2:]) for line in lines]})
        else:
            blocks.append({"lines": [linkify(line) for line in lines]})
    return blocks


def render_message(
    kind: str, ctx: MessageContext, *, locale: str, zone: str, recipient_name: str = ""
) -> Rendered:
    """Subject, text and HTML of a templated message for one recipient."""
    if kind not in TEMPLATED_KINDS:
        raise ValidationFailed(
            f"no template for message kind {kind!r}",
            fields={"kind": f"allowed: {', '.join(TEMPLATED_KINDS)}"},
        )
    loc = normalise_locale(locale)
    data = template_context(ctx, locale=loc, zone=zone, recipient_name=recipient_name)
    name = f"outbox/email/{loc}/{kind}.txt"
    subject, text = _split(
        _text_engine().get_template(name).render(Context(data, autoescape=False)), name
    )
    return Rendered(subject=subject, text=text, html=render_html(subject, text, locale=loc))


def render_html(subject: str, text: str, *, locale: str) -> str:
    return get_template("outbox/email/layout.html").render(
        {"subject": subject, "blocks": _paragraphs(text), "locale": locale}
    )
