"""Who receives a notice or message, from the catalogue snapshot (pure).

The names are the policy's recipient names (`policies.timeschema.RECIPIENTS`, the same
as `outbox.audiences`): the planner puts the resolved contact ids into the step's
payload, so a dry run shows exactly who will be told. Staff recipients (`internal`,
`role:…`, `team:…`) are not contacts: they resolve to no contact ids and are resolved by
the outbox when the message is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from releasedesk.planning.types import CatalogueSnapshot, ContactSnapshot, InstanceSnapshot

INSTANCE_CONTACT_ROLES: tuple[str, ...] = ("admin", "technical")
OWNED_KINDS: frozenset[str] = frozenset({"dedicated", "white_label"})


@dataclass(frozen=True, slots=True)
class Resolved:
    """Reachable contact ids (sorted) and the unreachable ones left out."""

    contact_ids: tuple[int, ...]
    unreachable_ids: tuple[int, ...] = ()

    def as_payload(self) -> dict[str, list[int]]:
        out = {"contact_ids": list(self.contact_ids)}
        if self.unreachable_ids:
            out["unreachable_contact_ids"] = list(self.unreachable_ids)
        return out


def is_staff(name: str) -> bool:
    return name == "internal" or name.startswith(("role:", "team:"))


def _with_roles(
    catalogue: CatalogueSnapshot, customer_ids: Iterable[int], roles: Sequence[str]
) -> Resolved:
    reachable: set[int] = set()
    unreachable: set[int] = set()
    by_customer = catalogue.contacts_by_customer
    for customer_id in set(customer_ids):
        contact: ContactSnapshot
        for contact in by_customer.get(customer_id, ()):
            if any(r in contact.roles for r in roles):
                (reachable if contact.reachable else unreachable).add(contact.id)
    return Resolved(tuple(sorted(reachable)), tuple(sorted(unreachable)))


def resolve(
    name: str,
    *,
    catalogue: CatalogueSnapshot,
    product_ids: frozenset[int],
    instances: Sequence[InstanceSnapshot] | None,
) -> Resolved:
    """The contacts `name` means for a release of `product_ids` on `instances` (None: any)."""
    if is_staff(name):
        return Resolved(())
    if name in ("affected_org_admins", "customers"):
        wanted = None if (instances is None or name == "customers") else {i.id for i in instances}
        customers = {
            s.customer_id
            for s in catalogue.subscriptions
            if s.product_id in product_ids and (wanted is None or s.instance_id in wanted)
        }
        return _with_roles(catalogue, customers, ("admin",))
    if name == "instance_contacts":
        owners = {
            i.owner_id for i in instances or () if i.owner_id is not None and i.kind in OWNED_KINDS
        }
        return _with_roles(catalogue, owners, INSTANCE_CONTACT_ROLES)
    if name == "oem_partner_contacts":
        owners = {
            i.owner_id
            for i in instances or ()
            if i.owner_id is not None and i.kind == "white_label"
        }
        if not owners:  # a shared instance: every OEM partner is told
            owners = {c.id for c in catalogue.customers if c.kind == "oem_partner"}
        return _with_roles(catalogue, owners, ("oem_partner",))
    if name in ("resellers", "resellers_and_customers"):
        reseller_ids = {c.id for c in catalogue.customers if c.kind == "reseller"}
        found = _with_roles(catalogue, reseller_ids, ("reseller",))
        if name == "resellers":
            return found
        using = {s.customer_id for s in catalogue.subscriptions if s.product_id in product_ids}
        children = {
            c.id for c in catalogue.customers if c.parent_id in reseller_ids and c.id in using
        }
        admins = _with_roles(catalogue, children, ("admin",))
        return Resolved(
            tuple(sorted({*found.contact_ids, *admins.contact_ids})),
            tuple(sorted({*found.unreachable_ids, *admins.unreachable_ids})),
        )
    raise ValueError(f"unknown recipients {name!r}")
