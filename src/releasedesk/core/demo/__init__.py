"""Demo data: `load_demo()` fills an empty database with the demo catalogue.

Everything is written through the apps' service functions (so every row has its audit
event) in one transaction. Later issues extend `load_demo()` with policies and releases.
`ensure_demo_users()` creates (or re-passwords) the demo staff accounts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction

from releasedesk.accounts import services as accounts_services
from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.catalog import services as catalog_services
from releasedesk.catalog.models import Customer, Instance, Product
from releasedesk.core.context import Actor
from releasedesk.core.demo.data import CUSTOMERS, INSTANCES, PRODUCTS, STAFF

__all__ = ["DemoSummary", "ensure_demo_users", "is_demo_loaded", "load_demo"]

DEMO_EMAIL_DOMAIN = "example"
STAFF_EMAIL_DOMAIN = "vendor.example"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    loaded: bool  # False when the demo data was already there
    products: int
    customers: int
    contacts: int
    instances: int
    subscriptions: int
    zones: tuple[str, ...]


def email_for(name: str, customer_slug: str) -> str:
    """'Kevin O'Neill' at hudson-utilities -> 'kevin.oneill@hudson-utilities.example'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    local = re.sub(r"[^a-z0-9]+", ".", ascii_name.lower().replace("'", "")).strip(".")
    return f"{local}@{customer_slug}.{DEMO_EMAIL_DOMAIN}"


def is_demo_loaded() -> bool:
    return Customer.objects.filter(slug__in=[c.slug for c in CUSTOMERS]).exists()


@transaction.atomic
def load_demo(*, actor: Actor | None = None) -> DemoSummary:
    """Load the demo data (idempotent): the catalogue unless it is already there.

    Later issues add their own idempotent loaders (policies, releases…) at the end of this
    function, after the catalogue, so a second run still adds what a newer version brings.
    The `demo` command creates the demo staff users before calling this, so loaders can pick
    their actors by role.
    """
    actor = actor or Actor.system()
    loaded = False
    if not is_demo_loaded():
        _load_catalogue(actor)
        loaded = True
    from releasedesk.releases.demo import load_demo_releases  # example policies + demo releases

    load_demo_releases(actor)
    from releasedesk.core.demo.live import load_live_demo  # minutes, not days: watch it run

    load_live_demo(actor)
    from releasedesk.notes.demo import load_demo_notes

    load_demo_notes()
    return _summary(loaded=loaded)


def _load_catalogue(actor: Actor) -> None:
    accounts_services.ensure_default_roles(actor=actor)

    products: dict[str, Product] = {}
    for p in PRODUCTS:
        products[p.slug] = catalog_services.create_product(
            actor=actor, slug=p.slug, name=p.name, description=p.description
        )

    # Owners of dedicated / white-label instances must exist first; parents before children.
    customers: dict[str, Customer] = {}
    for c in sorted(CUSTOMERS, key=lambda c: c.parent is not None):
        customers[c.slug] = catalog_services.create_customer(
            actor=actor,
            slug=c.slug,
            name=c.name,
            kind=c.kind,
            timezone=c.zone,
            locale=c.locale,
            parent=customers[c.parent] if c.parent else None,
            tags=list(c.tags),
            contract_overrides=dict(c.contract_overrides),
        )
        for person in c.contacts:
            catalog_services.create_contact(
                actor=actor,
                customer=customers[c.slug],
                name=person.name,
                email=email_for(person.name, c.slug),
                roles=list(person.roles),
                timezone=person.zone,
                reachable=not person.unreachable_reason,
                unreachable_reason=person.unreachable_reason,
            )

    instances: dict[str, Instance] = {}
    for i in INSTANCES:
        instances[i.slug] = catalog_services.create_instance(
            actor=actor,
            slug=i.slug,
            name=i.name,
            kind=i.kind,
            product=products[i.product],
            owner=customers[i.owner] if i.owner else None,
            current_version=i.version,
            timezone=i.zone,
            ring=i.ring,
            window_override=dict(i.window_override),
            executor={"kind": "simulated", "duration_seconds": 5},
        )

    for c in CUSTOMERS:
        for product_slug, instance_slug in c.uses:
            catalog_services.create_subscription(
                actor=actor,
                customer=customers[c.slug],
                product=products[product_slug],
                instance=instances[instance_slug],
            )


def _summary(*, loaded: bool) -> DemoSummary:
    slugs = [c.slug for c in CUSTOMERS]
    customers = Customer.objects.filter(slug__in=slugs)
    return DemoSummary(
        loaded=loaded,
        products=Product.objects.filter(slug__in=[p.slug for p in PRODUCTS]).count(),
        customers=customers.count(),
        contacts=sum(len(c.contacts) for c in CUSTOMERS),
        instances=Instance.objects.filter(slug__in=[i.slug for i in INSTANCES]).count(),
        subscriptions=sum(len(c.uses) for c in CUSTOMERS),
        zones=tuple(sorted(set(customers.values_list("timezone", flat=True)))),
    )


@transaction.atomic
def ensure_demo_users(*, password: str, actor: Actor | None = None) -> list[User]:
    """The demo staff accounts with their roles, all signing in with `password`.

    Existing accounts keep their history; their password, roles and zone are reset so the
    password the demo command prints always works.
    """
    actor = actor or Actor.system()
    accounts_services.ensure_default_roles(actor=actor)
    users: list[User] = []
    for s in STAFF:
        user = User.objects.filter(username=s.username).first()
        if user is None:
            user = accounts_services.create_user(
                actor=actor,
                username=s.username,
                email=f"{s.username}@{STAFF_EMAIL_DOMAIN}",
                password=password,
                roles=list(s.roles),
                is_staff=True,
                is_superuser=s.superuser,
            )
        else:
            user.set_password(password)
            if user.role_slugs() != set(s.roles):
                accounts_services.set_roles(actor=actor, user=user, roles=list(s.roles))
        user.timezone = s.zone
        user.first_name, user.last_name = s.first_name, s.last_name
        user.is_active = True
        user.save()
        users.append(user)
    # One event per run: which accounts had their password (and zone) set for the demo.
    record(
        actor=actor,
        action="demo.users_prepared",
        after={"users": [u.pk for u in users], "password_reset": True},
        scope="demo",
    )
    return users
