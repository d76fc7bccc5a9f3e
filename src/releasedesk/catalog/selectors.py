"""Catalogue queries. Every one starts from `for_user(principal)`, so scoping is never forgotten,
and loads related rows up front so the number of queries does not grow with the rows shown.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from releasedesk.audit.services import record_denied
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.core.context import Actor
from releasedesk.core.errors import NotFound
from releasedesk.core.scoping import is_contact_principal

MAX_QUERY_LENGTH = 100


def _clean(query: str | None) -> str:
    # NUL cannot be sent to PostgreSQL; nobody searches for it.
    return (query or "").replace("\x00", "").strip()[:MAX_QUERY_LENGTH]


def products(principal: Any, *, query: str | None = None) -> QuerySet[Product]:
    qs = Product.objects.for_user(principal)
    if q := _clean(query):
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    return qs.order_by("name", "pk")


def customers(
    principal: Any,
    *,
    query: str | None = None,
    kind: str | None = None,
    parent_id: int | None = None,
) -> QuerySet[Customer]:
    qs = Customer.objects.for_user(principal).select_related("parent")
    if q := _clean(query):
        # A contact's e-mail finds their organisation too.
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(slug__icontains=q)
            | Q(
                pk__in=Contact.objects.for_user(principal)
                .filter(email__icontains=q, erased_at__isnull=True)
                .values("customer_id")
            )
        )
    if kind := _clean(kind):
        qs = qs.filter(kind=kind)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    return qs.order_by("name", "pk")


def contacts(
    principal: Any, *, query: str | None = None, customer_id: int | None = None
) -> QuerySet[Contact]:
    qs = Contact.objects.for_user(principal).select_related("customer")
    if q := _clean(query):
        qs = qs.filter(
            Q(name__icontains=q) | Q(email__icontains=q) | Q(customer__slug__icontains=q)
        )
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs.order_by("customer__name", "name", "pk")


def instances(
    principal: Any,
    *,
    query: str | None = None,
    kind: str | None = None,
    product_id: int | None = None,
) -> QuerySet[Instance]:
    qs = Instance.objects.for_user(principal).select_related("product", "owner")
    if q := _clean(query):
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(owner__name__icontains=q))
    if kind := _clean(kind):
        qs = qs.filter(kind=kind)
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    return qs.order_by("product__name", "name", "pk")


def subscriptions(
    principal: Any, *, customer_id: int | None = None, instance_id: int | None = None
) -> QuerySet[Subscription]:
    qs = Subscription.objects.for_user(principal).select_related("customer", "product", "instance")
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if instance_id is not None:
        qs = qs.filter(instance_id=instance_id)
    return qs.order_by("customer__name", "product__name", "pk")


def _get(qs: QuerySet[Any], pk: int, what: str, principal: Any = None) -> Any:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        if is_contact_principal(principal) and qs.model._default_manager.filter(pk=pk).exists():
            # A contact reaching for another organisation's object: 404, and audited.
            record_denied(
                actor=Actor(kind="contact", id=principal.pk),
                action=f"catalog.{what}.view",
                object_type=qs.model._meta.label_lower,
                object_id=pk,
            )
        raise NotFound(f"No {what} with id {pk}.")
    return obj


def product(principal: Any, pk: int) -> Product:
    result: Product = _get(Product.objects.for_user(principal), pk, "product", principal)
    return result


def customer(principal: Any, pk: int) -> Customer:
    result: Customer = _get(
        Customer.objects.for_user(principal).select_related("parent"), pk, "customer", principal
    )
    return result


def contact(principal: Any, pk: int) -> Contact:
    result: Contact = _get(
        Contact.objects.for_user(principal).select_related("customer"), pk, "contact", principal
    )
    return result


def instance(principal: Any, pk: int) -> Instance:
    result: Instance = _get(
        Instance.objects.for_user(principal).select_related("product", "owner"),
        pk,
        "instance",
        principal,
    )
    return result


def subscription(principal: Any, pk: int) -> Subscription:
    result: Subscription = _get(
        Subscription.objects.for_user(principal).select_related("customer", "product", "instance"),
        pk,
        "subscription",
        principal,
    )
    return result


def customer_detail(principal: Any, pk: int) -> Customer:
    """A customer with its contacts, instances, subscriptions and child customers loaded."""
    qs = (
        Customer.objects.for_user(principal)
        .select_related("parent")
        .prefetch_related(
            Prefetch(
                "contacts", queryset=Contact.objects.for_user(principal).order_by("name", "pk")
            ),
            Prefetch(
                "owned_instances",
                queryset=Instance.objects.for_user(principal)
                .select_related("product")
                .order_by("name", "pk"),
            ),
            Prefetch(
                "subscriptions",
                queryset=Subscription.objects.for_user(principal)
                .select_related("product", "instance")
                .order_by("product__name", "pk"),
            ),
            Prefetch(
                "children", queryset=Customer.objects.for_user(principal).order_by("name", "pk")
            ),
        )
    )
    result: Customer = _get(qs, pk, "customer", principal)
    return result


def instance_detail(principal: Any, pk: int) -> Instance:
    qs = (
        Instance.objects.for_user(principal)
        .select_related("product", "owner")
        .prefetch_related(
            Prefetch(
                "subscriptions",
                queryset=Subscription.objects.for_user(principal)
                .select_related("customer")
                .order_by("customer__name", "pk"),
            )
        )
    )
    result: Instance = _get(qs, pk, "instance", principal)
    return result


def customer_instance_ids(customer_id: int) -> set[int]:
    """The instances a customer owns or uses (through a subscription)."""
    owned = Instance.objects.filter(owner_id=customer_id).values_list("pk", flat=True)
    used = Subscription.objects.filter(customer_id=customer_id).values_list(
        "instance_id", flat=True
    )
    return set(owned) | set(used)
