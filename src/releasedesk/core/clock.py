"""The one clock every comparison uses.

Queries receive `now()` as a parameter instead of calling the database's `now()`,
so tests can move time (time_machine) and the demo can run faster than real time.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

UTC = dt.UTC

# Demo speed-up: wall time since `_origin` is multiplied by `_speed`.
_speed: float = 1.0
_origin_real: dt.datetime | None = None
_origin_virtual: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, timezone-aware, in UTC."""
    real = timezone.now()
    if _speed == 1.0 or _origin_real is None or _origin_virtual is None:
        return real
    return _origin_virtual + (real - _origin_real) * _speed


def set_speed(speed: float, *, start: dt.datetime | None = None) -> None:
    """Run the clock `speed` times faster than real time (demo only)."""
    global _speed, _origin_real, _origin_virtual
    if speed <= 0:
        raise ValueError("speed must be positive")
    _origin_virtual = start or now()
    _origin_real = timezone.now()
    _speed = speed


def reset() -> None:
    global _speed, _origin_real, _origin_virtual
    _speed, _origin_real, _origin_virtual = 1.0, None, None
