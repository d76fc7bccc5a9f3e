"""Ordering of version strings (which release is newer)."""

from __future__ import annotations

import re

_VERSION_PART = re.compile(r"(\d+|[A-Za-z]+)")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural ordering of version strings: 5.10.0 after 5.9.2; numbers before words."""
    return tuple(
        (0, int(p)) if p.isdigit() else (1, p.lower()) for p in _VERSION_PART.findall(version)
    )
