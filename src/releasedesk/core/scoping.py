"""One scoping path for every query a user can trigger (cf. NetBox RestrictedQuerySet).

`Model.objects.for_user(principal)` is the only way views, API endpoints and CLI
commands acting for someone read data:

- an active staff user sees the vendor's data (roles decide what they may *do*);
- a customer contact sees only what `contact_scope()` of that model allows, which is
  their own organisation's objects; anything else answers 404;
- anyone else sees nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from releasedesk.catalog.models import Contact


def is_staff_principal(principal: Any) -> bool:
    from releasedesk.accounts.models import User

    return isinstance(principal, User) and principal.is_active and principal.is_staff


def is_contact_principal(principal: Any) -> bool:
    from releasedesk.catalog.models import Contact

    return isinstance(principal, Contact) and principal.erased_at is None


class ScopedQuerySet(models.QuerySet[Any]):
    def for_user(self, principal: Any) -> Self:
        if is_staff_principal(principal):
            return self.all()
        if is_contact_principal(principal):
            return self.filter(self.contact_scope(principal))
        return self.none()

    def contact_scope(self, contact: Contact) -> Q:
        """What a customer contact may see of this model; nothing unless a model says so."""
        return Q(pk__in=[])


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
