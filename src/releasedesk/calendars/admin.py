"""Read-only admin: freezes and feed keys change only through the audited services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releasedesk.calendars.models import ChangeFreeze, FeedKey


class _ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ChangeFreeze)
class ChangeFreezeAdmin(_ReadOnlyAdmin):
    list_display = ("id", "starts_at", "ends_at", "reason", "all_products", "lifted_at")
    list_filter = ("all_products",)


@admin.register(FeedKey)
class FeedKeyAdmin(_ReadOnlyAdmin):
    list_display = ("id", "user", "customer", "version", "rotated_at")
