from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from releasedesk.catalog.choices import CustomerKind, InstanceKind
from releasedesk.core.models import TimeStampedModel
from releasedesk.core.scoping import ScopedQuerySet


def _subscribed(contact: Contact, column: str) -> Any:
    """The `column` values of the contact's customer's subscriptions (a subquery)."""
    return Subscription.objects.filter(customer_id=contact.customer_id).values(column)


class ProductQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        # A contact sees the products their organisation subscribes to.
        return Q(pk__in=_subscribed(contact, "product_id"))


class CustomerQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        return Q(pk=contact.customer_id)


class ContactQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        return Q(customer_id=contact.customer_id)


class InstanceQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        # Instances the organisation owns or is subscribed to.
        return Q(owner_id=contact.customer_id) | Q(pk__in=_subscribed(contact, "instance_id"))


class SubscriptionQuerySet(ScopedQuerySet):
    def contact_scope(self, contact: Contact) -> Q:
        return Q(customer_id=contact.customer_id)


ProductManager = models.Manager.from_queryset(ProductQuerySet)
CustomerManager = models.Manager.from_queryset(CustomerQuerySet)
ContactManager = models.Manager.from_queryset(ContactQuerySet)
InstanceManager = models.Manager.from_queryset(InstanceQuerySet)
SubscriptionManager = models.Manager.from_queryset(SubscriptionQuerySet)


class Product(TimeStampedModel):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    objects = ProductManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(TimeStampedModel):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=16, choices=CustomerKind.choices, default=CustomerKind.DIRECT
    )
    timezone = models.CharField(max_length=64, default="UTC")
    locale = models.CharField(max_length=8, default="en")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    tags = models.JSONField(default=list, blank=True)
    # Validated by catalog.schemas.ContractOverrides; the stricter of policy and contract wins.
    contract_overrides = models.JSONField(default=dict, blank=True)

    objects = CustomerManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="%(app_label)s_%(class)s_not_own_parent"
            ),
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

    objects = ContactManager()

    class Meta:
        ordering = ["customer__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "email"],
                name="%(app_label)s_%(class)s_unique_email_per_customer",
            ),
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
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_instances",
        help_text="The customer a dedicated or white-label instance belongs to.",
    )
    current_version = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(
        max_length=64, blank=True, help_text="Empty: the owner's zone, else the policy's."
    )
    ring = models.PositiveSmallIntegerField(default=0)
    # Validated by catalog.schemas.WindowOverride / ExecutorSettings.
    window_override = models.JSONField(default=dict, blank=True)
    executor = models.JSONField(default=dict, blank=True)

    objects = InstanceManager()

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

    objects = SubscriptionManager()

    class Meta:
        ordering = ["customer__name", "product__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "product", "instance"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} uses {self.product} on {self.instance}"
