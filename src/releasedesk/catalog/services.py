"""Catalogue state changes: the only code that writes Product, Customer, Contact, Instance and
Subscription rows. Web views, the API and `releasedesk catalog import` all call these.

Every function validates everything before it writes (a `ValidationFailed` carries one
message per field and changes nothing), runs in one transaction and records one audit event
with the changed fields. Contacts' names and e-mail addresses never reach the audit log: a
change to them is recorded as `"<changed>"`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction

from releasedesk.audit.services import record
from releasedesk.catalog.choices import CustomerKind, InstanceKind
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.catalog.schemas import (
    email_error,
    locale_error,
    roles_error,
    validate_json_field,
    zone_error,
)
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, ValidationFailed

PRODUCT_FIELDS = ("slug", "name", "description")
CUSTOMER_FIELDS = (
    "slug",
    "name",
    "kind",
    "timezone",
    "locale",
    "parent",
    "tags",
    "contract_overrides",
)
CONTACT_FIELDS = ("name", "email", "roles", "locale", "timezone", "reachable", "unreachable_reason")
INSTANCE_FIELDS = (
    "slug",
    "name",
    "kind",
    "product",
    "owner",
    "current_version",
    "timezone",
    "ring",
    "window_override",
    "executor",
)
# Contacts' names and e-mail addresses are passed to `audit.record()`, which redacts them
# (keeping only whether they changed): the values never reach the audit log.
ERASED_NAME = "Erased contact"
MAX_TAGS = 20


# --- helpers -----------------------------------------------------------------------------


def _catalogue_changed(actor: Actor) -> None:
    """Live releases are replanned: zones, contracts, subscribers and contacts move steps."""
    from releasedesk.timeline.replan import something_changed

    something_changed(actor=actor)


def _reject_unknown(changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"Unknown field(s): {', '.join(unknown)}.",
            fields={k: f"unknown field (allowed: {', '.join(allowed)})" for k in unknown},
        )


def _value(obj: models.Model, field: str) -> Any:
    """The audit form of a field: related objects by id, everything else as stored."""
    value = getattr(obj, field)
    if isinstance(value, models.Model):
        return value.pk
    return value


def _snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {f: _value(obj, f) for f in fields}


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, before and after."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _nul_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Texts with NUL characters (PostgreSQL cannot store them)."""

    def has_nul(value: Any) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, list):
            return any(has_nul(v) for v in value)
        return False

    return {k: "must not contain NUL characters" for k, v in data.items() if has_nul(v)}


def _full_clean(obj: models.Model, errors: dict[str, str]) -> None:
    """Django's own field, choice, uniqueness and constraint checks, merged into `errors`."""
    try:
        obj.full_clean(exclude=list(errors))
    except DjangoValidationError as exc:
        for field, messages in exc.message_dict.items():
            key = "__all__" if field == "__all__" else field
            errors.setdefault(key, " ".join(str(m) for m in messages))


def _raise_if(errors: dict[str, str], what: str) -> None:
    if errors:
        raise ValidationFailed(
            f"The {what} is not valid: {', '.join(sorted(errors))}.", fields=errors
        )


def _tags_error(tags: Any) -> str | None:
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 40 for t in tags):
        return "must be a list of short texts (1-40 characters each)"
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags"
    return None


# --- products ------------------------------------------------------------------------------


def _save_product(product: Product, data: Mapping[str, Any]) -> None:
    errors = _nul_errors(data)
    for key, value in data.items():
        if key not in errors:
            setattr(product, key, value.strip() if isinstance(value, str) else value)
    _full_clean(product, errors)
    _raise_if(errors, "product")
    product.save()


@transaction.atomic
def create_product(*, actor: Actor, slug: str, name: str, description: str = "") -> Product:
    product = Product()
    _save_product(product, {"slug": slug, "name": name, "description": description})
    record(
        actor=actor,
        action="catalog.product.create",
        obj=product,
        after=_snapshot(product, PRODUCT_FIELDS),
    )
    return product


@transaction.atomic
def update_product(*, actor: Actor, product: Product, **changes: Any) -> Product:
    _reject_unknown(changes, PRODUCT_FIELDS)
    fresh: Product = Product.objects.select_for_update().get(pk=product.pk)
    before = _snapshot(fresh, PRODUCT_FIELDS)
    _save_product(fresh, changes)
    b, a = _diff(before, _snapshot(fresh, PRODUCT_FIELDS))
    record(actor=actor, action="catalog.product.update", obj=fresh, before=b, after=a)
    return fresh


# --- customers -----------------------------------------------------------------------------


def _customer_errors(customer: Customer, data: Mapping[str, Any]) -> dict[str, str]:
    errors = _nul_errors(data)
    if "timezone" in data and (err := zone_error(data["timezone"])):
        errors["timezone"] = err
    if "locale" in data and (err := locale_error(data["locale"])):
        errors["locale"] = err
    if "kind" in data and data["kind"] not in CustomerKind.values:
        errors["kind"] = (
            f"{data['kind']!r} is not a customer kind (allowed: {', '.join(CustomerKind.values)})"
        )
    if "tags" in data and (err := _tags_error(data["tags"])):
        errors["tags"] = err
    if "contract_overrides" in data:
        _, json_errors = validate_json_field("contract_overrides", data["contract_overrides"])
        errors.update(json_errors)
    kind = data.get("kind", customer.kind)
    parent = data.get("parent", customer.parent if customer.parent_id else None)
    if parent is not None:
        if not isinstance(parent, Customer):
            errors["parent"] = "must be a customer"
        elif parent.kind != CustomerKind.RESELLER:
            errors["parent"] = f"{parent.slug!r} is not a reseller; only a reseller can be a parent"
        elif customer.pk is not None and _is_ancestor(customer, parent):
            errors["parent"] = (
                f"{parent.slug!r} is {customer.slug!r} itself or one of its customers; a customer cannot be its own ancestor"
            )
    if customer.pk is not None and kind != CustomerKind.RESELLER and customer.children.exists():
        errors.setdefault(
            "kind", "this customer has customers of its own; only a reseller can have them"
        )
    return errors


def _is_ancestor(customer: Customer, parent: Customer) -> bool:
    """True if `customer` is `parent` or one of `parent`'s ancestors."""
    seen: set[int] = set()
    current: Customer | None = parent
    while current is not None and current.pk not in seen:
        if current.pk == customer.pk:
            return True
        seen.add(current.pk)
        current = (
            Customer.objects.filter(pk=current.parent_id).first() if current.parent_id else None
        )
    return False


def _save_customer(customer: Customer, data: Mapping[str, Any]) -> None:
    errors = _customer_errors(customer, data)
    for key, value in data.items():
        if key in errors:
            continue
        if key == "contract_overrides":
            value = validate_json_field("contract_overrides", value)[0]
        setattr(customer, key, value.strip() if isinstance(value, str) else value)
    _full_clean(customer, errors)
    _raise_if(errors, "customer")
    customer.save()


@transaction.atomic
def create_customer(
    *,
    actor: Actor,
    slug: str,
    name: str,
    kind: str = CustomerKind.DIRECT,
    timezone: str = "UTC",
    locale: str = "en",
    parent: Customer | None = None,
    tags: list[str] | None = None,
    contract_overrides: dict[str, Any] | None = None,
) -> Customer:
    customer = Customer()
    data = {
        "slug": slug,
        "name": name,
        "kind": kind,
        "timezone": timezone,
        "locale": locale,
        "parent": parent,
        "tags": list(tags or []),
        "contract_overrides": contract_overrides or {},
    }
    _save_customer(customer, data)
    record(
        actor=actor,
        action="catalog.customer.create",
        obj=customer,
        after=_snapshot(customer, CUSTOMER_FIELDS),
    )
    return customer


@transaction.atomic
def update_customer(*, actor: Actor, customer: Customer, **changes: Any) -> Customer:
    _reject_unknown(changes, CUSTOMER_FIELDS)
    fresh: Customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = _snapshot(fresh, CUSTOMER_FIELDS)
    _save_customer(fresh, changes)
    b, a = _diff(before, _snapshot(fresh, CUSTOMER_FIELDS))
    record(actor=actor, action="catalog.customer.update", obj=fresh, before=b, after=a)
    _catalogue_changed(actor)
    return fresh


# --- contacts ------------------------------------------------------------------------------


def _save_contact(contact: Contact, data: Mapping[str, Any]) -> None:
    errors = _nul_errors(data)
    data = dict(data)
    if "email" in data:
        if err := email_error(data["email"]):
            errors["email"] = err
        else:
            data["email"] = str(data["email"]).strip().lower()
    if "roles" in data and (err := roles_error(data["roles"])):
        errors["roles"] = err
    if data.get("locale") and (err := locale_error(data["locale"])):
        errors["locale"] = err
    if data.get("timezone") and (err := zone_error(data["timezone"])):
        errors["timezone"] = err
    if "reachable" in data and not isinstance(data["reachable"], bool):
        errors["reachable"] = "must be true or false"
    for key, value in data.items():
        if key not in errors:
            setattr(contact, key, value.strip() if isinstance(value, str) else value)
    _full_clean(contact, errors)
    _raise_if(errors, "contact")
    contact.save()


@transaction.atomic
def create_contact(
    *,
    actor: Actor,
    customer: Customer,
    name: str,
    email: str,
    roles: list[str] | None = None,
    locale: str = "",
    timezone: str = "",
    reachable: bool = True,
    unreachable_reason: str = "",
) -> Contact:
    contact = Contact(customer=customer)
    _save_contact(
        contact,
        {
            "name": name,
            "email": email,
            "roles": list(roles or []),
            "locale": locale or "",
            "timezone": timezone or "",
            "reachable": reachable,
            "unreachable_reason": unreachable_reason,
        },
    )
    after = {
        "customer": customer.pk,
        **_snapshot(contact, CONTACT_FIELDS),
    }
    record(
        actor=actor,
        action="catalog.contact.create",
        obj=contact,
        after=after,
        scope=f"catalog.customer:{customer.pk}",
    )
    _catalogue_changed(actor)
    return contact


@transaction.atomic
def update_contact(*, actor: Actor, contact: Contact, **changes: Any) -> Contact:
    _reject_unknown(changes, CONTACT_FIELDS)
    fresh: Contact = (
        Contact.objects.select_for_update().select_related("customer").get(pk=contact.pk)
    )
    if fresh.erased_at is not None:
        raise Conflict(
            "This contact's personal data has been erased; it cannot be edited.",
            code="contact_erased",
        )
    before = _snapshot(fresh, CONTACT_FIELDS)
    _save_contact(fresh, changes)
    b, a = _diff(before, _snapshot(fresh, CONTACT_FIELDS))
    record(
        actor=actor,
        action="catalog.contact.update",
        obj=fresh,
        before=b,
        after=a,
        scope=f"catalog.customer:{fresh.customer_id}",
    )
    _catalogue_changed(actor)
    return fresh


@transaction.atomic
def erase_contact(*, actor: Actor, contact: Contact) -> Contact:
    """Replace a contact's personal data by placeholders. The audit log keeps ids only."""
    fresh: Contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if fresh.erased_at is not None:
        raise Conflict(
            "This contact's personal data has already been erased.", code="contact_erased"
        )
    fresh.name = ERASED_NAME
    fresh.email = f"erased-{fresh.pk}@invalid"
    fresh.timezone = ""
    fresh.reachable = False
    fresh.unreachable_reason = "personal data erased"
    fresh.erased_at = clock.now()
    fresh.save()
    record(
        actor=actor,
        action="catalog.contact.erase",
        obj=fresh,
        before={"erased_at": None},
        after={
            "erased_at": fresh.erased_at.isoformat(),
            "erased_fields": ["name", "email", "timezone"],
        },
        scope=f"catalog.customer:{fresh.customer_id}",
    )
    _catalogue_changed(actor)
    return fresh


# --- instances -----------------------------------------------------------------------------


def _save_instance(instance: Instance, data: Mapping[str, Any]) -> None:
    errors = _nul_errors(data)
    data = dict(data)
    if "kind" in data and data["kind"] not in InstanceKind.values:
        errors["kind"] = (
            f"{data['kind']!r} is not an instance kind (allowed: {', '.join(InstanceKind.values)})"
        )
    if data.get("timezone") and (err := zone_error(data["timezone"])):
        errors["timezone"] = err
    if "product" in data and not isinstance(data["product"], Product):
        errors["product"] = "is required"
    if data.get("owner") is not None and not isinstance(data["owner"], Customer):
        errors["owner"] = "must be a customer"
    if "ring" in data and (
        not isinstance(data["ring"], int)
        or isinstance(data["ring"], bool)
        or not 0 <= data["ring"] <= 100
    ):
        errors["ring"] = "must be a whole number from 0 to 100"
    for json_field in ("window_override", "executor"):
        if json_field in data:
            value, json_errors = validate_json_field(json_field, data[json_field])  # type: ignore[arg-type]
            errors.update(json_errors)
            data[json_field] = value
    if (
        instance.pk is not None
        and "product" in data
        and isinstance(data["product"], Product)
        and data["product"].pk != instance.product_id
        and instance.subscriptions.exists()
    ):
        errors["product"] = (
            "this instance has subscriptions for its current product; remove them first"
        )
    for key, value in data.items():
        if key not in errors:
            setattr(instance, key, value.strip() if isinstance(value, str) else value)
    _full_clean(instance, errors)
    _raise_if(errors, "instance")
    instance.save()


@transaction.atomic
def create_instance(
    *,
    actor: Actor,
    slug: str,
    name: str,
    kind: str,
    product: Product,
    owner: Customer | None = None,
    current_version: str = "",
    timezone: str = "",
    ring: int = 0,
    window_override: dict[str, Any] | None = None,
    executor: dict[str, Any] | None = None,
) -> Instance:
    instance = Instance()
    _save_instance(
        instance,
        {
            "slug": slug,
            "name": name,
            "kind": kind,
            "product": product,
            "owner": owner,
            "current_version": current_version,
            "timezone": timezone or "",
            "ring": ring,
            "window_override": window_override or {},
            "executor": executor or {},
        },
    )
    record(
        actor=actor,
        action="catalog.instance.create",
        obj=instance,
        after=_snapshot(instance, INSTANCE_FIELDS),
    )
    _catalogue_changed(actor)
    return instance


@transaction.atomic
def update_instance(*, actor: Actor, instance: Instance, **changes: Any) -> Instance:
    _reject_unknown(changes, INSTANCE_FIELDS)
    fresh: Instance = Instance.objects.select_for_update().get(pk=instance.pk)
    before = _snapshot(fresh, INSTANCE_FIELDS)
    _save_instance(fresh, changes)
    b, a = _diff(before, _snapshot(fresh, INSTANCE_FIELDS))
    record(actor=actor, action="catalog.instance.update", obj=fresh, before=b, after=a)
    _catalogue_changed(actor)
    return fresh


# --- subscriptions -------------------------------------------------------------------------


def _subscription_errors(customer: Any, product: Any, instance: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not isinstance(customer, Customer):
        errors["customer"] = "is required"
    if not isinstance(product, Product):
        errors["product"] = "is required"
    if not isinstance(instance, Instance):
        errors["instance"] = "is required"
    elif isinstance(product, Product) and instance.product_id != product.pk:
        errors["instance"] = (
            f"instance {instance.slug!r} runs product {instance.product.slug!r}, not {product.slug!r}"
        )
    return errors


@transaction.atomic
def create_subscription(
    *, actor: Actor, customer: Customer, product: Product, instance: Instance
) -> Subscription:
    errors = _subscription_errors(customer, product, instance)
    _raise_if(errors, "subscription")
    subscription = Subscription(customer=customer, product=product, instance=instance)
    _full_clean(subscription, errors)
    _raise_if(errors, "subscription")
    subscription.save()
    record(
        actor=actor,
        action="catalog.subscription.create",
        obj=subscription,
        after=_snapshot(subscription, ("customer", "product", "instance")),
        scope=f"catalog.customer:{customer.pk}",
    )
    _catalogue_changed(actor)
    return subscription


@transaction.atomic
def update_subscription(
    *, actor: Actor, subscription: Subscription, **changes: Any
) -> Subscription:
    fields = ("customer", "product", "instance")
    _reject_unknown(changes, fields)
    fresh: Subscription = (
        Subscription.objects.select_for_update()
        .select_related("customer", "product", "instance__product")
        .get(pk=subscription.pk)
    )
    before = _snapshot(fresh, fields)
    values = {f: changes.get(f, getattr(fresh, f)) for f in fields}
    errors = _subscription_errors(values["customer"], values["product"], values["instance"])
    _raise_if(errors, "subscription")
    for key, value in values.items():
        setattr(fresh, key, value)
    _full_clean(fresh, errors)
    _raise_if(errors, "subscription")
    fresh.save()
    b, a = _diff(before, _snapshot(fresh, fields))
    record(
        actor=actor,
        action="catalog.subscription.update",
        obj=fresh,
        before=b,
        after=a,
        scope=f"catalog.customer:{fresh.customer_id}",
    )
    _catalogue_changed(actor)
    return fresh


@transaction.atomic
def delete_subscription(*, actor: Actor, subscription: Subscription) -> None:
    fresh: Subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    before = {"id": fresh.pk, **_snapshot(fresh, ("customer", "product", "instance"))}
    scope = f"catalog.customer:{fresh.customer_id}"
    record(actor=actor, action="catalog.subscription.delete", obj=fresh, before=before, scope=scope)
    fresh.delete()
    _catalogue_changed(actor)
