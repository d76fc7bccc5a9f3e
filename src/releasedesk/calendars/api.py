"""REST API for calendars."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["calendars"])
