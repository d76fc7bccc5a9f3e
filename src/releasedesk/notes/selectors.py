"""Reading release notes: the policy's audiences, what a customer may read, the notes between
two versions, newsletter texts, white-label variants and the per-OEM documentation decision.

Nothing here writes; the service layer (`services.py`) does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from releasedesk.catalog.models import Contact, Customer, Instance, Subscription
from releasedesk.core.errors import NotFound, ValidationFailed
from releasedesk.core.timeutil import get_zone
from releasedesk.core.versions import version_key as version_key  # re-exported
from releasedesk.notes import rendering
from releasedesk.notes.choices import DocsAction, NoteState, Tier
from releasedesk.notes.models import PARTNER_CUSTOMER_KINDS, ReleaseNote, contact_tiers
from releasedesk.policies.models import Policy, PolicyVersion
from releasedesk.policies.schema import PolicyDocument
from releasedesk.releases.models import ChangeItem, Release

# --- policy -------------------------------------------------------------------------------


def policy_version_of(release: Release) -> PolicyVersion:
    """The policy version the release was assessed under, else its policy's latest."""
    version = release.policy_version or release.policy.latest_version()
    if version is None:
        raise ValidationFailed(
            f"policy {release.policy.slug!r} has no applied version",
            fields={"policy": "no version"},
        )
    return version


def policy_document(release: Release) -> PolicyDocument:
    return policy_version_of(release).document_model()


def latest_document(policy: Policy) -> PolicyDocument:
    version = policy.latest_version()
    if version is None:
        raise ValidationFailed(
            f"policy {policy.slug!r} has no applied version", fields={"policy": "no version"}
        )
    return version.document_model()


def note_audiences(doc: PolicyDocument) -> list[tuple[str, str]]:
    """(audience, tier) pairs release notes are written for: `release_notes.audiences`, or
    every audience of the policy (by name) when it has no `release_notes` section."""
    names = doc.release_notes.audiences if doc.release_notes else sorted(doc.audiences)
    return [(name, doc.audiences[name]) for name in names]


def note_locales(doc: PolicyDocument) -> list[str]:
    return list(doc.release_notes.locales) if doc.release_notes else ["en"]


def audience_tier(doc: PolicyDocument, audience: str) -> str:
    if audience not in doc.audiences:
        # Sorted: a stored document's mapping order differs between databases (jsonb).
        names = ", ".join(sorted(doc.audiences))
        raise ValidationFailed(
            f"unknown audience {audience!r} (the policy {doc.policy!r} has: {names})",
            fields={"audience": f"one of {names}"},
        )
    return doc.audiences[audience]


# --- change items and brand -----------------------------------------------------------------


def change_texts(items: Iterable[ChangeItem]) -> list[rendering.ChangeText]:
    return [
        rendering.ChangeText(
            kind=i.kind,
            title=i.title,
            customer_note=i.customer_note,
            internal_note=i.internal_note,
            significant=i.significant,
        )
        for i in items
    ]


def release_change_texts(release: Release) -> list[rendering.ChangeText]:
    return change_texts(release.changes.order_by("position", "id"))


def default_brand(release: Release) -> str:
    """The vendor's own name for what was released: its product names."""
    return ", ".join(sorted(p.name for p in release.products.all())) or release.policy.slug


@dataclass(frozen=True)
class RenderedNote:
    title: str
    markdown: str
    html: str


def render_note(note: ReleaseNote, *, brand: str | None = None) -> RenderedNote:
    """The note with its brand applied, as Markdown and as sanitised HTML."""
    brand = brand if brand is not None else default_brand(note.release)
    title = rendering.sanitise_inline(rendering.apply_brand(note.title, brand))
    markdown = rendering.apply_brand(note.body, brand)
    return RenderedNote(title=title, markdown=markdown, html=rendering.render_html(markdown))


# --- white label ----------------------------------------------------------------------------


def white_label_instances(customer: Customer, release: Release) -> list[Instance]:
    products = [p.pk for p in release.products.all()]
    return list(
        Instance.objects.filter(
            owner=customer, kind="white_label", product_id__in=products
        ).order_by("name")
    )


def is_white_label_customer(customer: Customer) -> bool:
    return (
        customer.kind == "oem_partner"
        or Instance.objects.filter(owner=customer, kind="white_label").exists()
    )


def white_label_brand(customer: Customer, release: Release) -> str:
    """The OEM's name for the release: its white-label instance's name, else its own name."""
    instances = white_label_instances(customer, release)
    return instances[0].name if instances else customer.name


def white_label_variant(note: ReleaseNote, customer: Customer) -> RenderedNote:
    """The note under the OEM's name. Only partner/public notes have white-label variants."""
    if note.tier == Tier.INTERNAL:
        raise ValidationFailed(
            "internal notes have no white-label variant", fields={"note": "internal tier"}
        )
    if not is_white_label_customer(customer):
        raise ValidationFailed(
            f"{customer.name} is not an OEM customer (kind {customer.kind}, no white-label instance)",
            fields={"customer": "not an OEM / white-label customer"},
        )
    return render_note(note, brand=white_label_brand(customer, note.release))


# --- documentation responsibility (S2 step 3) ------------------------------------------------


@dataclass(frozen=True)
class DocsDecision:
    """Who updates an OEM's white-label documentation for a release, and why."""

    customer_id: int
    action: str  # DocsAction
    reason: str


def documentation_decision(customer: Customer) -> DocsDecision:
    """vendor (the default) → a task for the vendor's docs team; customer → a notice to the
    OEM with the notes. Read from the customer's contract `docs_responsibility`."""
    setting = (customer.contract_overrides or {}).get("docs_responsibility") or "vendor"
    if setting == "customer":
        return DocsDecision(
            customer.pk,
            DocsAction.OEM_NOTICE,
            f"{customer.name} updates its own white-label documentation (contract setting)",
        )
    source = (
        "contract setting"
        if "docs_responsibility" in (customer.contract_overrides or {})
        else "default"
    )
    return DocsDecision(
        customer.pk,
        DocsAction.VENDOR_TASK,
        f"the vendor's docs team updates {customer.name}'s white-label documentation ({source})",
    )


def documentation_decisions(release: Release) -> list[DocsDecision]:
    """One decision per OEM owning a white-label instance of the release's products."""
    products = [p.pk for p in release.products.all()]
    owners = (
        Customer.objects.filter(
            owned_instances__kind="white_label", owned_instances__product_id__in=products
        )
        .distinct()
        .order_by("name", "pk")
    )
    return [documentation_decision(c) for c in owners]


# --- notes for readers ----------------------------------------------------------------------


def pick_locale(available: Sequence[str], wanted: str) -> str | None:
    """`wanted`, else its language ('de-CH' → 'de'), else English, else the first."""
    if not available:
        return None
    for candidate in (wanted, rendering.lang(wanted), rendering.FALLBACK_LOCALE):
        if candidate in available:
            return candidate
    return sorted(available)[0]


def best_notes(
    notes: Iterable[ReleaseNote], *, tiers: Sequence[str], locale: str
) -> list[ReleaseNote]:
    """Per release, the one note a reader gets: the first tier of `tiers` that has one, in
    the reader's locale (with fallback). Ordered by release date, newest first."""
    by_release: dict[int, list[ReleaseNote]] = {}
    for note in notes:
        if note.tier in tiers:
            by_release.setdefault(note.release_id, []).append(note)
    chosen: list[ReleaseNote] = []
    for group in by_release.values():
        for tier in tiers:
            candidates = [n for n in group if n.tier == tier]
            loc = pick_locale([n.locale for n in candidates], locale)
            if loc is not None:
                chosen.append(next(n for n in candidates if n.locale == loc))
                break
    return sorted(
        chosen, key=lambda n: (n.release.target_date, version_key(n.release.version)), reverse=True
    )


def portal_notes(contact: Contact) -> list[ReleaseNote]:
    """The notes a portal contact reads: published, their tiers, their organisation's products."""
    qs = (
        ReleaseNote.objects.for_user(contact)
        .select_related("release", "release__policy")
        .prefetch_related("release__products")
    )
    return best_notes(qs.distinct(), tiers=contact_tiers(contact), locale=contact.effective_locale)


def customer_tiers(customer: Customer) -> tuple[str, ...]:
    if customer.kind in PARTNER_CUSTOMER_KINDS:
        return (Tier.PARTNER, Tier.PUBLIC)
    return (Tier.PUBLIC,)


@dataclass(frozen=True)
class VersionStep:
    product: str
    instance: str
    current_version: str
    target_version: str
    notes: list[ReleaseNote]


def notes_between(
    customer: Customer,
    *,
    target_version: str | None = None,
    product_slug: str | None = None,
) -> list[VersionStep]:
    """Per product the customer uses (and its instance): the published notes of every
    version after the instance's current version up to the target (default: the newest
    release with notes), oldest first, in the customer's tier and locale."""
    subs = (
        Subscription.objects.filter(customer=customer)
        .select_related("product", "instance")
        .order_by("product__name", "instance__name")
    )
    if product_slug:
        subs = subs.filter(product__slug=product_slug)
    tiers = customer_tiers(customer)
    steps: list[VersionStep] = []
    seen: set[tuple[int, int]] = set()
    for sub in subs:
        if (sub.product_id, sub.instance_id) in seen:
            continue
        seen.add((sub.product_id, sub.instance_id))
        current = sub.instance.current_version
        notes = list(
            ReleaseNote.objects.filter(
                release__products=sub.product, state=NoteState.PUBLISHED, tier__in=tiers
            )
            .select_related("release", "release__policy")
            .prefetch_related("release__products")
        )
        chosen = best_notes(notes, tiers=tiers, locale=customer.locale)
        low = version_key(current) if current else ()
        high = version_key(target_version) if target_version else None
        between = [
            n
            for n in chosen
            if version_key(n.release.version) > low
            and (high is None or version_key(n.release.version) <= high)
        ]
        between.sort(key=lambda n: version_key(n.release.version))
        target = target_version or (between[-1].release.version if between else current)
        steps.append(
            VersionStep(
                product=sub.product.slug,
                instance=sub.instance.slug,
                current_version=current,
                target_version=target,
                notes=between,
            )
        )
    return steps


# --- newsletter ---------------------------------------------------------------------------

NEWSLETTER_SUBJECT = {
    "en": "Release notes: {title}",
    "nl": "Release notes: {title}",
    "de": "Versionshinweise: {title}",
}


def newsletter_recipients(release: Release, tier: str) -> list[Contact]:
    """Contacts of customers using the release's products, for an audience tier:
    partner → the contacts of OEM partners and resellers; public → the admins of every
    customer using the products (a reseller's customers included). Erased and unreachable
    contacts are left out."""
    products = [p.pk for p in release.products.all()]
    customers = Subscription.objects.filter(product_id__in=products).values("customer_id")
    qs = (
        Contact.objects.filter(customer_id__in=customers, erased_at__isnull=True, reachable=True)
        .select_related("customer")
        .order_by("customer__name", "name", "pk")
    )
    chosen: list[Contact] = []
    for contact in qs:
        if tier == Tier.PARTNER:
            if contact.customer.kind in PARTNER_CUSTOMER_KINDS:
                chosen.append(contact)
        elif contact.has_role("admin"):
            chosen.append(contact)
    return chosen


def newsletter_messages(release: Release, audience: str) -> list[tuple[int, str, str, str]]:
    """(contact_id, subject, text, html) for every recipient of the audience's newsletter,
    each in the contact's locale (falling back to English). Only published notes are sent,
    and never an internal audience's."""
    doc = policy_document(release)
    tier = audience_tier(doc, audience)
    if tier == Tier.INTERNAL:
        raise ValidationFailed(
            f"audience {audience!r} is internal: internal notes are never sent as a newsletter",
            fields={"audience": "internal tier"},
        )
    notes = {
        n.locale: n
        for n in ReleaseNote.objects.filter(
            release=release, audience=audience, state=NoteState.PUBLISHED
        )
    }
    if not notes:
        raise NotFound(
            f"release {release.version} has no published notes for {audience!r}",
            fields={"audience": "no published notes"},
        )
    brand = default_brand(release)
    rendered: dict[str, RenderedNote] = {}
    messages: list[tuple[int, str, str, str]] = []
    for contact in newsletter_recipients(release, tier):
        locale = pick_locale(list(notes), contact.effective_locale)
        assert locale is not None
        if locale not in rendered:
            rendered[locale] = render_note(notes[locale], brand=brand)
        note = rendered[locale]
        subject = NEWSLETTER_SUBJECT[rendering.lang(locale)].format(title=note.title)
        text = f"{note.title}\n\n{note.markdown}"
        html = f"<h1>{note.title}</h1>\n{note.html}"
        messages.append((contact.pk, subject, text, html))
    return messages


def oem_docs_notice(
    release: Release, customer: Customer, *, audience: str | None = None
) -> tuple[str, str, str]:
    """(subject, text, html) of the notice telling an OEM that updates its own documentation
    what changed, with the notes under its own name (partner notes, else public)."""
    notes = list(
        ReleaseNote.objects.filter(
            release=release,
            state=NoteState.PUBLISHED,
            tier__in=(Tier.PARTNER, Tier.PUBLIC),
            **({"audience": audience} if audience else {}),
        ).select_related("release")
    )
    chosen = best_notes(notes, tiers=(Tier.PARTNER, Tier.PUBLIC), locale=customer.locale)
    if not chosen:
        raise NotFound(
            f"release {release.version} has no published partner or public notes",
            fields={"release": "no published notes"},
        )
    variant = white_label_variant(chosen[0], customer)
    subject = {
        "en": f"Documentation update needed: {variant.title}",
        "nl": f"Documentatie bijwerken: {variant.title}",
        "de": f"Dokumentation aktualisieren: {variant.title}",
    }[rendering.lang(chosen[0].locale)]
    text = f"{variant.title}\n\n{variant.markdown}"
    html = f"<h1>{variant.title}</h1>\n{variant.html}"
    return subject, text, html


# --- digests ------------------------------------------------------------------------------


def digest_period(anchor: dt.date, every_weeks: int, day: dt.date) -> tuple[dt.date, dt.date]:
    """The period (first day, last day inclusive) of an every-N-weeks cadence anchored at
    `anchor` that contains `day` (days before the anchor fall in earlier periods)."""
    if every_weeks < 1:
        raise ValidationFailed("every_weeks must be at least 1", fields={"every_weeks": ">= 1"})
    length = 7 * every_weeks
    index = (day - anchor).days // length
    start = anchor + dt.timedelta(days=index * length)
    return start, start + dt.timedelta(days=length - 1)


def published_in_period(
    policy: Policy, audience: str, locale: str, start: dt.date, end: dt.date
) -> QuerySet[ReleaseNote]:
    """Notes of the audience and locale published on a local date (policy zone) in [start, end]."""
    doc = latest_document(policy)
    zone = get_zone(doc.zone)
    from releasedesk.core.timeutil import combine_local

    lo = combine_local(start, dt.time(0, 0), zone)
    hi = combine_local(end + dt.timedelta(days=1), dt.time(0, 0), zone)
    return (
        ReleaseNote.objects.filter(
            release__policy=policy,
            audience=audience,
            locale=locale,
            state=NoteState.PUBLISHED,
            published_at__gte=lo,
            published_at__lt=hi,
        )
        .select_related("release")
        .prefetch_related("release__products")
        .order_by("published_at", "id")
    )


def compose_digest(
    policy: Policy, audience: str, locale: str, start: dt.date, end: dt.date
) -> tuple[str, str, list[ReleaseNote]]:
    """(title, Markdown, notes) of the digest of every release published in the period."""
    notes = list(published_in_period(policy, audience, locale, start, end))
    title = f"{rendering.word(locale, 'digest')} {start.isoformat()} to {end.isoformat()}"
    parts = [f"*{rendering.word(locale, 'period')}: {start.isoformat()} to {end.isoformat()}*"]
    if not notes:
        parts.append(rendering.word(locale, "digest_empty"))
    for note in notes:
        rendered = render_note(note)
        body = _demote_headings(rendered.markdown)
        parts.append(f"## {rendered.title}\n\n{body.strip()}")
    return title, "\n\n".join(parts) + "\n", notes


def _demote_headings(markdown: str) -> str:
    return re.sub(r"(?m)^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", markdown)


def note_summary(note: ReleaseNote) -> dict[str, Any]:
    return {
        "release": note.release_id,
        "audience": note.audience,
        "tier": note.tier,
        "locale": note.locale,
        "state": note.state,
        "revision": note.revision,
    }
