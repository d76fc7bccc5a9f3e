"""Read-only admin for the audit trail (the database refuses changes anyway)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releasedesk.audit.models import AuditChainHead, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "actor_kind",
        "actor_id",
        "action",
        "object_type",
        "object_id",
        "scope",
        "seq",
    )
    list_filter = ("actor_kind", "action")
    search_fields = ("=request_id", "=object_id", "=scope")
    date_hierarchy = "at"


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(ReadOnlyAdmin):
    list_display = ("scope", "seq", "last_hash")
    search_fields = ("=scope",)
