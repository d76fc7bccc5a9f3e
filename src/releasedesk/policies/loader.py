"""YAML → PolicyDocument, with every error placed at its file, line and column.

Errors read `file:line:column: field.path: message (allowed: a, b, c)` and all of
them are reported at once: YAML syntax errors, duplicate keys, schema errors from
pydantic and the cross-field rules of `PolicyDocument.issues()`.
"""

from __future__ import annotations

import io
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from releasedesk.core.errors import ValidationFailed
from releasedesk.policies.schema import Loc, PolicyDocument, PolicyIssue, semantic_issues

MAX_SOURCE_CHARS = 200_000


@dataclass(frozen=True)
class PolicyError:
    filename: str
    line: int
    column: int
    path: str
    message: str
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.filename}:{self.line}:{self.column}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.allowed:
            text += f" (allowed: {', '.join(self.allowed)})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "allowed": list(self.allowed),
            "text": str(self),
        }


class PolicyInvalid(ValidationFailed):
    """A policy source with errors; `errors` holds every one of them."""

    def __init__(self, filename: str, errors: list[PolicyError]) -> None:
        fields: dict[str, str] = {}
        for err in errors:
            key = err.path or f"{err.line}:{err.column}"
            while key in fields:
                key += "'"
            fields[key] = str(err)
        count = len(errors)
        super().__init__(
            f"{filename}: {count} error{'s' if count != 1 else ''} in the policy", fields=fields
        )
        self.filename = filename
        self.errors = errors


# --- YAML -----------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True  # found and reported by _duplicates(), all of them
    return yaml


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers and scalar subclasses → plain Python values."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    return value


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _duplicates(node: Node | None, path: Loc = ()) -> list[tuple[Loc, Node]]:
    found: list[tuple[Loc, Node]] = []
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else str(key)
            if name in seen:
                found.append(((*path, name), key))
            seen.add(name)
            found.extend(_duplicates(value, (*path, name)))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(_duplicates(item, (*path, i)))
    return found


def locate(root: Node | None, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
    """The line and column of the value at `loc` (or of its key), else of the nearest parent."""
    node = root
    position = _mark(root) if root is not None else (1, 1)
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, MappingNode):
            match = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, ScalarNode) and k.value == str(part)
                ),
                None,
            )
            if match is None:
                return position
            key, value = match
            if last:
                return _mark(key) if at_key or not isinstance(value, ScalarNode) else _mark(value)
            position, node = _mark(key), value
        elif (
            isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            position = _mark(node)
        else:
            return position
    return position


# --- pydantic errors → places ---------------------------------------------------------


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Annotated / Optional / unions."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `loc` (to list its allowed keys)."""
    current: list[Any] = [PolicyDocument]
    for part in loc:
        following: list[Any] = []
        for tp in current:
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                for name, info in tp.model_fields.items():
                    if (info.alias or name) == part:
                        following.extend(_unwrap(info.annotation))
            else:
                origin = typing.get_origin(tp)
                if origin is list and isinstance(part, int):
                    following.extend(_unwrap(typing.get_args(tp)[0]))
                elif origin is dict:
                    following.extend(_unwrap(typing.get_args(tp)[1]))
        current = following
    for tp in current:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


def _allowed_keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in model.model_fields.items())


def _expected(ctx: dict[str, Any] | None) -> tuple[str, ...]:
    if not ctx or "expected" not in ctx:
        return ()
    return tuple(re.findall(r"'([^']*)'", str(ctx["expected"])))


def _issues_from_pydantic(exc: ValidationError) -> list[tuple[PolicyIssue, bool]]:
    """(issue, points at a key) for every pydantic error."""
    out: list[tuple[PolicyIssue, bool]] = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        message = str(err["msg"])
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        at_key = False
        allowed: tuple[str, ...] = ()
        if loc and loc[-1] == "[key]":
            loc, at_key = loc[:-1], True
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            message = f"unknown key {loc[-1]!r}"
            allowed = _allowed_keys(model) if model else ()
            at_key = True
        elif kind == "missing":
            message = "required"
        elif kind in ("too_short", "too_long") and len(loc) == 3 and loc[:2] == ("risk", "matrix"):
            message = f"impact row {loc[2]} has {err.get('ctx', {}).get('actual_length')} levels; each row needs 5 (likelihood 1..5)"
        elif kind in ("too_short", "too_long"):
            message = message.replace(" after validation", "")
        elif kind in ("enum", "literal_error"):
            message = f"{err.get('input')!r} is not allowed"
            allowed = _expected(err.get("ctx"))
        out.append((PolicyIssue(loc, message, allowed), at_key))
    return out


# --- entry points ---------------------------------------------------------------------


def check_source(
    source: str, filename: str = "<policy>"
) -> tuple[PolicyDocument | None, list[PolicyError]]:
    """Parse and validate; returns the document (None on errors) and every error found."""
    if len(source) > MAX_SOURCE_CHARS:
        return None, [
            PolicyError(
                filename,
                1,
                1,
                "",
                f"the file is too large ({len(source)} characters; at most {MAX_SOURCE_CHARS})",
            )
        ]
    yaml = _yaml()
    try:
        root = yaml.compose(io.StringIO(source))
        data = _plain(_yaml().load(io.StringIO(source)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return None, [PolicyError(filename, line, column, "", f"YAML syntax error: {problem}")]
    except (YAMLError, RecursionError, ValueError, TypeError) as exc:
        # ruamel raises a few non-YAMLError exceptions on hostile input (deep nesting, odd keys).
        return None, [
            PolicyError(
                filename, 1, 1, "", f"YAML cannot be read: {type(exc).__name__}: {str(exc)[:200]}"
            )
        ]

    errors: list[PolicyError] = []
    for loc, key in _duplicates(root):
        line, column = _mark(key)
        errors.append(
            PolicyError(
                filename,
                line,
                column,
                ".".join(str(p) for p in loc),
                "duplicate key (each key may appear once)",
            )
        )
    if not isinstance(data, dict):
        errors.append(
            PolicyError(
                filename, 1, 1, "", "a policy is a mapping of keys (policy, zone, levels, …)"
            )
        )
        return None, errors

    placed: list[tuple[PolicyIssue, bool]] = []
    document: PolicyDocument | None = None
    try:
        document = PolicyDocument.model_validate(data, context={"defer_issues": True})
    except ValidationError as exc:
        placed = _issues_from_pydantic(exc)
    # The cross-field rules run on the raw data so they are reported with schema errors.
    taken = {issue.loc for issue, _ in placed}
    placed += [(issue, False) for issue in semantic_issues(data) if issue.loc not in taken]
    for issue, at_key in placed:
        line, column = locate(root, issue.loc, at_key=at_key)
        errors.append(
            PolicyError(
                filename,
                line,
                column,
                issue.path if issue.loc else "",
                issue.message,
                issue.allowed,
            )
        )
    errors.sort(key=lambda e: (e.line, e.column))
    return (document if not errors else None), errors


def load_policy(source: str, filename: str = "<policy>") -> PolicyDocument:
    """The validated document, or PolicyInvalid listing every error."""
    document, errors = check_source(source, filename)
    if errors or document is None:
        raise PolicyInvalid(filename, errors)
    return document
