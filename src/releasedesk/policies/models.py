from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from releasedesk.core import clock
from releasedesk.core.scoping import ScopedManager
from releasedesk.policies.schema import PolicyDocument


class Policy(models.Model):
    """A named release policy; its content lives in numbered, immutable versions."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=clock.now)

    objects = ScopedManager()

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.slug

    def latest_version(self) -> PolicyVersion | None:
        return self.versions.order_by("-number").first()


class PolicyVersion(models.Model):
    """One applied YAML source of a policy. Releases point at the version they were assessed under."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    source_yaml = models.TextField()
    filename = models.CharField(max_length=255, blank=True)
    document = models.JSONField(
        help_text="The validated document (PolicyDocument.model_dump(mode='json'))."
    )
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the YAML source.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)

    objects = ScopedManager()

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "number"], name="%(app_label)s_%(class)s_unique_number"
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="%(app_label)s_%(class)s_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.slug} v{self.number}"

    def document_model(self) -> PolicyDocument:
        cached: PolicyDocument | None = getattr(self, "_document_model", None)
        if cached is None:
            cached = PolicyDocument.model_validate(self.document)
            self._document_model = cached
        return cached

    def summary(self) -> dict[str, Any]:
        return {"policy": self.policy.slug, "version": self.number, "checksum": self.checksum}
