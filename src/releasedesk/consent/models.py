"""Consent: a customer's say about one upgrade slot of one instance (DESIGN.md §3, §4b).

One row per (release, instance, slot date), created when the plan first has a consent
deadline for that slot (`services.sync_consents`). A decision is made once: opt out,
propose another date (staff confirm or refuse it) or accept (OEM acceptance), received at
or before `deadline`; silence becomes `no_response` when the deadline passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from releasedesk.consent.choices import (
    ConsentMode,
    ConsentState,
    DecisionChannel,
    PostponeStatus,
)
from releasedesk.core.scoping import ScopedQuerySet

if TYPE_CHECKING:
    from releasedesk.catalog.models import Contact


class ConsentQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        # A contact sees (and acts on) their own organisation's consents only.
        return Q(customer_id=contact.customer_id)


ConsentManager = models.Manager.from_queryset(ConsentQuerySet)


class Consent(models.Model):
    release = models.ForeignKey(
        "releases.Release", on_delete=models.CASCADE, related_name="consents"
    )
    target = models.CharField(max_length=64)
    instance = models.ForeignKey(
        "catalog.Instance", on_delete=models.PROTECT, related_name="consents"
    )
    customer = models.ForeignKey(
        "catalog.Customer", on_delete=models.PROTECT, related_name="consents"
    )
    slot_date = models.DateField(help_text="Local date of the upgrade slot the consent is about.")
    slot_start = models.DateTimeField()
    deadline = models.DateTimeField(help_text="Received at or before this instant counts.")
    zone = models.CharField(max_length=64, help_text="The zone the deadline is read in.")
    mode = models.CharField(max_length=16, choices=ConsentMode.choices)
    state = models.CharField(
        max_length=16, choices=ConsentState.choices, default=ConsentState.PENDING
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_contact = models.ForeignKey(
        "catalog.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Staff who recorded a decision made by phone.",
    )
    channel = models.CharField(max_length=16, choices=DecisionChannel.choices, blank=True)
    comment = models.TextField(blank=True)
    proposed_start = models.DateTimeField(null=True, blank=True)
    postpone_status = models.CharField(
        max_length=16, choices=PostponeStatus.choices, blank=True, default=PostponeStatus.NONE
    )
    postpone_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    postpone_decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = ConsentManager()

    class Meta:
        ordering = ["slot_start", "instance_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "instance", "slot_date"],
                name="%(app_label)s_%(class)s_one_per_slot",
            ),
            models.CheckConstraint(
                condition=Q(decided_at__isnull=True) | ~Q(state=ConsentState.PENDING),
                name="%(app_label)s_%(class)s_pending_undecided",
            ),
            models.CheckConstraint(
                condition=Q(decided_by_contact__isnull=True) | Q(decided_by_user__isnull=True),
                name="%(app_label)s_%(class)s_one_decider",
            ),
        ]
        indexes = [models.Index(fields=["release", "state"], name="consent_release_state")]

    def __str__(self) -> str:
        return f"consent r{self.release_id} i{self.instance_id} {self.slot_date}: {self.state}"

    @property
    def is_decided(self) -> bool:
        return self.state in (
            ConsentState.APPROVED,
            ConsentState.OPTED_OUT,
            ConsentState.POSTPONED,
        )

    def as_audit(self) -> dict[str, object]:
        """What an audit event says about the consent (ids only, no names)."""
        return {
            "consent_id": self.pk,
            "release_id": self.release_id,
            "instance_id": self.instance_id,
            "customer_id": self.customer_id,
            "slot_date": self.slot_date.isoformat(),
            "deadline": self.deadline.isoformat(),
            "state": self.state,
            "channel": self.channel,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decided_by_contact": self.decided_by_contact_id,
            "decided_by_user": self.decided_by_user_id,
            "proposed_start": self.proposed_start.isoformat() if self.proposed_start else None,
            "postpone_status": self.postpone_status,
        }


# Re-exported for callers that only need the channel values.
__all__ = ["Consent", "ConsentMode", "ConsentState", "DecisionChannel", "PostponeStatus"]
