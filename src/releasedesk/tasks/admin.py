"""Admin registration: read-only (tasks change through their services: done/skip are audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releasedesk.tasks.models import Task, TaskOwner


class OwnerInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TaskOwner
    extra = 0
    can_delete = False
    readonly_fields = ("slug",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "title", "release", "due_at", "zone", "event", "outcome", "decided_at")
    list_filter = ("outcome", "event")
    search_fields = ("key", "title")
    inlines = [OwnerInline]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
