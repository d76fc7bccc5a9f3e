from __future__ import annotations

from collections import Counter

import pytest

from releasedesk.releases.demo import load_demo_releases
from releasedesk.releases.models import Release

pytestmark = pytest.mark.django_db


def test_demo_releases_in_several_states_for_every_example_policy() -> None:
    created = load_demo_releases(None)
    assert len(created) == 15
    by_policy: dict[str, Counter[str]] = {}
    for release in Release.objects.select_related("policy"):
        by_policy.setdefault(release.policy.slug, Counter())[release.status] += 1
    assert set(by_policy) == {"school-saas", "oem-white-label", "hosted-monthly", "field-software"}
    assert all(len(states) >= 3 for states in by_policy.values())
    assert by_policy["school-saas"] == Counter(
        {"assessed": 2, "completed": 1, "approved": 1, "draft": 1, "in_progress": 1}
    )
    extreme = Release.objects.get(version="5.5.0")
    assert extreme.assessments.get().level == "extreme"
    # Idempotent.
    assert load_demo_releases(None) == []
