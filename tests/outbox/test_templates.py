"""Every template in every locale: local time with the zone's name, UTC, no internal notes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from releasedesk.core.errors import ValidationFailed
from releasedesk.outbox.choices import TEMPLATED_KINDS
from releasedesk.outbox.rendering import (
    MessageContext,
    change_lines,
    linkify,
    normalise_locale,
    render_message,
)

UTC = dt.UTC
LOCALES = ("en", "nl", "de")
SECRET = "INTERNAL-ONLY: db migration locks table for 40s"


@dataclass
class Change:
    title: str
    customer_note: str
    internal_note: str


CHANGES = [
    Change("Faster slides", "Presentations load twice as fast", SECRET),
    Change("Quiz fix", "", "root cause: race in scorer " + SECRET),
]

# S3: upgrade Tuesday 2027-02-09 18:00 GMT; opt-out until 13:00 GMT the same day.
START = dt.datetime(2027, 2, 9, 18, 0, tzinfo=UTC)
DEADLINE = dt.datetime(2027, 2, 9, 13, 0, tzinfo=UTC)
PREVIOUS = dt.datetime(2027, 1, 12, 18, 0, tzinfo=UTC)


def _context(**extra: object) -> MessageContext:
    values: dict[str, object] = {
        "release_version": "7.2",
        "products": ("Presenter",),
        "customer_name": "Hosted Co",
        "instance_name": "hosted-1",
        "starts_at": START,
        "previous_starts_at": PREVIOUS,
        "deadline": DEADLINE,
        "consent_mode": "opt_out",
        "opt_out_cap": 2,
        "opt_outs_used": 1,
        "consent_links": (("Opt out", "https://rd.test/portal/c/tok?a=1&b=2"),),
        "changes": change_lines(CHANGES),
        "notes_text": "Presentations load twice as fast.",
        "roadmap_items": ("This new feature is currently in active development",),
        "reason": "security",
        "contact_text": "support@vendor.test",
        "period_label": "February 2027",
    }
    values.update(extra)
    return MessageContext(**values)  # type: ignore[arg-type]


def test_change_lines_use_the_customer_note_never_the_internal_one() -> None:
    assert change_lines(CHANGES) == ("Presentations load twice as fast", "Quiz fix")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_every_template_shows_local_time_zone_name_and_utc(kind: str, locale: str) -> None:
    rendered = render_message(
        kind, _context(), locale=locale, zone="Europe/London", recipient_name="Ada"
    )
    for body in (rendered.text, rendered.html):
        assert "2027-02-09 18:00 GMT (Europe/London)" in body
        assert "2027-02-09 18:00 UTC" in body
        assert "INTERNAL" not in body
        assert "race in scorer" not in body
        assert "Ada" in body
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.text.endswith("\n")
    assert "\n\n\n" not in rendered.text


@pytest.mark.parametrize("locale", LOCALES)
def test_times_in_summer_time_and_other_zones(locale: str) -> None:
    # S1: 2027-04-01 14:00 UTC is 16:00 CEST in Amsterdam, 10:00 EDT in New York.
    ctx = _context(starts_at=dt.datetime(2027, 4, 1, 14, 0, tzinfo=UTC))
    ams = render_message("advance_notice", ctx, locale=locale, zone="Europe/Amsterdam")
    assert "2027-04-01 16:00 CEST (Europe/Amsterdam)" in ams.text
    assert "2027-04-01 14:00 UTC" in ams.text
    nyc = render_message("advance_notice", ctx, locale=locale, zone="America/New_York")
    assert "2027-04-01 10:00 EDT (America/New_York)" in nyc.text
    # An unknown zone falls back to UTC, still named.
    bad = render_message("advance_notice", ctx, locale=locale, zone="Mars/Olympus")
    assert "2027-04-01 14:00 UTC (UTC)" in bad.text


EXPECTED_OPT_OUT = {
    "en": (
        "You can opt out until 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC).",
        "You can opt out at most 2 times in a row; 1 opt-out left.",
    ),
    "nl": (
        "U kunt zich afmelden tot 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC).",
        "U kunt zich hoogstens 2 keer achter elkaar afmelden; u heeft nog 1 afmelding over.",
    ),
    "de": (
        "Sie können bis 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC) widersprechen",
        "Sie können höchstens 2-mal hintereinander widersprechen; Ihnen bleiben noch 1.",
    ),
}
EXPECTED_NO_OPT_OUT = {
    "en": "This upgrade cannot be opted out of.",
    "nl": "Voor deze upgrade is afmelden (opt-out) niet mogelijk.",
    "de": "Diesem Upgrade kann nicht widersprochen werden (kein Opt-out möglich).",
}
EXPECTED_APPROVE = {
    "en": "Please accept this release until 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC).",
    "nl": "Keur deze release goed vóór 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC).",
    "de": "Bitte geben Sie dieses Release bis 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC) frei.",
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", ["advance_notice", "reminder", "date_moved"])
def test_consent_statements(kind: str, locale: str) -> None:
    text = render_message(kind, _context(), locale=locale, zone="Europe/London").text
    deadline_line, cap_line = EXPECTED_OPT_OUT[locale]
    assert deadline_line in text
    assert cap_line in text
    assert "- Opt out: https://rd.test/portal/c/tok?a=1&b=2" in text
    html = render_message(kind, _context(), locale=locale, zone="Europe/London").html
    assert '<a href="https://rd.test/portal/c/tok?a=1&amp;b=2">' in html

    locked = render_message(
        kind, _context(cannot_opt_out=True), locale=locale, zone="Europe/London"
    ).text
    assert EXPECTED_NO_OPT_OUT[locale] in locked
    assert deadline_line not in locked

    accept = render_message(
        kind, _context(consent_mode="approve"), locale=locale, zone="Europe/London"
    ).text
    assert EXPECTED_APPROVE[locale] in accept

    quiet = render_message(
        kind, _context(consent_mode="", consent_links=()), locale=locale, zone="Europe/London"
    ).text
    assert "13:00 GMT" not in quiet
    assert "https://" not in quiet


def test_date_moved_shows_old_and_new_slot() -> None:
    text = render_message("date_moved", _context(), locale="en", zone="Europe/London").text
    assert "It was planned for 2027-01-12 18:00 GMT (Europe/London) (2027-01-12 18:00 UTC)." in text
    assert "New date: 2027-02-09 18:00 GMT (Europe/London)" in text


def test_exact_english_advance_notice() -> None:
    rendered = render_message(
        "advance_notice",
        _context(opt_out_cap=None),
        locale="en-GB",
        zone="Europe/London",
        recipient_name="Ada",
    )
    assert (
        rendered.subject == "Planned upgrade: Presenter 7.2 on 2027-02-09 18:00 GMT (Europe/London)"
    )
    assert rendered.text == (
        "Hello Ada,\n"
        "\n"
        "We will upgrade Presenter on hosted-1 for Hosted Co to version 7.2.\n"
        "\n"
        "When: 2027-02-09 18:00 GMT (Europe/London)\n"
        "That is 2027-02-09 18:00 UTC.\n"
        "\n"
        "What changes:\n"
        "\n"
        "- Presentations load twice as fast\n"
        "- Quiz fix\n"
        "\n"
        "You can opt out until 2027-02-09 13:00 GMT (Europe/London) (2027-02-09 13:00 UTC). "
        "If we do not hear from you, the upgrade goes ahead.\n"
        "\n"
        "- Opt out: https://rd.test/portal/c/tok?a=1&b=2\n"
        "\n"
        "Questions? support@vendor.test\n"
        "\n"
        "Kind regards,\n"
        "The release team\n"
    )


def test_internal_context_keys_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="internal content never goes into a message"):
        render_message(
            "newsletter",
            _context(extra={"internal_note": SECRET}),
            locale="en",
            zone="UTC",
        )


def test_unknown_kind_and_locale_fallback() -> None:
    with pytest.raises(ValidationFailed, match="no template for message kind 'staff_alert'"):
        render_message("staff_alert", _context(), locale="en", zone="UTC")
    assert normalise_locale("nl-BE") == "nl"
    assert normalise_locale("fr") == "en"
    assert normalise_locale("") == "en"


def test_html_escapes_content_and_links_urls() -> None:
    assert str(linkify("<b>x</b> see https://a.test/?q=1&r=2 now")) == (
        '&lt;b&gt;x&lt;/b&gt; see <a href="https://a.test/?q=1&amp;r=2">https://a.test/?q=1&amp;r=2</a> now'
    )
    rendered = render_message(
        "newsletter", _context(notes_text="<script>alert(1)</script>"), locale="en", zone="UTC"
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text  # plain text stays plain
