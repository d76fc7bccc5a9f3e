"""Admin registrations: read-only (retries go through the staff outbox page, audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releasedesk.outbox import masking
from releasedesk.outbox.models import Message, TrackingReceipt


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "to_address", "state", "due_at", "delivered_at", "attempts")
    list_filter = ("state", "kind")
    search_fields = ("key", "message_id", "to_address")
    # Bodies as staff may see them: portal sign-in links hidden (outbox.masking).
    exclude = ("body_text", "body_html")
    readonly_fields = ("text_preview", "html_source_preview")

    @admin.display(description="Body text")
    def text_preview(self, obj: Message) -> str:
        return masking.preview_text(obj)

    @admin.display(description="Body HTML (source)")
    def html_source_preview(self, obj: Message) -> str:
        return masking.preview_html(obj)


@admin.register(TrackingReceipt)
class TrackingReceiptAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "event", "contact", "received_at")
    list_filter = ("event",)
