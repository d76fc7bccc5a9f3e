"""Roadmap updates to partners (issue 6 §3): what is coming for their products.

The items are computed, never typed in: every release of the products that is planned but
not finished (draft to paused, not cancelled), in version order, with its customer-facing
change lines (`rendering.change_lines`: the customer note, else the title — internal notes
are never read). The "next release" instant is the earliest planned upgrade of those
releases, shown in each recipient's zone and in UTC. Recipients are computed too: the OEM
partner contacts of the products' white-label instances (or resellers, or resellers and
their customers).

`preview_roadmap_update` shows the recipients and the English text without writing;
`send_roadmap_update` writes one outbox message per recipient in one transaction (the
worker delivers them) and one audit event. Sending the same period again adds nobody twice:
the message key names the products and the period.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.catalog.choices import InstanceKind
from releasedesk.catalog.models import Instance, Product
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import PermissionDenied, ValidationFailed
from releasedesk.core.versions import version_key
from releasedesk.outbox import services
from releasedesk.outbox.audiences import Audience, resolve
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.rendering import MessageContext, Rendered, change_lines, render_message
from releasedesk.releases.choices import ReleaseStatus
from releasedesk.releases.models import Release

__all__ = [
    "PARTNER_AUDIENCES",
    "Preview",
    "Roadmap",
    "preview_roadmap_update",
    "roadmap_for",
    "send_roadmap_update",
]

PARTNER_AUDIENCES = ("oem_partner_contacts", "resellers", "resellers_and_customers")
SENDER_ROLES = ("product_manager", "customer_success", "vendor_admin")
UPCOMING = (
    ReleaseStatus.DRAFT,
    ReleaseStatus.ASSESSED,
    ReleaseStatus.APPROVED,
    ReleaseStatus.SCHEDULED,
    ReleaseStatus.IN_PROGRESS,
    ReleaseStatus.PAUSED,
    ReleaseStatus.POSTPONED,
)
MAX_PERIOD = 40


@dataclass(frozen=True)
class Roadmap:
    items: tuple[str, ...]
    next_release_at: dt.datetime | None
    release_ids: tuple[int, ...]


@dataclass(frozen=True)
class Preview:
    roadmap: Roadmap
    audience: Audience
    rendered: Rendered  # English, for the staff member who sends it


def roadmap_for(products: Sequence[Product]) -> Roadmap:
    """The upcoming releases of `products` as customer-facing lines, in version order."""
    from releasedesk.timeline.models import ScheduledStep

    releases = sorted(
        Release.objects.filter(products__in=products, status__in=UPCOMING)
        .distinct()
        .prefetch_related("changes", "products"),
        key=lambda r: version_key(r.version),
    )
    items = []
    for release in releases:
        names = ", ".join(p.name for p in release.products.all())
        # Language-neutral: the recipient's template frames it; change lines are as written.
        lines = change_lines(release.changes.all())
        item = f"{names} {release.version} ({release.target_date.isoformat()})"
        items.append(f"{item}: {'; '.join(lines)}" if lines else item)
    first = (
        ScheduledStep.objects.filter(
            release__in=releases, kind="upgrade", state__in=("pending", "running")
        )
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    return Roadmap(tuple(items), first, tuple(r.pk for r in releases))


def _audience(products: Sequence[Product], audience: str) -> Audience:
    if audience not in PARTNER_AUDIENCES:
        raise ValidationFailed(
            f"audience {audience!r} is not a partner audience (allowed: "
            f"{', '.join(PARTNER_AUDIENCES)})",
            fields={"audience": "not a partner audience"},
        )
    # Only white-label instances name OEM partners; resellers are found without instances.
    instances = list(
        Instance.objects.filter(product__in=products, kind=InstanceKind.WHITE_LABEL).only(
            "pk", "slug", "kind", "owner_id"
        )
    )
    return resolve(audience, products=products, instances=instances)


def _check(products: Sequence[Product], period: str) -> str:
    if not products:
        raise ValidationFailed("name at least one product", fields={"products": "empty"})
    period = " ".join(period.split())
    if not period or len(period) > MAX_PERIOD:
        raise ValidationFailed(
            f"period must be 1 to {MAX_PERIOD} characters, e.g. 'June 2027'",
            fields={"period": "1 to 40 characters"},
        )
    return period


def _context(products: Sequence[Product], period: str, roadmap: Roadmap) -> MessageContext:
    return MessageContext(
        products=tuple(p.name for p in products),
        roadmap_items=roadmap.items,
        starts_at=roadmap.next_release_at,
        period_label=period,
    )


def preview_roadmap_update(
    *, products: Sequence[Product], period: str, audience: str = "oem_partner_contacts"
) -> Preview:
    """Who would get the update and what it says (English), without writing anything."""
    period = _check(products, period)
    roadmap = roadmap_for(products)
    recipients = _audience(products, audience)
    rendered = render_message(
        MessageKind.ROADMAP_UPDATE,
        _context(products, period, roadmap),
        locale="en",
        zone="UTC",
        recipient_name="(recipient)",
    )
    return Preview(roadmap, recipients, rendered)


def _subject_ref(products: Sequence[Product], period: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", period.lower()).strip("-")
    ids = "-".join(str(p.pk) for p in sorted(products, key=lambda p: p.pk))
    return f"roadmap-p{ids}-{slug}"[:64]


def send_roadmap_update(
    *,
    actor: Actor,
    user: User,
    products: Sequence[Product],
    period: str,
    audience: str = "oem_partner_contacts",
) -> services.Enqueued:
    """Queue the roadmap update for every partner recipient (due now)."""
    if not (user.is_superuser or user.role_slugs() & set(SENDER_ROLES)):
        raise PermissionDenied(
            f"Sending a roadmap update needs one of the roles {', '.join(SENDER_ROLES)}."
        )
    period = _check(products, period)
    roadmap = roadmap_for(products)
    if not roadmap.items:
        raise ValidationFailed(
            "nothing on the roadmap: no planned release of these products",
            fields={"products": "no upcoming release"},
        )
    with transaction.atomic():
        recipients = _audience(products, audience)
        if not recipients.recipients:
            raise ValidationFailed(
                f"nobody to tell: the audience {audience!r} has no reachable contact for "
                "these products",
                fields={"audience": "no recipients"},
            )
        sent = services.enqueue_audience(
            audience=recipients,
            kind=MessageKind.ROADMAP_UPDATE,
            due_at=clock.now(),
            context=_context(products, period, roadmap),
            subject_ref=_subject_ref(products, period),
        )
        record(
            actor=actor,
            action="outbox.roadmap_update_sent",
            after={
                "products": [p.pk for p in products],
                "period": period,
                "audience": audience,
                "releases": list(roadmap.release_ids),
                "created": sent.created,
                "existing": sent.existing,
                "skipped": len(sent.skipped),
            },
        )
    return sent
