"""Pure text rules: composition per tier and locale, sanitising, the internal-note guard."""

from __future__ import annotations

import datetime as dt

import pytest

from releasedesk.notes.rendering import (
    ChangeText,
    apply_brand,
    compose,
    find_internal_leak,
    render_html,
    sanitise_inline,
)
from releasedesk.notes.selectors import digest_period, pick_locale, version_key

ITEMS = [
    ChangeText(
        "feature",
        "Offline maps",
        "Maps now work without a connection.",
        "Uses the new tile cache from vendor Kartografix",
        significant=True,
    ),
    ChangeText("fix", "Login loop fixed", "", "Root cause was the SameSite cookie bug"),
    ChangeText(
        "security", "Hardened the upload form", "Uploads are checked more strictly.\nSecond line."
    ),
]


def _compose(tier: str, locale: str) -> tuple[str, str]:
    return compose(
        version="7.2.0",
        release_title="Summer release",
        release_date=dt.date(2027, 6, 15),
        items=ITEMS,
        tier=tier,
        locale=locale,
    )


def test_public_english_notes_carry_customer_text_only() -> None:
    title, body = _compose("public", "en")
    assert title == "{brand} 7.2.0 — Summer release"
    assert body == (
        "*Release date: 2027-06-15*\n\n"
        "## New features\n\n- **Offline maps** — Maps now work without a connection.\n\n"
        "## Fixes\n\n- **Login loop fixed**\n\n"
        "## Security\n\n- **Hardened the upload form** — Uploads are checked more strictly.\n"
        "  Second line.\n"
    )


def test_partner_dutch_notes_are_localised_and_have_no_internal_text() -> None:
    _, body = _compose("partner", "nl")
    assert body.startswith("*Releasedatum: 2027-06-15*\n\n## Nieuwe functies\n")
    assert "## Verbeteringen" in body
    assert "## Beveiliging" in body
    assert "Kartografix" not in body
    assert "SameSite" not in body
    assert "belangrijk" not in body  # the significant marker is internal


def test_internal_german_notes_include_internal_notes_and_significance() -> None:
    _, body = _compose("internal", "de")
    assert "- **Offline maps** (wesentlich) — Maps now work without a connection.\n" in body
    assert "  - *Intern:* Uses the new tile cache from vendor Kartografix\n" in body
    assert "  - *Intern:* Root cause was the SameSite cookie bug\n" in body
    assert body.startswith("*Veröffentlichungsdatum: 2027-06-15*\n\n## Neue Funktionen\n")


def test_unknown_locale_falls_back_to_english_words() -> None:
    _, body = _compose("public", "fr")
    assert body.startswith("*Release date: 2027-06-15*")


def test_release_without_changes_says_so() -> None:
    _, body = compose(
        version="1.0",
        release_title="",
        release_date=dt.date(2027, 1, 6),
        items=[],
        tier="public",
        locale="de",
    )
    assert body == (
        "*Veröffentlichungsdatum: 2027-01-06*\n\n"
        "Für diese Version sind keine Änderungen aufgeführt.\n"
    )


def test_script_tags_are_escaped_and_javascript_links_dropped() -> None:
    html = render_html(
        "Hello <script>alert(1)</script>\n\n[click](javascript:alert(2)) "
        "[ok](https://example.test/x) <img src=x onerror=alert(3)>\n\n"
        '[data](data:text/html;base64,PHNjcmlwdD4=) <a href="javascript:alert(4)">raw</a>'
        " ![i](javascript:alert(5))"
    )
    # Raw HTML is shown as text, dangerous links are not made links at all.
    assert html == (
        "<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
        "<p>[click](javascript:alert(2)) "
        '<a href="https://example.test/x" rel="noopener noreferrer">ok</a> '
        "&lt;img src=x onerror=alert(3)&gt;</p>\n"
        "<p>[data](data:text/html;base64,PHNjcmlwdD4=) "
        '&lt;a href="javascript:alert(4)"&gt;raw&lt;/a&gt; ![i](javascript:alert(5))</p>\n'
    )
    assert "<script" not in html
    assert "<img" not in html
    assert '<a href="javascript' not in html


def test_sanitiser_strips_dangerous_html_even_if_markdown_let_it_through() -> None:
    # Defence in depth: nh3 alone removes scripts, handlers and javascript: URLs.
    import nh3

    from releasedesk.notes.rendering import ALLOWED_URL_SCHEMES

    dirty = '<p onclick="x()">a</p><script>b()</script><a href="javascript:c()">d</a>'
    assert nh3.clean(dirty, url_schemes=ALLOWED_URL_SCHEMES) == (
        '<p>a</p><a rel="noopener noreferrer">d</a>'
    )


def test_titles_lose_tags() -> None:
    assert sanitise_inline("Notes <b>bold</b><script>x</script>") == "Notes bold"


def test_brand_placeholder() -> None:
    assert apply_brand("{brand} 7.2.0 — {brand}", "Lernwerk Platform") == (
        "Lernwerk Platform 7.2.0 — Lernwerk Platform"
    )


def test_internal_leak_found_even_with_other_spacing_and_case() -> None:
    text = "Intro\n\nuses the new   TILE cache from vendor kartografix, sorry"
    assert find_internal_leak(text, ITEMS) == "Offline maps"
    assert find_internal_leak("Maps now work without a connection.", ITEMS) is None


def test_internal_text_also_published_by_its_authors_is_not_a_leak() -> None:
    items = [ChangeText("fix", "Faster search", "Search is faster now", "Search is faster now")]
    assert find_internal_leak("Search is faster now", items) is None


def test_short_internal_fragments_are_ignored() -> None:
    items = [ChangeText("fix", "Typo", "", "n/a")]
    assert find_internal_leak("n/a everywhere", items) is None


def test_version_ordering_is_natural() -> None:
    versions = ["5.10.0", "5.9.2", "5.9.10", "6.0.0-rc1", "6.0.0"]
    assert sorted(versions, key=version_key) == ["5.9.2", "5.9.10", "5.10.0", "6.0.0", "6.0.0-rc1"]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2027, 1, 6), (dt.date(2027, 1, 6), dt.date(2027, 2, 2))),
        (dt.date(2027, 2, 2), (dt.date(2027, 1, 6), dt.date(2027, 2, 2))),
        (dt.date(2027, 2, 3), (dt.date(2027, 2, 3), dt.date(2027, 3, 2))),
        (dt.date(2027, 3, 10), (dt.date(2027, 3, 3), dt.date(2027, 3, 30))),
        (dt.date(2027, 1, 5), (dt.date(2026, 12, 9), dt.date(2027, 1, 5))),
    ],
)
def test_digest_period_every_four_weeks_from_the_s2_anchor(
    day: dt.date, expected: tuple[dt.date, dt.date]
) -> None:
    assert digest_period(dt.date(2027, 1, 6), 4, day) == expected


def test_pick_locale_fallbacks() -> None:
    assert pick_locale(["en", "de"], "de-CH") == "de"
    assert pick_locale(["en", "de"], "nl") == "en"
    assert pick_locale(["de"], "nl") == "de"
    assert pick_locale([], "en") is None
