"""The publication channels' mechanics: docs-portal files, the signed knowledge-base webhook
(Standard Webhooks), and Atom feeds. State changes around them live in `services.py`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings
from django.core import signing
from django.utils.feedgenerator import Atom1Feed

from releasedesk.catalog.models import Customer
from releasedesk.notes import rendering
from releasedesk.notes.choices import NoteState
from releasedesk.notes.models import Digest, FeedKey, ReleaseNote
from releasedesk.notes.selectors import (
    RenderedNote,
    default_brand,
    render_note,
    version_key,
    white_label_variant,
)

KB_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
FEED_SALT = "releasedesk.notes.feed"
FEED_LIMIT = 50
MAX_FEED_TOKEN = 500


# --- files --------------------------------------------------------------------------------


def export_root() -> Path:
    return Path(settings.NOTES_EXPORT_DIR)


def _write(path: Path, text: str) -> None:
    """Write atomically (a reader of the docs portal never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def html_page(title: str, body_html: str, *, lang: str) -> str:
    """A standalone page; `body_html` is already sanitised, `title` is escaped here."""
    safe_title = html.escape(title)
    return (
        f'<!doctype html>\n<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{safe_title}</title>\n</head>\n<body>\n<h1>{safe_title}</h1>\n"
        f"{body_html}</body>\n</html>\n"
    )


def markdown_file(rendered: RenderedNote) -> str:
    return f"# {rendered.title}\n\n{rendered.markdown}"


def note_dir(note: ReleaseNote) -> Path:
    return export_root() / note.release.policy.slug / note.audience / note.locale


def _write_pair(directory: Path, stem: str, rendered: RenderedNote, locale: str) -> list[Path]:
    md_path, html_path = directory / f"{stem}.md", directory / f"{stem}.html"
    _write(md_path, markdown_file(rendered))
    _write(html_path, html_page(rendered.title, rendered.html, lang=locale))
    return [md_path, html_path]


def _write_index(
    directory: Path, title: str, entries: list[tuple[str, str]], locale: str
) -> list[Path]:
    """index.md / index.html linking `entries` of (file stem, title)."""
    md = [f"# {title}", ""] + [f"- [{t}]({stem}.html)" for stem, t in entries]
    items = "".join(
        f'<li><a href="{html.escape(stem)}.html">{html.escape(t)}</a></li>\n' for stem, t in entries
    )
    _write(directory / "index.md", "\n".join(md) + "\n")
    _write(directory / "index.html", html_page(title, f"<ul>\n{items}</ul>\n", lang=locale))
    return [directory / "index.md", directory / "index.html"]


def export_note(note: ReleaseNote) -> list[Path]:
    """<export>/<policy>/<audience>/<locale>/<version>.md and .html, plus that directory's
    index of every published note (newest version first)."""
    directory = note_dir(note)
    paths = _write_pair(directory, note.release.version, render_note(note), note.locale)
    published = list(
        ReleaseNote.objects.filter(
            release__policy=note.release.policy,
            audience=note.audience,
            locale=note.locale,
            state=NoteState.PUBLISHED,
        ).select_related("release")
    )
    published.sort(key=lambda n: version_key(n.release.version), reverse=True)
    entries = [(n.release.version, render_note(n).title) for n in published]
    paths += _write_index(directory, rendering.word(note.locale, "notes"), entries, note.locale)
    return paths


def export_white_label(note: ReleaseNote, customer: Customer) -> list[Path]:
    """<export>/white-label/<customer>/<locale>/<version>.md and .html under the OEM's name."""
    directory = export_root() / "white-label" / customer.slug / note.locale
    return _write_pair(
        directory, note.release.version, white_label_variant(note, customer), note.locale
    )


def export_digest(digest: Digest) -> list[Path]:
    """<export>/<policy>/<audience>/<locale>/digests/<start>_<end>.md and .html."""
    directory = export_root() / digest.policy.slug / digest.audience / digest.locale / "digests"
    rendered = RenderedNote(
        title=digest.title, markdown=digest.body, html=rendering.render_html(digest.body)
    )
    stem = f"{digest.period_start.isoformat()}_{digest.period_end.isoformat()}"
    paths = _write_pair(directory, stem, rendered, digest.locale)
    others = sorted(
        Digest.objects.filter(
            policy=digest.policy, audience=digest.audience, locale=digest.locale
        ).values_list("period_start", "period_end", "title"),
        reverse=True,
    )
    entries = [(f"{s.isoformat()}_{e.isoformat()}", t) for s, e, t in others]
    paths += _write_index(
        directory, rendering.word(digest.locale, "digest"), entries, digest.locale
    )
    return paths


# --- knowledge-base webhook (Standard Webhooks) ---------------------------------------------


class DeliveryError(Exception):
    """A delivery attempt failed; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


def webhook_id(key: str) -> str:
    """Deterministic `webhook-id` from the publication key: a retry carries the same id, so
    the receiver deduplicates at-least-once deliveries."""
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def secret_bytes(secret: str) -> bytes:
    """Standard Webhooks secrets are `whsec_<base64>`; anything else is used as UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError as exc:
            raise DeliveryError(
                "RELEASEDESK_KB_WEBHOOK_SECRET: the whsec_ value is not valid base64",
                permanent=True,
            ) from exc
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class KbRequest:
    url: str
    headers: dict[str, str]
    body: bytes


def kb_payload(note: ReleaseNote) -> dict[str, object]:
    rendered = render_note(note)
    return {
        "type": "release_notes.published",
        "data": {
            "release": note.release.version,
            "release_date": note.release.target_date.isoformat(),
            "products": sorted(p.slug for p in note.release.products.all()),
            "audience": note.audience,
            "tier": note.tier,
            "locale": note.locale,
            "revision": note.revision,
            "title": rendered.title,
            "markdown": rendered.markdown,
            "html": rendered.html,
        },
    }


def build_kb_request(
    *,
    key: str,
    note: ReleaseNote,
    now: dt.datetime,
    url: str | None = None,
    secret: str | None = None,
) -> KbRequest:
    url = settings.NOTES_KB_WEBHOOK_URL if url is None else url
    secret = settings.NOTES_KB_WEBHOOK_SECRET if secret is None else secret
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(
            "no knowledge-base webhook configured (RELEASEDESK_KB_WEBHOOK_URL must be an http(s) URL)",
            permanent=True,
        )
    if not secret:
        raise DeliveryError(
            "RELEASEDESK_KB_WEBHOOK_SECRET is not set: knowledge-base posts are always signed",
            permanent=True,
        )
    body = json.dumps(kb_payload(note), separators=(",", ":"), ensure_ascii=False).encode()
    msg_id = webhook_id(key)
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "idempotency-key": key,
    }
    return KbRequest(url=url, headers=headers, body=body)


def send_kb_request(request: KbRequest) -> int:
    """POST it; 2xx is delivered, 4xx (but 408/429) permanent, anything else temporary."""
    try:
        response = httpx.post(
            request.url, content=request.body, headers=request.headers, timeout=KB_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"knowledge base unreachable: {exc.__class__.__name__}: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return status
    permanent = 400 <= status < 500 and status not in (408, 429)
    raise DeliveryError(
        f"knowledge base answered HTTP {status}", permanent=permanent, status=status
    )


# --- Atom feeds -----------------------------------------------------------------------------


def feed_key_version(policy_slug: str, audience: str) -> int:
    """The current key version of a partner feed (1 until it is first rotated)."""
    found = (
        FeedKey.objects.filter(policy__slug=policy_slug, audience=audience)
        .values_list("version", flat=True)
        .first()
    )
    return found or 1


def feed_token(policy_slug: str, audience: str, *, version: int | None = None) -> str:
    """The token of a partner feed's URL: signed (policy, audience, key version); feed
    readers cannot sign in. Rotating the audience's `FeedKey` revokes it."""
    if version is None:
        version = feed_key_version(policy_slug, audience)
    return signing.dumps(
        {"p": policy_slug, "a": audience, "v": version}, salt=FEED_SALT, compress=True
    )


def feed_token_valid(token: str, policy_slug: str, audience: str) -> bool:
    """True only for an untampered token of this policy and audience at the audience's
    current key version. (Tokens issued before versions existed carry none: version 1.)"""
    if not token or len(token) > MAX_FEED_TOKEN:
        return False
    try:
        data = signing.loads(token, salt=FEED_SALT)
    except signing.BadSignature:
        return False
    if not isinstance(data, dict) or data.get("p") != policy_slug or data.get("a") != audience:
        return False
    version = data.get("v", 1)
    return type(version) is int and version == feed_key_version(policy_slug, audience)


def build_feed(
    *,
    policy_slug: str,
    audience: str,
    locale: str,
    notes: list[ReleaseNote],
    feed_url: str,
    link: str,
    entry_link: Callable[[ReleaseNote], str],
) -> str:
    """An Atom 1.0 document of `notes` (already filtered to the audience and published)."""
    feed = Atom1Feed(
        title=f"{rendering.word(locale, 'notes')} — {policy_slug} ({audience})",
        link=link,
        description=f"Release notes for {audience}",
        language=locale,
        feed_url=feed_url,
        id=f"{link.rstrip('/')}/notes/feeds/{policy_slug}/{audience}/{locale}",
    )
    for note in notes[:FEED_LIMIT]:
        rendered = render_note(note, brand=default_brand(note.release))
        assert note.published_at is not None
        feed.add_item(
            title=rendered.title,
            link=entry_link(note),
            description=rendered.html,
            unique_id=f"{link.rstrip('/')}/notes/{note.pk}/r{note.revision}",
            pubdate=note.published_at,
            updateddate=note.published_at,
        )
    return feed.writeString("utf-8")
