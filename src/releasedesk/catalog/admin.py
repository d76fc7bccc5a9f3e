"""Admin registrations. The admin is for inspection; changes belong in the catalogue pages
(they go through the audited services), so catalogue rows are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "updated_at")
    search_fields = ("name", "slug")


class ContactInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Contact
    fields = ("name", "email", "roles", "timezone", "reachable", "erased_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "kind", "timezone", "locale", "parent")
    list_filter = ("kind",)
    search_fields = ("name", "slug")
    list_select_related = ("parent",)
    inlines = (ContactInline,)


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("name", "email", "customer", "reachable", "erased_at")
    list_filter = ("reachable",)
    search_fields = ("name", "email", "customer__name")
    list_select_related = ("customer",)


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "slug",
        "kind",
        "product",
        "owner",
        "current_version",
        "timezone",
        "ring",
    )
    list_filter = ("kind", "product")
    search_fields = ("name", "slug")
    list_select_related = ("product", "owner")


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("customer", "product", "instance")
    list_filter = ("product",)
    search_fields = ("customer__name", "instance__slug")
    list_select_related = ("customer", "product", "instance")
