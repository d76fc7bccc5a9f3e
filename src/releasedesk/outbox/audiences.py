"""Audiences: who receives a message, computed from the catalogue, never hand-listed.

Each resolver returns an `Audience`: the recipients, each with the reason in words ("admin
of School A, which uses Presenter on saas-eu"), and the people who would have been
recipients but are skipped (erased or unreachable contacts), so callers can report them.
A person reached for several reasons receives one message whose `why` lists every reason.

Audience names a policy may use (`notice: {to: …}`, `send: {…}`):

- `affected_org_admins` — admins of customers subscribed to the affected products on the
  affected instances (DESIGN.md §3);
- `instance_contacts` — admin and technical contacts of the owners of the affected dedicated
  and white-label instances;
- `oem_partner_contacts` — partner contacts of OEM partners (owners of white-label instances);
- `resellers` — reseller contacts; `resellers_and_customers` — also, through each reseller,
  the admins of its customers;
- `customers` — admins of every customer subscribed to the affected products;
- `role:<slug>` / `team:<slug>` / `internal` — the vendor's staff by role, by team, or all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Q

from releasedesk.accounts.models import Team, User
from releasedesk.catalog.choices import ContactRole, CustomerKind, InstanceKind
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.core.errors import ValidationFailed
from releasedesk.releases.models import Release

# Roles that receive operational notices for an instance their organisation owns.
INSTANCE_CONTACT_ROLES: tuple[str, ...] = (ContactRole.ADMIN, ContactRole.TECHNICAL)

AUDIENCE_NAMES: tuple[str, ...] = (
    "affected_org_admins",
    "instance_contacts",
    "oem_partner_contacts",
    "resellers",
    "resellers_and_customers",
    "customers",
    "internal",
)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person to write to, and why."""

    email: str
    name: str
    locale: str
    zone: str
    why: str
    contact: Contact | None = None
    user: User | None = None

    @property
    def ref(self) -> str:
        """The recipient part of a message key: `c<contact id>` or `u<user id>`."""
        if self.contact is not None:
            return f"c{self.contact.pk}"
        if self.user is not None:
            return f"u{self.user.pk}"
        raise ValueError("a recipient needs a contact or a user")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A contact who would have been a recipient, and why they were left out."""

    contact: Contact
    why: str
    problem: str  # "erased" or "unreachable: <reason>"


@dataclass(slots=True)
class Audience:
    recipients: list[Recipient] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def emails(self) -> list[str]:
        return [r.email for r in self.recipients]

    def extend(self, other: Audience) -> Audience:
        """This audience plus `other`, one entry per person, reasons joined."""
        return merge([self, other])


@dataclass(frozen=True, slots=True)
class Problem:
    """An audience health problem: a customer nobody can be told about."""

    code: str
    customer: Customer
    message: str


def _product_names(products: Sequence[Product]) -> str:
    return ", ".join(p.name for p in products)


def contact_recipient(contact: Contact, why: str) -> Recipient:
    return Recipient(
        email=contact.email,
        name=contact.name,
        locale=contact.effective_locale or "en",
        zone=contact.effective_timezone or "UTC",
        why=why,
        contact=contact,
    )


def user_recipient(user: User, why: str) -> Recipient:
    return Recipient(
        email=user.email,
        name=user.get_full_name() or user.get_username(),
        locale="en",
        zone=user.timezone or "UTC",
        why=why,
        user=user,
    )


def add_contact(audience: Audience, contact: Contact, why: str) -> None:
    """Add `contact` as a recipient, or to `skipped` when erased or unreachable."""
    if contact.erased_at is not None:
        audience.skipped.append(Skipped(contact=contact, why=why, problem="erased"))
    elif not contact.reachable:
        reason = contact.unreachable_reason or "marked unreachable"
        audience.skipped.append(Skipped(contact=contact, why=why, problem=f"unreachable: {reason}"))
    else:
        audience.recipients.append(contact_recipient(contact, why))


# The name other modules used before it was public.
_add_contact = add_contact


def merge(audiences: Iterable[Audience]) -> Audience:
    """One entry per contact/user (first seen order); reasons of duplicates are joined."""
    out = Audience()
    index: dict[str, int] = {}
    skipped_seen: set[int] = set()
    for audience in audiences:
        for r in audience.recipients:
            ref = r.ref
            if ref in index:
                old = out.recipients[index[ref]]
                if r.why not in old.why.split("; "):
                    out.recipients[index[ref]] = Recipient(
                        email=old.email,
                        name=old.name,
                        locale=old.locale,
                        zone=old.zone,
                        why=f"{old.why}; {r.why}",
                        contact=old.contact,
                        user=old.user,
                    )
            else:
                index[ref] = len(out.recipients)
                out.recipients.append(r)
        for s in audience.skipped:
            if s.contact.pk not in skipped_seen:
                skipped_seen.add(s.contact.pk)
                out.skipped.append(s)
    return out


def _contacts_with_role(customer_ids: Iterable[int], role: str) -> list[Contact]:
    """Contacts of these customers holding `role` (roles is a JSON list: filtered in Python,
    in one query, so it works the same on SQLite and PostgreSQL)."""
    contacts = Contact.objects.select_related("customer").filter(customer_id__in=set(customer_ids))
    return [c for c in contacts.order_by("customer__name", "name", "pk") if c.has_role(role)]


def affected_org_admins(
    products: Sequence[Product], instances: Sequence[Instance] | None = None
) -> Audience:
    """Admins of customers subscribed to `products` on `instances` (all instances if None)."""
    subs = Subscription.objects.select_related("customer", "product", "instance").filter(
        product__in=list(products)
    )
    if instances is not None:
        subs = subs.filter(instance__in=list(instances))
    uses: dict[int, list[str]] = {}
    for sub in subs.order_by("customer__name", "product__name", "instance__slug"):
        uses.setdefault(sub.customer_id, []).append(f"{sub.product.name} on {sub.instance.slug}")
    audience = Audience()
    for contact in _contacts_with_role(uses, ContactRole.ADMIN):
        what = " and ".join(uses[contact.customer_id])
        add_contact(audience, contact, f"admin of {contact.customer.name}, which uses {what}")
    return audience


def instance_contacts(
    instances: Sequence[Instance], roles: Sequence[str] = INSTANCE_CONTACT_ROLES
) -> Audience:
    """Contacts (admin, technical) of the owners of dedicated and white-label `instances`."""
    owned = [
        i
        for i in instances
        if i.owner_id is not None and i.kind in (InstanceKind.DEDICATED, InstanceKind.WHITE_LABEL)
    ]
    by_owner: dict[int, list[Instance]] = {}
    for inst in owned:
        assert inst.owner_id is not None
        by_owner.setdefault(inst.owner_id, []).append(inst)
    contacts = (
        Contact.objects.select_related("customer")
        .filter(customer_id__in=list(by_owner))
        .order_by("customer__name", "name", "pk")
    )
    audience = Audience()
    for contact in contacts:
        held = [r for r in roles if contact.has_role(r)]
        if not held:
            continue
        role_label = (
            ContactRole(held[0]).label.lower() if held[0] in ContactRole.values else held[0]
        )
        insts = ", ".join(
            f"{InstanceKind(i.kind).label.split(' ')[0].lower()} instance {i.slug} ({i.product.name})"
            for i in by_owner[contact.customer_id]
        )
        add_contact(
            audience, contact, f"{role_label} of {contact.customer.name}, which owns {insts}"
        )
    return audience


def oem_partner_contacts(instances: Sequence[Instance] | None = None) -> Audience:
    """Partner contacts of OEM partners: the owners of `instances` that are white-label, or
    every OEM partner when `instances` is None."""
    if instances is None:
        customers = list(Customer.objects.filter(kind=CustomerKind.OEM_PARTNER))
        labels = {c.pk: "" for c in customers}
    else:
        labels = {}
        for inst in instances:
            if inst.kind == InstanceKind.WHITE_LABEL and inst.owner_id is not None:
                extra = f"white-label instance {inst.slug}"
                labels[inst.owner_id] = (
                    f"{labels[inst.owner_id]}, {extra}" if inst.owner_id in labels else extra
                )
    audience = Audience()
    for contact in _contacts_with_role(labels, ContactRole.OEM_PARTNER):
        suffix = f" ({labels[contact.customer_id]})" if labels[contact.customer_id] else ""
        add_contact(audience, contact, f"OEM partner contact of {contact.customer.name}{suffix}")
    return audience


def resellers(*, include_customers: bool, products: Sequence[Product] | None = None) -> Audience:
    """Reseller contacts; with `include_customers`, through each reseller the admins of its
    customers (only customers using `products`, when given)."""
    reseller_ids = list(
        Customer.objects.filter(kind=CustomerKind.RESELLER).values_list("pk", flat=True)
    )
    audience = Audience()
    for contact in _contacts_with_role(reseller_ids, ContactRole.RESELLER):
        add_contact(audience, contact, f"reseller contact of {contact.customer.name}")
    if include_customers:
        children = Customer.objects.filter(parent_id__in=reseller_ids).select_related("parent")
        if products is not None:
            children = children.filter(subscriptions__product__in=list(products)).distinct()
        parent_of = {c.pk: c.parent for c in children}
        for contact in _contacts_with_role(parent_of, ContactRole.ADMIN):
            parent = parent_of[contact.customer_id]
            assert parent is not None
            add_contact(
                audience,
                contact,
                f"admin of {contact.customer.name}, a customer of reseller {parent.name}",
            )
    return merge([audience])


def customers_of(products: Sequence[Product]) -> Audience:
    """Admins of every customer subscribed to `products` on any instance."""
    return affected_org_admins(products, None)


def staff_by_role(role_slugs: Sequence[str]) -> Audience:
    """Active staff holding any of these roles (internal audiences)."""
    users = (
        User.objects.filter(is_active=True, is_staff=True, roles__slug__in=list(role_slugs))
        .exclude(email="")
        .prefetch_related("roles")
        .distinct()
        .order_by("username")
    )
    audience = Audience()
    for user in users:
        held = sorted(set(user.role_slugs()) & set(role_slugs))
        audience.recipients.append(user_recipient(user, f"staff with role {', '.join(held)}"))
    return audience


def staff_by_team(team_slug: str) -> Audience:
    team = Team.objects.filter(slug=team_slug).first()
    if team is None:
        raise ValidationFailed(f"unknown team {team_slug!r}", fields={"audience": "unknown team"})
    audience = Audience()
    for user in (
        team.members.filter(is_active=True, is_staff=True).exclude(email="").order_by("username")
    ):
        audience.recipients.append(user_recipient(user, f"member of team {team.name}"))
    return audience


def all_staff() -> Audience:
    audience = Audience()
    for user in (
        User.objects.filter(is_active=True, is_staff=True).exclude(email="").order_by("username")
    ):
        audience.recipients.append(user_recipient(user, "member of the vendor's staff"))
    return audience


def resolve(
    name: str,
    *,
    products: Sequence[Product] = (),
    instances: Sequence[Instance] | None = None,
) -> Audience:
    """The audience a policy names, for a release's `products` on `instances`."""
    if name == "affected_org_admins":
        return affected_org_admins(products, instances)
    if name == "instance_contacts":
        return instance_contacts(list(instances or []))
    if name == "oem_partner_contacts":
        return oem_partner_contacts(instances)
    if name == "resellers":
        return resellers(include_customers=False)
    if name == "resellers_and_customers":
        return resellers(include_customers=True, products=list(products) or None)
    if name == "customers":
        return customers_of(products)
    if name == "internal":
        return all_staff()
    if name.startswith("role:"):
        return staff_by_role([name.removeprefix("role:")])
    if name.startswith("team:"):
        return staff_by_team(name.removeprefix("team:"))
    raise ValidationFailed(
        f"unknown audience {name!r} (allowed: {', '.join(AUDIENCE_NAMES)}, role:<slug>, team:<slug>)",
        fields={"audience": "unknown audience"},
    )


def restrict(audience: Audience, contact_ids: Iterable[int]) -> Audience:
    """Only the contacts in `contact_ids` (e.g. the recipients the planner froze into a
    step's payload), keeping each one's reason; staff recipients are kept as they are."""
    wanted = set(contact_ids)
    return Audience(
        recipients=[r for r in audience.recipients if r.contact is None or r.contact.pk in wanted],
        skipped=[s for s in audience.skipped if s.contact.pk in wanted],
    )


def affected_customers(
    products: Sequence[Product], instances: Sequence[Instance] | None = None
) -> list[Customer]:
    """Customers subscribed to `products` on `instances`, plus owners of those instances."""
    subs = Subscription.objects.filter(product__in=list(products))
    if instances is not None:
        subs = subs.filter(instance__in=list(instances))
    q = Q(pk__in=subs.values("customer_id"))
    if instances is not None:
        q |= Q(pk__in=[i.owner_id for i in instances if i.owner_id is not None])
    else:
        q |= Q(owned_instances__product__in=list(products))
    return list(Customer.objects.filter(q).distinct().order_by("name"))


def audience_health(
    *,
    release: Release | None = None,
    customers: Sequence[Customer] | None = None,
    products: Sequence[Product] = (),
    instances: Sequence[Instance] | None = None,
) -> list[Problem]:
    """Customers nobody can be told about: no admin (or, for OEM partners, partner contact)
    who is reachable and not erased. Run when a plan is made, so staff fix it before a
    notice is due. Give `customers`, a `release` (its products on every instance), or the
    `products`/`instances` a release affects."""
    if release is not None:
        products = list(release.products.all())
    if customers is None:
        customers = affected_customers(products, instances)
    ids = [c.pk for c in customers]
    contacts = Contact.objects.filter(customer_id__in=ids).order_by("pk")
    usable: dict[int, int] = {}
    total: dict[int, int] = {}
    kinds = {c.pk: c.kind for c in customers}
    for contact in contacts:
        wanted = (
            (ContactRole.ADMIN, ContactRole.OEM_PARTNER)
            if kinds[contact.customer_id] == CustomerKind.OEM_PARTNER
            else (ContactRole.ADMIN,)
        )
        if not any(contact.has_role(r) for r in wanted):
            continue
        total[contact.customer_id] = total.get(contact.customer_id, 0) + 1
        if contact.reachable and contact.erased_at is None:
            usable[contact.customer_id] = usable.get(contact.customer_id, 0) + 1
    problems: list[Problem] = []
    for customer in customers:
        if usable.get(customer.pk):
            continue
        if total.get(customer.pk):
            message = (
                f"{customer.name} has no reachable admin: all {total[customer.pk]} admin "
                "contact(s) are unreachable or erased. Add or fix an admin contact before "
                "the notice is due."
            )
        else:
            message = f"{customer.name} has no admin contact. Add one before the notice is due."
        problems.append(Problem(code="no_reachable_admin", customer=customer, message=message))
    return problems
