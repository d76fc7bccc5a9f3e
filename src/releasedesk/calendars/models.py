"""Change freezes declared by staff, and per-user feed secrets (issue 4 §4, §1 blackouts)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from releasedesk.core.models import TimeStampedModel
from releasedesk.core.scoping import ScopedManager


class ChangeFreeze(TimeStampedModel):
    """No upgrade may be placed in [starts_at, ends_at) — for all products or the chosen ones.

    A lifted freeze stays as a record (lifted_at/lifted_by) and no longer blocks anything.
    """

    starts_at = models.DateTimeField(help_text="UTC instant the freeze begins.")
    ends_at = models.DateTimeField(help_text="UTC instant the freeze ends (exclusive).")
    reason = models.CharField(max_length=300)
    all_products = models.BooleanField(
        default=True, help_text="Applies to every product; otherwise only to `products`."
    )
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="freezes")
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="declared_freezes",
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lifted_freezes",
    )
    lift_reason = models.CharField(max_length=300, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="%(app_label)s_%(class)s_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="%(app_label)s_%(class)s_reason_required"
            ),
        ]
        indexes = [
            models.Index(fields=["starts_at", "ends_at"], name="calendars_freeze_span"),
        ]

    def __str__(self) -> str:
        return (
            f"Freeze {self.starts_at:%Y-%m-%d %H:%M}Z-{self.ends_at:%Y-%m-%d %H:%M}Z: {self.reason}"
        )

    @property
    def is_lifted(self) -> bool:
        return self.lifted_at is not None


class FeedKey(models.Model):
    """Per-user (staff) or per-customer version embedded in signed feed URLs.

    Bumping `version` revokes every feed link issued before (a new link must be copied).
    Exactly one of user/customer is set.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feed_key",
    )
    customer = models.OneToOneField(
        "catalog.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feed_key",
    )
    version = models.PositiveIntegerField(default=1)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(customer__isnull=True))
                | (Q(user__isnull=True) & Q(customer__isnull=False)),
                name="%(app_label)s_%(class)s_one_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"customer {self.customer_id}"
        return f"feed key v{self.version} of {owner}"
