from __future__ import annotations

from pathlib import Path
from typing import Any

from releasedesk.notes.demo import load_demo_notes
from releasedesk.notes.models import ReleaseNote
from tests.notes.conftest import INTERNAL_1


def test_demo_notes_are_composed_and_completed_releases_published(
    release: Any, make_release: Any, docs_writer: Any, export_dir: Path
) -> None:

    done = make_release("7.1.0")
    done.status = (
        "completed"  # the lifecycle is the releases app's business; only the state matters
    )
    type(done).objects.filter(pk=done.pk).update(status="completed")
    assert load_demo_notes() == 12
    assert ReleaseNote.objects.filter(release=release, state="draft").count() == 6
    published = ReleaseNote.objects.filter(release=done, state="published")
    assert sorted((n.audience, n.locale) for n in published) == [
        ("customers", "de"),
        ("customers", "en"),
        ("distributors", "de"),
        ("distributors", "en"),
        ("internal", "de"),
        ("internal", "en"),
    ]
    text = (export_dir / "field-notes/customers/en/7.1.0.md").read_text()
    assert INTERNAL_1 not in text
    assert load_demo_notes() == 0  # idempotent
