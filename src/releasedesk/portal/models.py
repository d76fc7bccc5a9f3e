from __future__ import annotations

from django.db import models

from releasedesk.core import clock


class UsedSignInLink(models.Model):
    """A portal sign-in link that has been used: each link signs in once."""

    nonce = models.CharField(max_length=64, unique=True)
    contact_id = models.BigIntegerField(db_index=True)
    used_at = models.DateTimeField(default=clock.now, db_index=True)

    def __str__(self) -> str:
        return f"link {self.nonce[:8]}… used at {self.used_at.isoformat()}"
