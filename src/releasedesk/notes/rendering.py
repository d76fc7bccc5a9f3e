"""Pure text work: composing a note's Markdown from change items, rendering it to safe HTML,
the white-label brand, and the guard that keeps internal notes out of external tiers.

No database access here: callers pass plain values, so every rule is testable alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

from releasedesk.notes.choices import Tier

# `{brand}` in a note's title or body: the product name(s) in the vendor's own channels,
# the OEM's name in a white-label variant.
BRAND = "{brand}"

FALLBACK_LOCALE = "en"
SUPPORTED = ("en", "nl", "de")

# Sections in reading order, per locale.
SECTION_ORDER = (
    "feature",
    "ux",
    "performance",
    "fix",
    "security",
    "database_migration",
    "other",
)
HEADINGS: dict[str, dict[str, str]] = {
    "en": {
        "feature": "New features",
        "ux": "User experience",
        "performance": "Performance",
        "fix": "Fixes",
        "security": "Security",
        "database_migration": "Database changes",
        "other": "Other changes",
    },
    "nl": {
        "feature": "Nieuwe functies",
        "ux": "Gebruikerservaring",
        "performance": "Prestaties",
        "fix": "Verbeteringen",
        "security": "Beveiliging",
        "database_migration": "Databasewijzigingen",
        "other": "Overige wijzigingen",
    },
    "de": {
        "feature": "Neue Funktionen",
        "ux": "Benutzerfreundlichkeit",
        "performance": "Leistung",
        "fix": "Fehlerbehebungen",
        "security": "Sicherheit",
        "database_migration": "Datenbankänderungen",
        "other": "Weitere Änderungen",
    },
}
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "release_date": "Release date",
        "internal": "Internal",
        "significant": "significant",
        "no_changes": "No changes are listed for this release.",
        "notes": "Release notes",
        "digest": "Release notes digest",
        "digest_empty": "No release notes were published in this period.",
        "period": "Period",
    },
    "nl": {
        "release_date": "Releasedatum",
        "internal": "Intern",
        "significant": "belangrijk",
        "no_changes": "Voor deze release zijn geen wijzigingen vermeld.",
        "notes": "Release notes",
        "digest": "Overzicht van release notes",
        "digest_empty": "In deze periode zijn geen release notes gepubliceerd.",
        "period": "Periode",
    },
    "de": {
        "release_date": "Veröffentlichungsdatum",
        "internal": "Intern",
        "significant": "wesentlich",
        "no_changes": "Für diese Version sind keine Änderungen aufgeführt.",
        "notes": "Versionshinweise",
        "digest": "Übersicht der Versionshinweise",
        "digest_empty": "In diesem Zeitraum wurden keine Versionshinweise veröffentlicht.",
        "period": "Zeitraum",
    },
}

# Internal-note fragments shorter than this are not searched for (too many false alarms).
MIN_FRAGMENT = 12

ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    "table"
)


@dataclass(frozen=True)
class ChangeText:
    """What composition needs of one change item."""

    kind: str
    title: str
    customer_note: str = ""
    internal_note: str = ""
    significant: bool = False


def lang(locale: str) -> str:
    """The language whose words we have for `locale` ('de-CH' → 'de'), else English."""
    base = (locale or "").split("-")[0].lower()
    return base if base in SUPPORTED else FALLBACK_LOCALE


def word(locale: str, key: str) -> str:
    return WORDS[lang(locale)][key]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _indent(text: str, prefix: str = "  ") -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(prefix + line if line else "" for line in lines)


def compose(
    *,
    version: str,
    release_title: str,
    release_date: dt.date,
    items: Sequence[ChangeText],
    tier: str,
    locale: str,
) -> tuple[str, str]:
    """(title, Markdown body) of the notes for one tier and locale.

    Partner and public tiers get each change's title and customer-facing note; only the
    internal tier also gets internal notes and the `significant` marker.
    """
    internal = tier == Tier.INTERNAL
    title = f"{BRAND} {version}" + (f" — {_one_line(release_title)}" if release_title else "")
    parts = [f"*{word(locale, 'release_date')}: {release_date.isoformat()}*"]
    headings = HEADINGS[lang(locale)]
    known = set(SECTION_ORDER)
    for kind in SECTION_ORDER:
        group = [i for i in items if (i.kind if i.kind in known else "other") == kind]
        if not group:
            continue
        lines = [f"## {headings[kind]}", ""]
        for item in group:
            head = f"- **{_one_line(item.title)}**"
            if internal and item.significant:
                head += f" ({word(locale, 'significant')})"
            note = item.customer_note.strip()
            if note and _one_line(note) != _one_line(item.title):
                first, _, rest = note.partition("\n")
                head += f" — {first.strip()}"
                if rest.strip():
                    head += "\n" + _indent(rest)
            lines.append(head)
            if internal and item.internal_note.strip():
                lines.append(f"  - *{word(locale, 'internal')}:* " + _one_line(item.internal_note))
        parts.append("\n".join(lines))
    if len(parts) == 1:
        parts.append(word(locale, "no_changes"))
    return title, "\n\n".join(parts) + "\n"


def apply_brand(text: str, brand: str) -> str:
    return text.replace(BRAND, brand)


def render_html(markdown: str) -> str:
    """Markdown → HTML without raw HTML (escaped by markdown-it), then sanitised by nh3
    (no scripts, no event handlers, only http/https/mailto links)."""
    html = _md.render(markdown or "")
    return nh3.clean(html, url_schemes=ALLOWED_URL_SCHEMES, link_rel="noopener noreferrer")


def sanitise_inline(text: str) -> str:
    """Plain text for places that take no markup (titles): strip any tags."""
    return nh3.clean(text, tags=set())


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def internal_fragments(items: Iterable[ChangeText]) -> list[tuple[str, str]]:
    """(change title, fragment) pairs: every internal-note line long enough to recognise,
    except text the authors also put in a customer-facing field (then it is not secret)."""
    items = list(items)
    public = " \n ".join(_normalise(f"{i.title} {i.customer_note}") for i in items)
    found: list[tuple[str, str]] = []
    for item in items:
        for line in item.internal_note.splitlines():
            fragment = _normalise(line.strip(" -*>#\t"))
            if len(fragment) >= MIN_FRAGMENT and fragment not in public:
                found.append((item.title, fragment))
    return found


def find_internal_leak(text: str, items: Iterable[ChangeText]) -> str | None:
    """The title of a change whose internal note appears in `text`, else None."""
    haystack = _normalise(text)
    for title, fragment in internal_fragments(items):
        if fragment in haystack:
            return title
    return None
