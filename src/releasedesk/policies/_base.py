"""Small types shared by the policy schema modules (schema, timeschema)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

_DURATION_RE = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DURATION_HELP = "use e.g. 7d, 48h, 30m, 2w, 1d12h or 0"


def parse_duration(value: object) -> dt.timedelta:
    """'7d' / '48h' / '30m' / '2w' / '1d12h' / 0 → an absolute timedelta."""
    if isinstance(value, dt.timedelta):
        if value < dt.timedelta(0):
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({DURATION_HELP})")
    if isinstance(value, int):
        if value == 0:
            return dt.timedelta(0)
        raise ValueError(f"{value} has no unit ({DURATION_HELP}; only 0 may stand alone)")
    if isinstance(value, str):
        text = value.strip().replace(" ", "").lower()
        if text == "0":
            return dt.timedelta(0)
        match = _DURATION_RE.fullmatch(text)
        if text and match and any(match.groups()):
            w, d, h, m, s = (int(g) if g else 0 for g in match.groups())
            return dt.timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)
    raise ValueError(f"{value!r} is not a duration ({DURATION_HELP})")


def format_duration(value: dt.timedelta) -> str:
    """The compact form parse_duration reads back: 7d, 2d, 1d12h, 30m, 0."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


Duration = Annotated[
    dt.timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^\s*(0|(\d+\s*w)?\s*(\d+\s*d)?\s*(\d+\s*h)?\s*(\d+\s*m)?\s*(\d+\s*s)?)\s*$",
                },
                {"type": "integer", "const": 0},
            ],
            "description": "An absolute duration: 7d, 48h, 30m, 2w, 1d12h or 0.",
        }
    ),
]

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
