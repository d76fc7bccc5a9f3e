"""Vocabulary shared by policies and releases."""

from __future__ import annotations

from django.db import models


class ChangeKind(models.TextChoices):
    FEATURE = "feature", "Feature"
    FIX = "fix", "Fix"
    SECURITY = "security", "Security"
    PERFORMANCE = "performance", "Performance"
    DATABASE_MIGRATION = "database_migration", "Database migration"
    UX = "ux", "User experience"
    OTHER = "other", "Other"


class HotfixReason(models.TextChoices):
    PERFORMANCE = "performance", "Performance"
    FUNCTIONAL = "functional", "Functional"
    SECURITY = "security", "Security"
    OPERATIONAL = "operational", "Operational"


class ReleaseKind(models.TextChoices):
    REGULAR = "regular", "Regular"
    HOTFIX = "hotfix", "Hotfix"


class Tier(models.TextChoices):
    """Visibility tiers an audience maps to (DESIGN.md §3)."""

    INTERNAL = "internal", "Internal"
    PARTNER = "partner", "Partner"
    PUBLIC = "public", "Public"


DEFAULT_LEVEL_ORDER: tuple[str, ...] = ("negligible", "low", "medium", "high", "extreme")
