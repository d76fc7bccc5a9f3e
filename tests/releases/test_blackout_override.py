"""A hotfix may run inside a blackout or freeze only with a recorded reason."""

from __future__ import annotations

from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.core.errors import ValidationFailed
from releasedesk.releases import services
from releasedesk.releases.models import Release
from tests.releases.conftest import actor_of


def test_hotfix_override_is_recorded_and_audited(make_release: Any, product_manager: Any) -> None:
    release = make_release("5.4.1", kind="hotfix", hotfix_reason="security")
    services.override_blackout(
        release=release, actor=actor_of(product_manager), reason="CVE-2027-1234 is exploited"
    )
    assert (
        Release.objects.get(pk=release.pk).blackout_override_reason == "CVE-2027-1234 is exploited"
    )
    event = AuditEvent.objects.filter(action="release.blackout_override").get()
    assert event.after == {"reason": "CVE-2027-1234 is exploited"}
    assert event.scope == f"release:{release.pk}"


def test_regular_release_cannot_override_and_nothing_changes(
    make_release: Any, product_manager: Any
) -> None:
    release = make_release()
    with pytest.raises(ValidationFailed, match="Only a hotfix may override a blackout"):
        services.override_blackout(release=release, actor=actor_of(product_manager), reason="x")
    assert Release.objects.get(pk=release.pk).blackout_override_reason == ""
    assert not AuditEvent.objects.filter(action__startswith="release.blackout").exists()
