"""Change items from a file: a JSON list, or a Markdown changelog (keep-a-changelog style).

Markdown::

    ## 5.4.0
    ### Added
    - Shared whiteboards [significant]
      Customer: Teachers can share a whiteboard with a class.
      Internal: Behind the `whiteboard` flag for the first week.
    ### Fixed
    - Login loop on Safari
    ### Database
    - Split the sessions table [irreversible]
    - Add an index on lessons [migration]

A `### Section` decides the kind (Added → feature, Fixed → fix, Security → security,
Performance → performance, Database/Migrations → database_migration, UX → ux,
Changed/Removed/Deprecated/Other → other). Markers at the end of an item refine it:
`[db]` or `[migration]` (a database migration), `[significant]`, `[irreversible]`, or a kind
name (`[security]`). Errors name the line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from releasedesk.core.errors import ValidationFailed
from releasedesk.releases.schemas import ChangeItemData, change_kind_values

SECTION_KINDS: dict[str, str] = {
    "added": "feature",
    "features": "feature",
    "feature": "feature",
    "fixed": "fix",
    "fixes": "fix",
    "bug fixes": "fix",
    "security": "security",
    "performance": "performance",
    "database": "database_migration",
    "migrations": "database_migration",
    "database migrations": "database_migration",
    "ux": "ux",
    "ui": "ux",
    "changed": "other",
    "removed": "other",
    "deprecated": "other",
    "other": "other",
}
MARKER_ALIASES: dict[str, str] = {"db": "database_migration", "migration": "database_migration"}
FLAG_MARKERS = ("significant", "irreversible")
MAX_ITEMS = 500

_MARKER_AT_END = re.compile(r"\s*\[([A-Za-z_:-]+)\]\s*$")


def parse_changes(text: str, *, filename: str = "changes") -> list[ChangeItemData]:
    """Parse `text` as JSON (a list) or Markdown; raise ValidationFailed naming the line."""
    stripped = text.lstrip()
    if filename.endswith(".json") or stripped.startswith("["):
        return parse_json(text, filename=filename)
    return parse_markdown(text, filename=filename)


def parse_json(text: str, *, filename: str = "changes.json") -> list[ChangeItemData]:
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{filename}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
            fields={"changes": f"line {exc.lineno}: {exc.msg}"},
        ) from exc
    if not isinstance(raw, list):
        raise ValidationFailed(
            f"{filename}: expected a JSON list of change items",
            fields={"changes": "expected a list"},
        )
    if len(raw) > MAX_ITEMS:
        raise ValidationFailed(
            f"{filename}: at most {MAX_ITEMS} change items",
            fields={"changes": f"at most {MAX_ITEMS} items"},
        )
    items: list[ChangeItemData] = []
    for index, entry in enumerate(raw, start=1):
        try:
            items.append(ChangeItemData.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "item"
            message = f"{filename}: item {index}: {field}: {first.get('msg', 'invalid')}"
            raise ValidationFailed(
                message, fields={f"changes.{index}.{field}": str(first.get("msg", "invalid"))}
            ) from exc
    return items


def _error(filename: str, lineno: int, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{filename}:{lineno}: {message}", fields={"changes": f"line {lineno}: {message}"}
    )


def parse_markdown(text: str, *, filename: str = "CHANGELOG.md") -> list[ChangeItemData]:
    kinds = change_kind_values()
    section_kind: str | None = None
    items: list[dict[str, Any]] = []
    item_lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("###"):
            name = stripped.lstrip("#").strip()
            key = name.lower()
            if key not in SECTION_KINDS:
                allowed = ", ".join(sorted({k.title() for k in SECTION_KINDS}))
                raise _error(filename, lineno, f"unknown section {name!r} (allowed: {allowed})")
            section_kind = SECTION_KINDS[key]
            continue
        if stripped.startswith("#"):
            continue  # release headings (# / ##) carry no change
        if stripped.startswith(("- ", "* ")):
            title, kind, significant, reversible = _parse_item(
                stripped[2:].strip(), section_kind, kinds, filename, lineno
            )
            items.append(
                {
                    "kind": kind,
                    "title": title,
                    "customer_note": "",
                    "internal_note": "",
                    "significant": significant,
                    "reversible": reversible,
                }
            )
            item_lines.append(lineno)
            continue
        if items and line[:1].isspace():
            label, _, rest = stripped.partition(":")
            if label.lower() in ("customer", "internal") and rest.strip():
                key = "customer_note" if label.lower() == "customer" else "internal_note"
                items[-1][key] = (items[-1][key] + "\n" + rest.strip()).strip()
                continue
            raise _error(
                filename, lineno, "a continuation line must start with 'Customer:' or 'Internal:'"
            )
        raise _error(filename, lineno, "expected a '### Section' heading or a '- item' line")
    if len(items) > MAX_ITEMS:
        raise ValidationFailed(
            f"{filename}: at most {MAX_ITEMS} change items",
            fields={"changes": f"at most {MAX_ITEMS} items"},
        )
    result: list[ChangeItemData] = []
    for data, lineno in zip(items, item_lines, strict=True):
        try:
            result.append(ChangeItemData.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "item"
            raise _error(filename, lineno, f"{field}: {first.get('msg', 'invalid')}") from exc
    return result


def _parse_item(
    text: str, section_kind: str | None, kinds: tuple[str, ...], filename: str, lineno: int
) -> tuple[str, str, bool, bool]:
    kind = section_kind
    significant, reversible = False, True
    while True:
        match = _MARKER_AT_END.search(text)
        if match is None:
            break
        marker = match.group(1).lower()
        if marker == "significant":
            significant = True
        elif marker == "irreversible":
            reversible = False
        elif marker in MARKER_ALIASES:
            kind = MARKER_ALIASES[marker]
        elif marker in kinds:
            kind = marker
        else:
            allowed = ", ".join([*FLAG_MARKERS, *MARKER_ALIASES, *kinds])
            raise _error(filename, lineno, f"unknown marker [{marker}] (allowed: {allowed})")
        text = text[: match.start()].rstrip()
    if not text:
        raise _error(filename, lineno, "a change item needs a title")
    if kind is None:
        raise _error(
            filename,
            lineno,
            "a change item outside a '### Section' needs a kind marker such as [fix]",
        )
    return text, kind, significant, reversible


def render_markdown(items: list[ChangeItemData]) -> str:
    """The inverse of parse_markdown (used to pre-fill the edit form's textarea)."""
    inverse = {
        "feature": "Added",
        "fix": "Fixed",
        "security": "Security",
        "performance": "Performance",
        "database_migration": "Database",
        "ux": "UX",
        "other": "Other",
    }
    lines: list[str] = []
    for kind in change_kind_values():
        group = [i for i in items if i.kind == kind]
        if not group:
            continue
        lines.append(f"### {inverse.get(kind, 'Other')}")
        for item in group:
            markers = (
                ("" if kind in inverse else f" [{kind}]")
                + (" [significant]" if item.significant else "")
                + ("" if item.reversible else " [irreversible]")
            )
            lines.append(f"- {item.title}{markers}")
            if item.customer_note and item.customer_note != item.title:
                lines.extend(f"  Customer: {part}" for part in item.customer_note.splitlines())
            if item.internal_note:
                lines.extend(f"  Internal: {part}" for part in item.internal_note.splitlines())
    return "\n".join(lines) + ("\n" if lines else "")
