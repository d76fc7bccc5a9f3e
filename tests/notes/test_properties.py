"""Properties over arbitrary input: rendered notes never carry active content, and composed
partner/public notes never carry an internal note."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from releasedesk.notes.rendering import ChangeText, compose, find_internal_leak, render_html

ATTACKS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox(1))",
        "![i](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<iframe src=https://evil.test></iframe>",
        "[x](java\tscript:alert(1))",
        "<style>body{display:none}</style>",
        "[x]: javascript:alert(1)\n\n[x]",
    ]
)
TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=80
)

ALLOWED_TAGS = {
    "p",
    "em",
    "strong",
    "a",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "code",
    "pre",
    "blockquote",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
}


class Elements(HTMLParser):
    """The real elements and attributes of a document (text that looks like HTML is not)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@given(st.lists(st.one_of(ATTACKS, TEXT), min_size=1, max_size=6))
def test_rendered_html_has_no_active_content(parts: list[str]) -> None:
    parser = Elements()
    parser.feed(render_html("\n".join(parts)))
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), name
            if name in ("href", "src"):
                assert re.match(r"^(https?:|mailto:|#|/|[^:]*$)", (value or "").strip(), re.I), (
                    value
                )


@st.composite
def change_items(draw: st.DrawFn) -> list[ChangeText]:
    count = draw(st.integers(min_value=1, max_value=6))
    kinds = st.sampled_from(["feature", "fix", "security", "ux", "performance", "other", "odd"])
    items = []
    for i in range(count):
        items.append(
            ChangeText(
                kind=draw(kinds),
                title=draw(TEXT),
                customer_note=draw(TEXT),
                # A recognisable secret per item, possibly surrounded by other text.
                internal_note=draw(TEXT) + f" SECRET-{i}-internal-detail " + draw(TEXT),
                significant=draw(st.booleans()),
            )
        )
    return items


@given(
    change_items(),
    st.sampled_from(["partner", "public"]),
    st.sampled_from(["en", "de", "nl", "fr"]),
)
def test_composed_external_notes_never_contain_internal_notes(
    items: list[ChangeText], tier: str, locale: str
) -> None:
    title, body = compose(
        version="1.0",
        release_title="R",
        release_date=dt.date(2027, 6, 15),
        items=items,
        tier=tier,
        locale=locale,
    )
    for i in range(len(items)):
        assert f"SECRET-{i}-internal-detail" not in body
    assert find_internal_leak(f"{title}\n{body}", items) is None


@given(change_items(), st.sampled_from(["en", "de"]))
def test_internal_notes_contain_every_internal_note(items: list[ChangeText], locale: str) -> None:
    _, body = compose(
        version="1.0",
        release_title="",
        release_date=dt.date(2027, 6, 15),
        items=items,
        tier="internal",
        locale=locale,
    )
    for i in range(len(items)):
        assert f"SECRET-{i}-internal-detail" in body
