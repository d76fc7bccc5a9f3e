"""Staff pages (list, compose, edit with preview, sign-off, publish), the portal pages for
contacts, the public note page and the Atom feeds. Every change is a POST to a service."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from releasedesk.accounts.models import User
from releasedesk.catalog.models import Contact, Customer
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import UnknownTimeZone, get_zone
from releasedesk.notes import channels, rendering, selectors, services
from releasedesk.notes.choices import NOTE_CHANNELS, Channel, NoteState, Tier
from releasedesk.notes.forms import NoteForm, PublishForm, RevisionForm
from releasedesk.notes.models import Publication, ReleaseNote
from releasedesk.portal.auth import contact_required
from releasedesk.releases.models import Release
from releasedesk.releases.views import staff_page

LIST_LIMIT = 200


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _note(request: HttpRequest, pk: int) -> ReleaseNote:
    note: ReleaseNote | None = (
        ReleaseNote.objects.for_user(request.user)
        .select_related("release", "release__policy", "signed_off_by", "edited_by")
        .filter(pk=pk)
        .first()
    )
    if note is None:
        raise Http404("Release note not found.")
    return note


def _release(request: HttpRequest, pk: int) -> Release:
    release: Release | None = (
        Release.objects.for_user(request.user).select_related("policy").filter(pk=pk).first()
    )
    if release is None:
        raise Http404("Release not found.")
    return release


def _zone(user: User) -> str:
    return user.timezone or "UTC"


@require_GET
@staff_page
def note_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    qs = ReleaseNote.objects.for_user(request.user).select_related("release", "release__policy")
    if state in NoteState.values:
        qs = qs.filter(state=state)
    notes = list(
        qs.order_by("-release__target_date", "release_id", "audience", "locale")[:LIST_LIMIT]
    )
    return render(
        request,
        "notes/list.html",
        {
            "notes": notes,
            "state": state,
            "states": NoteState.choices,
            "zone": _zone(_user(request)),
            "limit": LIST_LIMIT,
        },
    )


@require_GET
@staff_page
def release_notes(request: HttpRequest, release_pk: int) -> HttpResponse:
    release = _release(request, release_pk)
    notes = list(release.release_notes.order_by("audience", "locale"))
    decisions = selectors.documentation_decisions(release)
    customers = {
        c.pk: c for c in Customer.objects.filter(pk__in=[d.customer_id for d in decisions])
    }
    return render(
        request,
        "notes/release.html",
        {
            "release": release,
            "notes": notes,
            "decisions": [(customers[d.customer_id], d) for d in decisions],
            "zone": _zone(_user(request)),
        },
    )


@require_POST
@staff_page
def compose(request: HttpRequest, release_pk: int) -> HttpResponse:
    release = _release(request, release_pk)
    try:
        notes = services.compose_notes(release=release, actor=services.staff_actor(_user(request)))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{len(notes)} note(s) composed from the change items.")
    return redirect("notes:release", release_pk=release.pk)


def _detail_context(request: HttpRequest, note: ReleaseNote, form: NoteForm) -> dict[str, object]:
    rendered = selectors.render_note(note)
    publications = list(note.publications.select_related("customer").order_by("-created_at", "-id"))
    return {
        "note": note,
        "release": note.release,
        "form": form,
        "rendered": rendered,
        "publications": publications,
        "publish_form": PublishForm(initial={"channels": services.default_channels(note.tier)}),
        "channels": NOTE_CHANNELS if note.tier != Tier.INTERNAL else [],
        "signoff_roles": services.signoff_roles(),
        "can_sign": bool(set(services.signoff_roles()) & _user(request).role_slugs()),
        "zone": _zone(_user(request)),
        "white_label": [(c, d) for c, d in _oem_customers(note.release)]
        if note.tier != Tier.INTERNAL
        else [],
    }


def _oem_customers(release: Release) -> list[tuple[Customer, selectors.DocsDecision]]:
    decisions = selectors.documentation_decisions(release)
    customers = {
        c.pk: c for c in Customer.objects.filter(pk__in=[d.customer_id for d in decisions])
    }
    return [(customers[d.customer_id], d) for d in decisions]


@require_http_methods(["GET", "POST"])
@staff_page
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    note = _note(request, pk)
    form = NoteForm(
        request.POST or None,
        initial={"title": note.title, "body": note.body, "revision": note.revision},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_note(
                note=note,
                actor=services.staff_actor(_user(request)),
                user=_user(request),
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                expected_revision=form.cleaned_data["revision"],
            )
        except DomainError as exc:
            for field, message in exc.fields.items():
                if field in form.fields:
                    form.add_error(field if field != "revision" else None, message)
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, "Saved. The note needs a sign-off before it can be published."
            )
            return redirect("notes:edit", pk=note.pk)
    status = 422 if form.errors else 200
    return render(request, "notes/edit.html", _detail_context(request, note, form), status=status)


@require_POST
@staff_page
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The Markdown of the edit form rendered as it will be published (changes nothing)."""
    note = _note(request, pk)
    body = request.POST.get("body", "")[: services.MAX_BODY]
    title = request.POST.get("title", note.title)[: services.MAX_TITLE]
    brand = selectors.default_brand(note.release)
    leak = None
    if note.tier != Tier.INTERNAL:
        leak = rendering.find_internal_leak(
            f"{title}\n{body}", selectors.release_change_texts(note.release)
        )
    return render(
        request,
        "notes/_preview.html",
        {
            "title": rendering.sanitise_inline(rendering.apply_brand(title, brand)),
            "html": rendering.render_html(rendering.apply_brand(body, brand)),
            "leak": leak,
        },
    )


@require_POST
@staff_page
def sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    note = _note(request, pk)
    form = RevisionForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError("the form is missing the note's revision; reload the page")
        services.sign_off_note(
            note=note,
            actor=services.staff_actor(_user(request)),
            user=_user(request),
            expected_revision=form.cleaned_data["revision"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Signed off. The note can now be published.")
    return redirect("notes:edit", pk=note.pk)


@require_POST
@staff_page
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    note = _note(request, pk)
    form = PublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose channels from the list.")
        return redirect("notes:edit", pk=note.pk)
    try:
        pubs = services.publish_note(
            note=note,
            actor=services.staff_actor(_user(request)),
            channels=form.cleaned_data["channels"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        failed = [p for p in pubs if p.last_error]
        done = ", ".join(Channel(p.channel).label for p in pubs) or "no new channel"
        messages.success(request, f"Published ({done}).")
        for p in failed:
            messages.warning(request, f"{Channel(p.channel).label}: {p.last_error} ({p.state})")
    return redirect("notes:edit", pk=note.pk)


@require_POST
@staff_page
def white_label(request: HttpRequest, pk: int) -> HttpResponse:
    note = _note(request, pk)
    raw = request.POST.get("customer", "")
    customer = (
        Customer.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 10 else None
    )
    if customer is None:
        raise Http404("Customer not found.")
    try:
        pub = services.publish_white_label(
            note=note, customer=customer, actor=services.staff_actor(_user(request))
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"White-label variant for {customer.name}: {pub.state}.")
    return redirect("notes:edit", pk=note.pk)


@require_POST
@staff_page
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    pub = Publication.objects.select_related("note").filter(pk=pk).first()
    if pub is None:
        raise Http404("Publication not found.")
    try:
        row = services.retry_publication(
            publication=pub, actor=services.staff_actor(_user(request))
        )
        if row.channel in services.DELIVERED_HERE:
            row = services.deliver_publication(row)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Retried: {row.state}.")
    if pub.note_id is not None:
        return redirect("notes:edit", pk=pub.note_id)
    return redirect("notes:list")


# --- readers ----------------------------------------------------------------------------------


def _contact_zone(contact: Contact) -> str:
    try:
        get_zone(contact.effective_timezone or "UTC")
    except UnknownTimeZone:
        return "UTC"
    return contact.effective_timezone or "UTC"


@require_GET
@contact_required
def portal_list(request: HttpRequest) -> HttpResponse:
    contact: Contact = request.contact  # type: ignore[attr-defined]
    notes = selectors.portal_notes(contact)
    return render(
        request,
        "notes/portal_list.html",
        {
            "contact": contact,
            "organisation": contact.customer,
            "zone": _contact_zone(contact),
            "rows": [(n, selectors.render_note(n)) for n in notes],
        },
    )


@require_GET
@contact_required
def portal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact: Contact = request.contact  # type: ignore[attr-defined]
    note = (
        ReleaseNote.objects.for_user(contact)
        .select_related("release")
        .filter(pk=pk)
        .distinct()
        .first()
    )
    if note is None:
        raise Http404("Release note not found.")
    return render(
        request,
        "notes/portal_detail.html",
        {
            "contact": contact,
            "organisation": contact.customer,
            "zone": _contact_zone(contact),
            "note": note,
            "rendered": selectors.render_note(note),
        },
    )


@require_GET
def public_note(request: HttpRequest, pk: int) -> HttpResponse:
    """A published public-tier note, readable by anyone (the public feed links here)."""
    note = (
        ReleaseNote.objects.select_related("release")
        .filter(pk=pk, tier=Tier.PUBLIC, state=NoteState.PUBLISHED)
        .first()
    )
    if note is None:
        raise Http404("Release note not found.")
    return render(
        request, "notes/public.html", {"note": note, "rendered": selectors.render_note(note)}
    )


def _base(request: HttpRequest) -> str:
    from django.conf import settings

    return str(settings.BASE_URL)


@require_GET
def feed(request: HttpRequest, policy: str, audience: str, locale: str) -> HttpResponse:
    """Atom feed per policy audience and locale: public feeds are open, partner feeds need the
    signed `token` of their URL, internal audiences have no feed (404)."""
    from releasedesk.policies.models import Policy

    found = Policy.objects.filter(slug=policy).first()
    if found is None or len(locale) > 8:
        raise Http404("No such feed.")
    try:
        doc = selectors.latest_document(found)
    except DomainError as exc:
        raise Http404("No such feed.") from exc
    tier: str | None = doc.audiences.get(audience)
    if tier is None or tier == Tier.INTERNAL:
        raise Http404("No such feed.")
    if tier == Tier.PARTNER and not channels.feed_token_valid(
        request.GET.get("token", ""), policy, audience
    ):
        raise Http404("No such feed.")
    notes = list(
        ReleaseNote.objects.filter(
            release__policy=found,
            audience=audience,
            tier=tier,
            locale=locale,
            state=NoteState.PUBLISHED,
        )
        .select_related("release")
        .prefetch_related("release__products")
        .order_by("-published_at", "-id")[: channels.FEED_LIMIT]
    )
    base = _base(request)

    def entry_link(note: ReleaseNote) -> str:
        if note.tier == Tier.PUBLIC:
            return base + reverse("notes:public", args=[note.pk])
        return base + reverse("notes:portal_detail", args=[note.pk])

    body = channels.build_feed(
        policy_slug=policy,
        audience=audience,
        locale=locale,
        notes=notes,
        feed_url=base + request.get_full_path(),
        link=base,
        entry_link=entry_link,
    )
    response = HttpResponse(body, content_type="application/atom+xml; charset=utf-8")
    if tier == Tier.PARTNER:
        response["Cache-Control"] = "private, no-store"
    return response


def feed_url(
    policy: str, audience: str, locale: str, *, tier: str, version: int | None = None
) -> str:
    """The absolute URL of an audience's feed (with its token for a partner audience; the
    key `version` when the caller already knows it, else it is looked up)."""
    from django.conf import settings

    url = settings.BASE_URL + reverse("notes:feed", args=[policy, audience, locale])
    if tier == Tier.PARTNER:
        url += "?token=" + channels.feed_token(policy, audience, version=version)
    return url


# --- feed URLs (staff): list them, revoke a partner audience's URL ----------------------------


@require_GET
@staff_page
def feed_list(request: HttpRequest) -> HttpResponse:
    """Every policy's Atom feed URLs per audience and locale (internal audiences have none);
    partner URLs carry their token and can be revoked here."""
    from releasedesk.notes.models import FeedKey
    from releasedesk.policies.models import Policy

    keys = {(k.policy_id, k.audience): k for k in FeedKey.objects.all()}
    policies = []
    for policy in Policy.objects.order_by("slug"):
        try:
            doc = selectors.latest_document(policy)
        except DomainError:
            continue
        locales = selectors.note_locales(doc)
        audiences = []
        for audience, tier in selectors.note_audiences(doc):
            if tier == Tier.INTERNAL:
                continue
            key = keys.get((policy.pk, audience))
            version = key.version if key is not None else 1  # no row: version 1
            urls = [
                (loc, feed_url(policy.slug, audience, loc, tier=tier, version=version))
                for loc in locales
            ]
            rotated = key if key is not None and key.rotated_at is not None else None
            audiences.append({"name": audience, "tier": tier, "rotated": rotated, "urls": urls})
        if audiences:
            policies.append({"policy": policy, "audiences": audiences})
    return render(
        request, "notes/feeds.html", {"policies": policies, "zone": _zone(_user(request))}
    )


@require_POST
@staff_page
def feed_rotate(request: HttpRequest) -> HttpResponse:
    from releasedesk.policies.models import Policy

    policy = Policy.objects.filter(slug=str(request.POST.get("policy", ""))[:64]).first()
    audience = str(request.POST.get("audience", ""))[:64]
    if policy is None:
        raise Http404("Policy not found.")
    try:
        key = services.rotate_feed_token(
            policy=policy, audience=audience, actor=services.staff_actor(_user(request))
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The {audience} feed URLs of {policy.slug} were replaced (version {key.version}); "
            "the old URLs no longer work — send the new ones to the partners.",
        )
    return redirect("notes:feeds")
