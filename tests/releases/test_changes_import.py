from __future__ import annotations

import pytest

from releasedesk.core.errors import ValidationFailed
from releasedesk.releases.changes_import import parse_changes, render_markdown


def test_markdown_sections_markers_and_notes() -> None:
    items = parse_changes(
        "# Changelog\n## 5.4.0\n### Added\n- Whiteboards [significant]\n  Customer: Share boards.\n  Internal: Flagged.\n"
        "### Fixed\n- Login loop\n### Changed\n- Faster search [performance]\n- New index [db]\n### Removed\n- Old API [irreversible]\n",
        filename="CHANGELOG.md",
    )
    assert [(i.kind, i.title, i.significant, i.reversible) for i in items] == [
        ("feature", "Whiteboards", True, True),
        ("fix", "Login loop", False, True),
        ("performance", "Faster search", False, True),
        ("database_migration", "New index", False, True),
        ("other", "Old API", False, False),
    ]
    assert (items[0].customer_note, items[0].internal_note) == ("Share boards.", "Flagged.")
    assert parse_changes(render_markdown(items)) == items


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("### Added\n- ok\n### Rewrites\n- x\n", "CHANGELOG.md:3: unknown section 'Rewrites'"),
        (
            "### Added\n- ok [shiny]\n",
            "CHANGELOG.md:2: unknown marker [shiny] (allowed: significant, irreversible, db, migration, feature",
        ),
        ("- orphan\n", "CHANGELOG.md:1: a change item outside a '### Section' needs a kind marker"),
        (
            "### Fixed\n- a\n  Nonsense\n",
            "CHANGELOG.md:3: a continuation line must start with 'Customer:' or 'Internal:'",
        ),
        (
            "### Fixed\nplain text\n",
            "CHANGELOG.md:2: expected a '### Section' heading or a '- item' line",
        ),
        ("### Fixed\n- [significant]\n", "CHANGELOG.md:2: a change item needs a title"),
    ],
)
def test_markdown_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_changes(text, filename="CHANGELOG.md")
    assert exc.value.message.startswith(message)


def test_json_items_and_errors() -> None:
    items = parse_changes(
        '[{"kind": "security", "title": "Rotate keys", "reversible": false}]', filename="c.json"
    )
    assert (items[0].kind, items[0].reversible) == ("security", False)
    with pytest.raises(
        ValidationFailed, match=r"c.json: item 2: kind: Value error, unknown change kind 'rewrite'"
    ):
        parse_changes(
            '[{"kind": "fix", "title": "a"}, {"kind": "rewrite", "title": "b"}]', filename="c.json"
        )
    with pytest.raises(ValidationFailed, match=r"c.json:1:2: not valid JSON"):
        parse_changes("[oops]", filename="c.json")
    with pytest.raises(ValidationFailed, match="expected a JSON list"):
        parse_changes('{"kind": "fix"}', filename="c.json")
    with pytest.raises(ValidationFailed, match="item 1: colour: Extra inputs are not permitted"):
        parse_changes('[{"kind": "fix", "title": "a", "colour": "red"}]', filename="c.json")
