"""Plan tests reuse the release fixtures (the school-saas policy and a release factory)."""

from __future__ import annotations

from tests.releases.conftest import make_release, school_saas

__all__ = ["make_release", "school_saas"]
