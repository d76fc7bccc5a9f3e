"""Demo release notes: composed for every demo release; completed releases' notes signed off
and published (docs portal and feeds), so the portal and feeds have something to show.

Idempotent: a release that already has notes is left alone. Call after the demo releases
(`releasedesk.core.demo.load_demo`).
"""

from __future__ import annotations

from releasedesk.accounts.models import User
from releasedesk.core.context import SYSTEM
from releasedesk.core.errors import DomainError
from releasedesk.notes import services
from releasedesk.notes.choices import Channel, Tier
from releasedesk.notes.models import ReleaseNote
from releasedesk.releases.choices import ReleaseStatus
from releasedesk.releases.models import Release


def _signer() -> User | None:
    return (
        User.objects.filter(is_active=True, is_staff=True, roles__slug__in=services.signoff_roles())
        .order_by("id")
        .first()
    )


def load_demo_notes() -> int:
    """Compose (and, for completed releases, publish) the demo notes; returns notes written."""
    signer = _signer()
    written = 0
    releases = Release.objects.exclude(pk__in=ReleaseNote.objects.values("release_id")).order_by(
        "target_date", "id"
    )
    for release in releases:
        if release.status == ReleaseStatus.CANCELLED:
            continue
        actor = services.staff_actor(signer) if signer is not None else SYSTEM
        try:
            notes = services.compose_notes(release=release, actor=actor)
        except DomainError:
            continue  # a policy without audiences for notes
        written += len(notes)
        if release.status != ReleaseStatus.COMPLETED or signer is None:
            continue
        for note in notes:
            services.sign_off_note(note=note, actor=actor, user=signer)
            channels = (
                []
                if note.tier == Tier.INTERNAL
                else [Channel.ATOM_FEED]
                + ([Channel.DOCS_PORTAL] if note.tier == Tier.PUBLIC else [])
            )
            services.publish_note(note=note, actor=actor, channels=channels)
    return written
