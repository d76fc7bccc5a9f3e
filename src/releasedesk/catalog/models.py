from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from releasedesk.catalog.choices import CustomerKind, InstanceKind
from releasedesk.core.models import TimeStampedModel


class Product(TimeStampedModel):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(TimeStampedModel):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CustomerKind.choices, default=CustomerKind.DIRECT)
    timezone = models.CharField(max_length=64, default="UTC")
    locale = models.CharField(max_length=8, default="en")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    tags = models.JSONField(default=list, blank=True)
    # Validated by catalog.schemas.ContractOverrides; the stricter of policy and contract wins.
    contract_overrides = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="%(app_label)s_%(class)s_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(TimeStampedModel):
    """A person at a customer; also the customer portal's identity."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    roles = models.JSONField(default=list, blank=True)
    locale = models.CharField(max_length=8, blank=True, help_text="Empty: the customer's locale.")
    timezone = models.CharField(max_length=64, blank=True, help_text="Empty: the customer's zone.")
    reachable = models.BooleanField(default=True)
    unreachable_reason = models.CharField(max_length=300, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "email"], name="%(app_label)s_%(class)s_unique_email_per_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer})"

    @property
    def effective_timezone(self) -> str:
        return self.timezone or self.customer.timezone

    @property
    def effective_locale(self) -> str:
        return self.locale or self.customer.locale

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


class Instance(TimeStampedModel):
    """A running deployment of a product."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=InstanceKind.choices)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="instances")
    owner = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="owned_instances",
        help_text="The customer a dedicated or white-label instance belongs to.",
    )
    current_version = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="Empty: the owner's zone, else the policy's.")
    ring = models.PositiveSmallIntegerField(default=0)
    # Validated by catalog.schemas.WindowOverride / ExecutorSettings.
    window_override = models.JSONField(default=dict, blank=True)
    executor = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["product__name", "name"]

    def __str__(self) -> str:
        return self.name

    def executor_kind(self) -> str:
        kind: Any = (self.executor or {}).get("kind", "simulated")
        return str(kind)


class Subscription(TimeStampedModel):
    """Customer C uses product P on instance I."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="subscriptions")

    class Meta:
        ordering = ["customer__name", "product__name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "product", "instance"], name="%(app_label)s_%(class)s_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} uses {self.product} on {self.instance}"
