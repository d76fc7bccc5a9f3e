from __future__ import annotations

from django.db import models

from releasedesk.core import clock


class AuditEvent(models.Model):
    """One decision or change. Append-only (database triggers) and hash-chained per scope.

    People are referenced by id only; no names or e-mail addresses are stored here, so
    erasing a contact's personal data never touches (or breaks) the chain.
    """

    at = models.DateTimeField(default=clock.now, db_index=True)
    actor_kind = models.CharField(max_length=16)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_on_behalf_of = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Tamper evidence: each scope (e.g. "customer:12", "release:5") is its own chain, so
    # writers in different scopes never wait for one another.
    scope = models.CharField(max_length=96)
    seq = models.PositiveBigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "seq"], name="%(app_label)s_%(class)s_unique_scope_seq"
            ),
        ]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """The latest link of one scope's chain; locked per scope when appending."""

    scope = models.CharField(max_length=96, primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.scope} @ {self.seq}"
