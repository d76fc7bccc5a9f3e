"""Release-note vocabulary: tiers, note states (with groups), channels, publication states."""

from __future__ import annotations

from django.db import models

# The visibility tiers (DESIGN.md §3) are the policy's vocabulary; one definition.
from releasedesk.policies.choices import Tier

__all__ = ["EDITABLE", "PUBLISHABLE", "SIGNABLE", "Channel", "DocsAction", "NoteState", "Tier"]


class NoteState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED_OFF = "signed_off", "Signed off"
    PUBLISHED = "published", "Published"


# Named groups (STYLE.md).
EDITABLE: frozenset[str] = frozenset({NoteState.DRAFT, NoteState.SIGNED_OFF})
SIGNABLE: frozenset[str] = frozenset({NoteState.DRAFT})
PUBLISHABLE: frozenset[str] = frozenset({NoteState.SIGNED_OFF, NoteState.PUBLISHED})


class Channel(models.TextChoices):
    DOCS_PORTAL = "docs_portal", "Docs portal export"
    ATOM_FEED = "atom_feed", "Atom feed"
    KNOWLEDGE_BASE = "knowledge_base", "Knowledge-base post"
    NEWSLETTER = "newsletter", "Newsletter e-mail"
    DIGEST = "digest", "Digest (docs portal)"
    WHITE_LABEL_DOCS = "white_label_docs", "White-label docs export"


# Channels a note may be published to (a digest is published by `publish_digest`).
NOTE_CHANNELS: tuple[str, ...] = (
    Channel.DOCS_PORTAL,
    Channel.ATOM_FEED,
    Channel.KNOWLEDGE_BASE,
    Channel.NEWSLETTER,
)
# Channels that reach outside the vendor: never for an internal-tier note.
EXTERNAL_CHANNELS: frozenset[str] = frozenset(NOTE_CHANNELS)


class DocsAction(models.TextChoices):
    """Who updates a white-label instance's documentation (per OEM customer)."""

    VENDOR_TASK = "vendor_task", "Task for the vendor's docs team"
    OEM_NOTICE = "oem_notice", "Notice to the OEM with the notes"
