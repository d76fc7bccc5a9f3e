from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"


class MessageKind(models.TextChoices):
    ADVANCE_NOTICE = "advance_notice", "Advance notice"
    REMINDER = "reminder", "Reminder"
    DATE_MOVED = "date_moved", "Your date moved"
    CANCELLATION = "cancellation", "Cancellation"
    POST_HOTFIX = "post_hotfix", "Post-hotfix notice"
    CONFIRMATION = "confirmation", "Confirmation after upgrade"
    RELEASE_NOTES = "release_notes", "Release notes"
    NEWSLETTER = "newsletter", "Newsletter"
    ROADMAP_UPDATE = "roadmap_update", "Roadmap update"
    SIGN_IN = "sign_in", "Portal sign-in link"
    STAFF_ALERT = "staff_alert", "Staff alert"


# Kinds rendered from the per-locale templates in outbox/templates/outbox/email/<locale>/.
TEMPLATED_KINDS: tuple[str, ...] = (
    MessageKind.ADVANCE_NOTICE,
    MessageKind.REMINDER,
    MessageKind.DATE_MOVED,
    MessageKind.CANCELLATION,
    MessageKind.POST_HOTFIX,
    MessageKind.CONFIRMATION,
    MessageKind.RELEASE_NOTES,
    MessageKind.NEWSLETTER,
    MessageKind.ROADMAP_UPDATE,
    MessageKind.SIGN_IN,
)

# Kinds that announce an upcoming instant (the templates show it in local time and UTC).
# For a portal sign-in link (`sign_in`) that instant (`starts_at`) is when the link expires.
TIMED_KINDS: frozenset[str] = frozenset(
    {
        MessageKind.ADVANCE_NOTICE,
        MessageKind.REMINDER,
        MessageKind.DATE_MOVED,
        MessageKind.CANCELLATION,
        MessageKind.POST_HOTFIX,
        MessageKind.CONFIRMATION,
        MessageKind.RELEASE_NOTES,
        MessageKind.SIGN_IN,
    }
)

# Kinds whose body holds a one-time credential: staff previews mask it
# (`outbox.masking`) and the body is scrubbed once the message is finished
# (`portal.services.scrub_sign_in_messages`).
CREDENTIAL_KINDS: frozenset[str] = frozenset({MessageKind.SIGN_IN})


class TrackingEvent(models.TextChoices):
    """Events the tracking webhook understands (anymail's names)."""

    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"
    REJECTED = "rejected", "Rejected"
    DELIVERED = "delivered", "Delivered"
