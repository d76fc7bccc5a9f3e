"""/api/v1/catalog/: products, customers, contacts, instances, subscriptions.

Reads go through the selectors (`for_user`): staff see the catalogue, a signed-in portal
contact sees only their own organisation, and anything else answers 404. Writes need a write
token or a staff session and always go through `catalog.services`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts.authn import actor_for, api_auth_with_contacts, require_write, staff_user
from releasedesk.catalog import selectors, services
from releasedesk.catalog.models import Customer, Instance, Product, Subscription
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import PermissionDenied, ValidationFailed

MAX_ID = 2**53


router = Router(tags=["catalog"], auth=api_auth_with_contacts)

ID_FIELD: Any = param_functions.Path(..., ge=1, le=MAX_ID)


def principal(request: HttpRequest) -> Any:
    user = staff_user(request)
    if user is not None:
        return user
    from releasedesk.portal.auth import current_contact

    return current_contact(request)


def require_staff_write(request: HttpRequest) -> None:
    """Writes: a write token or a staff session; contacts may not edit the catalogue."""
    require_write(request)
    if staff_user(request) is None:
        raise PermissionDenied("Only vendor staff may change the catalogue.")


def _resolve(request: HttpRequest, model: type[Any], pk: int | None, field: str) -> Any:
    if pk is None:
        return None
    found = model.objects.for_user(principal(request)).filter(pk=pk).first()
    if found is None:
        raise ValidationFailed(
            f"{field}: no {model._meta.verbose_name} with id {pk}.",
            fields={field: f"no {model._meta.verbose_name} with id {pk}"},
        )
    return found


def _renamed(exc: ValidationFailed, mapping: dict[str, str]) -> ValidationFailed:
    fields = {mapping.get(k, k): v for k, v in exc.fields.items()}
    return ValidationFailed(exc.message, fields=fields)


# --- schemas -------------------------------------------------------------------------------


class ProductOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductIn(Schema):
    slug: str = Field(..., max_length=64)
    name: str = Field(..., max_length=120)
    description: str = Field("", max_length=5000)


class ProductPatch(Schema):
    slug: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=5000)


class CustomerOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    timezone: str
    locale: str
    parent_id: int | None
    tags: list[str]
    contract_overrides: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class CustomerIn(Schema):
    slug: str = Field(..., max_length=64)
    name: str = Field(..., max_length=200)
    kind: str = Field(
        "direct", max_length=16, description="direct, oem_partner, reseller or hosted"
    )
    timezone: str = Field("UTC", max_length=64, description="IANA time zone")
    locale: str = Field("en", max_length=8)
    parent_id: int | None = Field(None, ge=1, le=MAX_ID, description="A reseller")
    tags: list[str] = Field(default_factory=list, max_length=20)
    contract_overrides: dict[str, Any] = Field(default_factory=dict)


class CustomerPatch(Schema):
    slug: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=200)
    kind: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=8)
    parent_id: int | None = Field(None, ge=1, le=MAX_ID)
    tags: list[str] | None = Field(None, max_length=20)
    contract_overrides: dict[str, Any] | None = None


class ContactOut(Schema):
    id: int
    customer_id: int
    name: str
    email: str
    roles: list[str]
    locale: str
    timezone: str
    reachable: bool
    unreachable_reason: str
    erased_at: dt.datetime | None


class ContactIn(Schema):
    customer_id: int = Field(..., ge=1, le=MAX_ID)
    name: str = Field(..., max_length=200)
    email: str = Field(..., max_length=254)
    roles: list[str] = Field(default_factory=list, max_length=10)
    locale: str = Field("", max_length=8, description="Empty: the customer's")
    timezone: str = Field("", max_length=64, description="Empty: the customer's")
    reachable: bool = True
    unreachable_reason: str = Field("", max_length=300)


class ContactPatch(Schema):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    roles: list[str] | None = Field(None, max_length=10)
    locale: str | None = Field(None, max_length=8)
    timezone: str | None = Field(None, max_length=64)
    reachable: bool | None = None
    unreachable_reason: str | None = Field(None, max_length=300)


class InstanceOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    product_id: int
    owner_id: int | None
    current_version: str
    timezone: str
    ring: int
    window_override: dict[str, Any]
    executor: dict[str, Any]


class InstanceIn(Schema):
    slug: str = Field(..., max_length=64)
    name: str = Field(..., max_length=200)
    kind: str = Field(..., max_length=16, description="shared, dedicated, white_label or staging")
    product_id: int = Field(..., ge=1, le=MAX_ID)
    owner_id: int | None = Field(None, ge=1, le=MAX_ID)
    current_version: str = Field("", max_length=64)
    timezone: str = Field("", max_length=64)
    ring: int = Field(0, ge=0, le=100)
    window_override: dict[str, Any] = Field(default_factory=dict)
    executor: dict[str, Any] = Field(default_factory=dict)


class InstancePatch(Schema):
    slug: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=200)
    kind: str | None = Field(None, max_length=16)
    product_id: int | None = Field(None, ge=1, le=MAX_ID)
    owner_id: int | None = Field(None, ge=1, le=MAX_ID)
    current_version: str | None = Field(None, max_length=64)
    timezone: str | None = Field(None, max_length=64)
    ring: int | None = Field(None, ge=0, le=100)
    window_override: dict[str, Any] | None = None
    executor: dict[str, Any] | None = None


class SubscriptionOut(Schema):
    id: int
    customer_id: int
    product_id: int
    instance_id: int


class SubscriptionIn(Schema):
    customer_id: int = Field(..., ge=1, le=MAX_ID)
    product_id: int = Field(..., ge=1, le=MAX_ID)
    instance_id: int = Field(..., ge=1, le=MAX_ID)


# --- products ------------------------------------------------------------------------------


@router.get(
    "/products", response={200: list[ProductOut], **ERROR_RESPONSES}, summary="List products"
)
@paginate(BoundedPagination)
def list_products(
    request: HttpRequest,
    q: str | None = param_functions.Query(
        None, max_length=100, description="Search by name, slug or e-mail"
    ),
) -> Any:
    return selectors.products(principal(request), query=q)


@router.get(
    "/products/{product_id}", response={200: ProductOut, **ERROR_RESPONSES}, summary="Get a product"
)
def get_product(request: HttpRequest, product_id: int = ID_FIELD) -> Any:
    return selectors.product(principal(request), product_id)


@router.post("/products", response={201: ProductOut, **ERROR_RESPONSES}, summary="Create a product")
def create_product(request: HttpRequest, payload: ProductIn) -> Any:
    require_staff_write(request)
    return Status(201, services.create_product(actor=actor_for(request), **payload.dict()))


@router.patch(
    "/products/{product_id}",
    response={200: ProductOut, **ERROR_RESPONSES},
    summary="Change a product",
)
def patch_product(request: HttpRequest, payload: ProductPatch, product_id: int = ID_FIELD) -> Any:
    product = selectors.product(principal(request), product_id)
    require_staff_write(request)
    return services.update_product(
        actor=actor_for(request), product=product, **payload.dict(exclude_unset=True)
    )


# --- customers -----------------------------------------------------------------------------

_CUSTOMER_RENAMES = {"parent": "parent_id"}


@router.get(
    "/customers", response={200: list[CustomerOut], **ERROR_RESPONSES}, summary="List customers"
)
@paginate(BoundedPagination)
def list_customers(
    request: HttpRequest,
    q: str | None = param_functions.Query(
        None, max_length=100, description="Search by name, slug or e-mail"
    ),
    kind: str | None = param_functions.Query(None, max_length=16),
) -> Any:
    return selectors.customers(principal(request), query=q, kind=kind)


@router.get(
    "/customers/{customer_id}",
    response={200: CustomerOut, **ERROR_RESPONSES},
    summary="Get a customer",
)
def get_customer(request: HttpRequest, customer_id: int = ID_FIELD) -> Any:
    return selectors.customer(principal(request), customer_id)


def _customer_changes(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    if "parent_id" in data:
        data["parent"] = _resolve(request, Customer, data.pop("parent_id"), "parent_id")
    return data


@router.post(
    "/customers", response={201: CustomerOut, **ERROR_RESPONSES}, summary="Create a customer"
)
def create_customer(request: HttpRequest, payload: CustomerIn) -> Any:
    require_staff_write(request)
    data = _customer_changes(request, payload.dict())
    try:
        return Status(201, services.create_customer(actor=actor_for(request), **data))
    except ValidationFailed as exc:
        raise _renamed(exc, _CUSTOMER_RENAMES) from exc


@router.patch(
    "/customers/{customer_id}",
    response={200: CustomerOut, **ERROR_RESPONSES},
    summary="Change a customer",
)
def patch_customer(
    request: HttpRequest, payload: CustomerPatch, customer_id: int = ID_FIELD
) -> Any:
    customer = selectors.customer(principal(request), customer_id)
    require_staff_write(request)
    data = _customer_changes(request, payload.dict(exclude_unset=True))
    try:
        return services.update_customer(actor=actor_for(request), customer=customer, **data)
    except ValidationFailed as exc:
        raise _renamed(exc, _CUSTOMER_RENAMES) from exc


# --- contacts ------------------------------------------------------------------------------


@router.get(
    "/contacts", response={200: list[ContactOut], **ERROR_RESPONSES}, summary="List contacts"
)
@paginate(BoundedPagination)
def list_contacts(
    request: HttpRequest,
    q: str | None = param_functions.Query(
        None, max_length=100, description="Search by name, slug or e-mail"
    ),
    customer_id: int | None = param_functions.Query(None, ge=1, le=MAX_ID),
) -> Any:
    return selectors.contacts(principal(request), query=q, customer_id=customer_id)


@router.get(
    "/contacts/{contact_id}", response={200: ContactOut, **ERROR_RESPONSES}, summary="Get a contact"
)
def get_contact(request: HttpRequest, contact_id: int = ID_FIELD) -> Any:
    return selectors.contact(principal(request), contact_id)


@router.post(
    "/contacts",
    response={201: ContactOut, **ERROR_RESPONSES},
    summary="Add a contact to a customer",
)
def create_contact(request: HttpRequest, payload: ContactIn) -> Any:
    require_staff_write(request)
    data = payload.dict()
    data["customer"] = _resolve(request, Customer, data.pop("customer_id"), "customer_id")
    try:
        return Status(201, services.create_contact(actor=actor_for(request), **data))
    except ValidationFailed as exc:
        raise _renamed(exc, {"customer": "customer_id"}) from exc


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut, **ERROR_RESPONSES},
    summary="Change a contact",
)
def patch_contact(request: HttpRequest, payload: ContactPatch, contact_id: int = ID_FIELD) -> Any:
    contact = selectors.contact(principal(request), contact_id)
    require_staff_write(request)
    return services.update_contact(
        actor=actor_for(request), contact=contact, **payload.dict(exclude_unset=True)
    )


@router.post(
    "/contacts/{contact_id}/erase",
    response={200: ContactOut, **ERROR_RESPONSES},
    summary="Erase a contact's personal data",
)
def erase_contact(request: HttpRequest, contact_id: int = ID_FIELD) -> Any:
    contact = selectors.contact(principal(request), contact_id)
    require_staff_write(request)
    return services.erase_contact(actor=actor_for(request), contact=contact)


# --- instances -----------------------------------------------------------------------------

_INSTANCE_RENAMES = {"product": "product_id", "owner": "owner_id"}


def _instance_changes(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    if "product_id" in data:
        product_id = data.pop("product_id")
        if product_id is None:
            raise ValidationFailed("product_id: is required.", fields={"product_id": "is required"})
        data["product"] = _resolve(request, Product, product_id, "product_id")
    if "owner_id" in data:
        data["owner"] = _resolve(request, Customer, data.pop("owner_id"), "owner_id")
    return data


@router.get(
    "/instances", response={200: list[InstanceOut], **ERROR_RESPONSES}, summary="List instances"
)
@paginate(BoundedPagination)
def list_instances(
    request: HttpRequest,
    q: str | None = param_functions.Query(
        None, max_length=100, description="Search by name, slug or e-mail"
    ),
    kind: str | None = param_functions.Query(None, max_length=16),
) -> Any:
    return selectors.instances(principal(request), query=q, kind=kind)


@router.get(
    "/instances/{instance_id}",
    response={200: InstanceOut, **ERROR_RESPONSES},
    summary="Get an instance",
)
def get_instance(request: HttpRequest, instance_id: int = ID_FIELD) -> Any:
    return selectors.instance(principal(request), instance_id)


@router.post(
    "/instances", response={201: InstanceOut, **ERROR_RESPONSES}, summary="Create an instance"
)
def create_instance(request: HttpRequest, payload: InstanceIn) -> Any:
    require_staff_write(request)
    data = _instance_changes(request, payload.dict())
    try:
        return Status(201, services.create_instance(actor=actor_for(request), **data))
    except ValidationFailed as exc:
        raise _renamed(exc, _INSTANCE_RENAMES) from exc


@router.patch(
    "/instances/{instance_id}",
    response={200: InstanceOut, **ERROR_RESPONSES},
    summary="Change an instance",
)
def patch_instance(
    request: HttpRequest, payload: InstancePatch, instance_id: int = ID_FIELD
) -> Any:
    instance = selectors.instance(principal(request), instance_id)
    require_staff_write(request)
    data = _instance_changes(request, payload.dict(exclude_unset=True))
    try:
        return services.update_instance(actor=actor_for(request), instance=instance, **data)
    except ValidationFailed as exc:
        raise _renamed(exc, _INSTANCE_RENAMES) from exc


# --- subscriptions -------------------------------------------------------------------------

_SUBSCRIPTION_RENAMES = {
    "customer": "customer_id",
    "product": "product_id",
    "instance": "instance_id",
}


@router.get(
    "/subscriptions",
    response={200: list[SubscriptionOut], **ERROR_RESPONSES},
    summary="List subscriptions",
)
@paginate(BoundedPagination)
def list_subscriptions(
    request: HttpRequest,
    customer_id: int | None = param_functions.Query(None, ge=1, le=MAX_ID),
    instance_id: int | None = param_functions.Query(None, ge=1, le=MAX_ID),
) -> Any:
    return selectors.subscriptions(
        principal(request), customer_id=customer_id, instance_id=instance_id
    )


@router.get(
    "/subscriptions/{subscription_id}",
    response={200: SubscriptionOut, **ERROR_RESPONSES},
    summary="Get a subscription",
)
def get_subscription(request: HttpRequest, subscription_id: int = ID_FIELD) -> Any:
    return selectors.subscription(principal(request), subscription_id)


@router.post(
    "/subscriptions",
    response={201: SubscriptionOut, **ERROR_RESPONSES},
    summary="Subscribe a customer to a product on an instance",
)
def create_subscription(request: HttpRequest, payload: SubscriptionIn) -> Any:
    require_staff_write(request)
    customer = _resolve(request, Customer, payload.customer_id, "customer_id")
    product = _resolve(request, Product, payload.product_id, "product_id")
    instance = _resolve(request, Instance, payload.instance_id, "instance_id")
    try:
        return Status(
            201,
            services.create_subscription(
                actor=actor_for(request), customer=customer, product=product, instance=instance
            ),
        )
    except ValidationFailed as exc:
        raise _renamed(exc, _SUBSCRIPTION_RENAMES) from exc


@router.delete(
    "/subscriptions/{subscription_id}",
    response={204: None, **ERROR_RESPONSES},
    summary="Remove a subscription",
)
def delete_subscription(request: HttpRequest, subscription_id: int = ID_FIELD) -> Any:
    subscription: Subscription = selectors.subscription(principal(request), subscription_id)
    require_staff_write(request)
    services.delete_subscription(actor=actor_for(request), subscription=subscription)
    return Status(204, None)
