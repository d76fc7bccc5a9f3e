"""Outbox messages: rendered e-mails waiting for (or past) delivery, one row per recipient.

A `Message` is a `DueWork` row (DESIGN.md §1): the one claim/lease/retry/reaper mechanism in
`releasedesk.core.queue` delivers it. The row is written by `services.enqueue()` inside the
transaction of the state change that causes it (transactional outbox), carries its rendered
content, why its recipient got it, and a stable `Message-ID` derived from its key.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from releasedesk.core.queue_models import DueWork, WorkState
from releasedesk.core.scoping import ScopedQuerySet
from releasedesk.outbox.choices import Channel, MessageKind, TrackingEvent


class MessageQuerySet(ScopedQuerySet):
    # Contacts see nothing of the outbox (staff only): the default contact_scope is empty.
    pass


MessageManager = models.Manager.from_queryset(MessageQuerySet)


class Message(DueWork):
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    contact = models.ForeignKey(
        "catalog.Contact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        help_text="A staff recipient (internal audiences).",
    )
    # The address at the time the message was written (a contact's address may change later).
    to_address = models.EmailField()
    release = models.ForeignKey(
        "releases.Release",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    # The "subject" part of the key: what the message is about (an instance, a customer, …).
    subject_ref = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=32, choices=MessageKind.choices)
    locale = models.CharField(max_length=8, default="en")
    zone = models.CharField(max_length=64, default="UTC")
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    why = models.CharField(max_length=500, help_text="Why this recipient got the message.")
    message_id = models.CharField(max_length=200, unique=True)
    delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the SMTP server answered 250 to the message."
    )
    smtp_response = models.CharField(max_length=500, blank=True)

    objects = MessageManager()

    class Meta:
        ordering = ["-due_at", "-id"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(state=WorkState.PENDING),
                name="outbox_message_pending_due",
            ),
            models.Index(fields=["state", "due_at"], name="outbox_message_state_due"),
            models.Index(fields=["release", "kind"], name="outbox_message_release_kind"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=True) | Q(user__isnull=True),
                name="%(app_label)s_%(class)s_one_recipient",
            ),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(state=WorkState.DONE),
                name="%(app_label)s_%(class)s_delivered_means_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address} ({self.state})"

    def as_audit(self) -> dict[str, Any]:
        """What an audit event may say about the message (no address, no content)."""
        return {
            "message_id": self.pk,
            "key": self.key,
            "kind": self.kind,
            "state": self.state,
            "attempts": self.attempts,
            "contact_id": self.contact_id,
            "user_id": self.user_id,
            "release_id": self.release_id,
        }


class TrackingReceipt(models.Model):
    """A processed tracking-webhook event (bounce, complaint…): the event id makes it idempotent."""

    event_id = models.CharField(max_length=200, unique=True)
    event = models.CharField(max_length=16, choices=TrackingEvent.choices)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="tracking"
    )
    contact = models.ForeignKey(
        "catalog.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tracking_receipts",
    )
    description = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id}"
