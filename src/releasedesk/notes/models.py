"""Release notes per (release, audience, locale), their publications, and digests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from releasedesk.core import clock
from releasedesk.core.models import TimeStampedModel
from releasedesk.core.queue_models import DueWork
from releasedesk.core.scoping import ScopedQuerySet
from releasedesk.notes.choices import Channel, NoteState, Tier

if TYPE_CHECKING:
    from releasedesk.catalog.models import Contact

PARTNER_CUSTOMER_KINDS = ("oem_partner", "reseller")
PARTNER_CONTACT_ROLES = ("oem_partner", "reseller")


def contact_tiers(contact: Contact) -> tuple[str, ...]:
    """The tiers a customer contact may read: partners read partner and public notes,
    everyone else public notes only. Never internal."""
    if contact.customer.kind in PARTNER_CUSTOMER_KINDS or any(
        contact.has_role(r) for r in PARTNER_CONTACT_ROLES
    ):
        return (Tier.PARTNER, Tier.PUBLIC)
    return (Tier.PUBLIC,)


class ReleaseNoteQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        # Published notes of the contact's tiers, for releases of products their organisation uses.
        from releasedesk.catalog.models import Subscription

        products = Subscription.objects.filter(customer_id=contact.customer_id).values("product_id")
        return Q(
            state=NoteState.PUBLISHED,
            tier__in=contact_tiers(contact),
            release__products__in=products,
        )


ReleaseNoteManager = models.Manager.from_queryset(ReleaseNoteQuerySet)


class ReleaseNote(TimeStampedModel):
    """The notes of one release for one policy audience in one locale (Markdown)."""

    release = models.ForeignKey(
        "releases.Release", on_delete=models.CASCADE, related_name="release_notes"
    )
    audience = models.SlugField(max_length=64, help_text="A policy audience, e.g. customers.")
    tier = models.CharField(max_length=16, choices=Tier.choices)
    locale = models.CharField(max_length=8)
    title = models.CharField(max_length=300)
    body = models.TextField(help_text="Markdown; rendered with markdown-it-py, sanitised by nh3.")
    state = models.CharField(
        max_length=16, choices=NoteState.choices, default=NoteState.DRAFT, db_index=True
    )
    # Bumped on every edit; a sign-off is for one revision.
    revision = models.PositiveIntegerField(default=1)
    composed_at = models.DateTimeField(default=clock.now)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_role = models.SlugField(max_length=64, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ReleaseNoteManager()

    class Meta:
        ordering = ["release", "audience", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "audience", "locale"],
                name="%(app_label)s_%(class)s_unique_audience_locale",
            ),
            models.CheckConstraint(
                condition=Q(tier__in=Tier.values), name="%(app_label)s_%(class)s_tier_valid"
            ),
            # The sign-off gate, also in the database: nothing is signed off or published
            # without a signer and a time.
            models.CheckConstraint(
                condition=Q(state=NoteState.DRAFT)
                | Q(signed_off_by__isnull=False, signed_off_at__isnull=False),
                name="%(app_label)s_%(class)s_signed_before_published",
            ),
            models.CheckConstraint(
                condition=~Q(state=NoteState.PUBLISHED) | Q(published_at__isnull=False),
                name="%(app_label)s_%(class)s_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.release} notes for {self.audience} ({self.locale})"


class Digest(TimeStampedModel):
    """A general release-notes digest of one period for one audience and locale (S2)."""

    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+")
    audience = models.SlugField(max_length=64)
    tier = models.CharField(max_length=16, choices=Tier.choices)
    locale = models.CharField(max_length=8)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Inclusive.")
    title = models.CharField(max_length=300)
    body = models.TextField()
    notes = models.ManyToManyField(ReleaseNote, related_name="digests", blank=True)

    class Meta:
        ordering = ["-period_start", "audience", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "audience", "locale", "period_start", "period_end"],
                name="%(app_label)s_%(class)s_unique_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="%(app_label)s_%(class)s_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"digest {self.audience}/{self.locale} {self.period_start}..{self.period_end}"


class Publication(DueWork):
    """One publication of a note (or digest) to one channel; due work where it leaves the
    building (knowledge-base webhook, newsletter), done at once where it is local."""

    note = models.ForeignKey(
        ReleaseNote, null=True, blank=True, on_delete=models.CASCADE, related_name="publications"
    )
    digest = models.ForeignKey(
        Digest, null=True, blank=True, on_delete=models.CASCADE, related_name="publications"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    # A white-label variant's OEM customer (channel white_label_docs).
    customer = models.ForeignKey(
        "catalog.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Where it went: exported files, the webhook's answer status, … (no personal data).
    details = models.JSONField(default=dict, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["state", "due_at"], name="notes_publication_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(note__isnull=False, digest__isnull=True)
                | Q(note__isnull=True, digest__isnull=False),
                name="%(app_label)s_%(class)s_note_xor_digest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.key} ({self.state})"


class FeedKey(models.Model):
    """The key version of one partner audience's Atom feed, embedded in its signed URL.

    Bumping `version` (`services.rotate_feed_token`) revokes every URL issued before. No row
    means version 1, so GET never writes: the row appears at the first rotation.
    """

    policy = models.ForeignKey("policies.Policy", on_delete=models.CASCADE, related_name="+")
    audience = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "audience"], name="%(app_label)s_%(class)s_one_per_audience"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="%(app_label)s_%(class)s_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"feed key v{self.version} of {self.policy_id}/{self.audience}"
