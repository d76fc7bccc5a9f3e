from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from releasedesk.accounts.choices import TokenScope
from releasedesk.core import clock


class Role(models.Model):
    """An internal role (product manager, CTO, …). Approvals and tasks are addressed to roles."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of the vendor's staff."""

    email = models.EmailField(blank=True)
    roles = models.ManyToManyField(Role, blank=True, related_name="users")
    timezone = models.CharField(max_length=64, default="UTC")

    def role_slugs(self) -> set[str]:
        return {r.slug for r in self.roles.all()}

    def has_role(self, slug: str) -> bool:
        return self.roles.filter(slug=slug).exists()


class Team(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    members = models.ManyToManyField(User, blank=True, related_name="teams")
    roles = models.ManyToManyField(
        Role, blank=True, related_name="teams", help_text="Roles the team's work is addressed to."
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class LoginAttempt(models.Model):
    """A failed sign-in, for throttling. `key` is a hash of the username and client address."""

    key = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["key", "at"], name="accounts_loginattempt_key_at")]

    def __str__(self) -> str:
        return f"{self.key[:12]}… at {self.at.isoformat()}"
