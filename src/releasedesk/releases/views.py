"""Staff pages: the release board, the release page and its forms (every change is a POST)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from releasedesk.accounts.models import User
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError, NotFound
from releasedesk.portal.auth import current_contact
from releasedesk.releases import plans, presenters, services
from releasedesk.releases.changes_import import parse_changes, render_markdown
from releasedesk.releases.choices import BOARD_ORDER, ReleaseStatus
from releasedesk.releases.forms import (
    ApproveForm,
    AssessForm,
    ReleaseForm,
    RevokeForm,
    TransitionForm,
)
from releasedesk.releases.models import Release
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.releases.selectors import audit_trail, releases_for

BOARD_LIMIT_PER_STATUS = 50


def staff_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Active staff only. A signed-in portal contact (or other non-staff) gets 404, anonymous sign in."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (
            isinstance(user, User) and user.is_authenticated and user.is_active and user.is_staff
        ):
            if current_contact(request) is not None or user.is_authenticated:
                raise Http404("Not found.")
            return redirect_to_login(request.get_full_path())
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _actor(request: HttpRequest) -> Actor:
    return services.staff_actor(_user(request))


def _release(request: HttpRequest, pk: int) -> Release:
    release: Release | None = (
        Release.objects.for_user(request.user)
        .select_related("policy", "policy_version", "created_by")
        .filter(pk=pk)
        .first()
    )
    if release is None:
        raise Http404("Release not found.")
    return release


def _detail_url(release: Release) -> str:
    return reverse("releases:detail", args=[release.pk])


def _changes_from(form_value: str) -> list[ChangeItemData]:
    return parse_changes(form_value or "", filename="changes") if (form_value or "").strip() else []


def _form_error(form: Any, exc: DomainError) -> None:
    """Show the service's message on top and each named field's complaint next to the field."""
    for field, message in exc.fields.items():
        name = field.split(".")[0]
        if name in form.fields:
            form.add_error(name, message)
    form.add_error(None, exc.message)


@require_GET
@staff_page
def board(request: HttpRequest) -> HttpResponse:
    releases = list(releases_for(request.user).order_by("target_date", "id"))
    columns = []
    for status in BOARD_ORDER:
        items = [r for r in releases if r.status == status]
        columns.append(
            {
                "status": status,
                "label": ReleaseStatus(status).label,
                "releases": items[:BOARD_LIMIT_PER_STATUS],
                "count": len(items),
            }
        )
    return render(request, "releases/board.html", {"columns": columns, "total": len(releases)})


@require_http_methods(["GET", "POST"])
@staff_page
def create(request: HttpRequest) -> HttpResponse:
    form = ReleaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            release = services.create_release(
                actor=_actor(request),
                created_by=_user(request),
                policy=data["policy"],
                products=list(data["products"]),
                version=data["version"],
                title=data["title"],
                target_date=data["target_date"],
                kind=data["kind"],
                hotfix_reason=data["hotfix_reason"] or None,
                changes=_changes_from(data["changes"]),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Release {release.version} created. Assess its risk next.")
            return redirect(_detail_url(release))
    return render(
        request,
        "releases/release_form.html",
        {"form": form, "release": None},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_page
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(request, pk)
    initial = {
        "products": list(release.products.all()),
        "version": release.version,
        "title": release.title,
        "target_date": release.target_date,
        "kind": release.kind,
        "hotfix_reason": release.hotfix_reason,
        "changes": render_markdown([ChangeItemData(**c.as_dict()) for c in release.changes.all()]),
    }
    form = ReleaseForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changes = _changes_from(data["changes"])
            notices = [
                services.edit_release(
                    release=release,
                    actor=_actor(request),
                    version=data["version"],
                    title=data["title"],
                    target_date=data["target_date"],
                    products=list(data["products"]),
                    kind=data["kind"],
                    hotfix_reason=data["hotfix_reason"] or "",
                ).notice,
                services.replace_changes(
                    release=release, actor=_actor(request), changes=changes
                ).notice,
            ]
        except DomainError as exc:
            _form_error(form, exc)
        else:
            for notice in filter(None, notices):
                messages.warning(request, notice)
            messages.success(request, f"Release {data['version']} saved.")
            return redirect(_detail_url(release))
    return render(
        request,
        "releases/release_form.html",
        {"form": form, "release": release},
        status=422 if form.errors else 200,
    )


@require_GET
@staff_page
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(request, pk)
    data = presenters.detail(release)
    user = _user(request)
    my_roles = user.role_slugs()
    required = [r["role"] for r in (data["assessment"] or {}).get("required_approvals", [])]
    can_approve = (
        release.status == ReleaseStatus.ASSESSED
        and bool(data["assessment"])
        and data["assessment"]["releasable"]
        and release.created_by_id != user.pk
    )
    approve_roles = (
        [m["role"] for m in data["missing_approvals"] if m["role"] in my_roles]
        if can_approve
        else []
    )
    for approval in data["approvals"]:
        approval["can_revoke"] = (
            approval["in_force"]
            and release.status in ("assessed", "approved", "scheduled")
            and (
                approval["user_id"] == user.pk or approval["role"] in my_roles or user.is_superuser
            )
        )
    context = {
        "release": release,
        "data": data,
        "required_roles": required,
        "approve_roles": approve_roles,
        "actions": services.next_actions(release),
        "events": list(audit_trail(release)),
        "zone": user.timezone or "UTC",
        "assess_form": AssessForm(),
        "is_creator": release.created_by_id == user.pk,
        **plans.page_context(
            release,
            zone=user.timezone or "UTC",
            customer=request.GET.get("customer"),
            at=request.GET.get("at"),
        ),
    }
    return render(request, "releases/detail.html", context)


@require_http_methods(["GET", "POST"])
@staff_page
def assess(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(request, pk)
    form = AssessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assessment = services.assess_release(
                release=release,
                actor=_actor(request),
                assessor=_user(request),
                impact=data["impact"] if data["impact"] != "" else None,
                likelihood=data["likelihood"] if data["likelihood"] != "" else None,
                stakeholders=services.Stakeholders(
                    roles=tuple(r.slug for r in data["stakeholders"])
                ),
                rationale=data["rationale"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            if assessment.releasable:
                messages.success(
                    request, f"Assessed: {assessment.level} (assessment v{assessment.version})."
                )
            else:
                messages.error(request, services.not_releasable_message(release, assessment))
            return redirect(_detail_url(release))
    return render(
        request,
        "releases/assess_form.html",
        {"form": form, "release": release},
        status=422 if form.errors else 200,
    )


@require_POST
@staff_page
def approve(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    release = _release(request, pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the role to approve as.")
    else:
        try:
            services.approve_release(
                release=release,
                actor=_actor(request),
                user=_user(request),
                role=form.cleaned_data["role"],
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Approved as {form.cleaned_data['role']}.")
    return redirect(_detail_url(release))


@require_POST
@staff_page
def revoke(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    release = _release(request, pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the approval is revoked.")
    else:
        try:
            services.revoke_approval(
                release=release,
                approval_id=form.cleaned_data["approval"],
                actor=_actor(request),
                user=_user(request),
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Approval revoked.")
    return redirect(_detail_url(release))


@require_POST
@staff_page
def transition(request: HttpRequest, pk: int, verb: str) -> HttpResponseRedirect:
    release = _release(request, pk)
    service = services.TRANSITION_SERVICES.get(verb)
    if service is None:
        raise Http404("Unknown action.")
    form = TransitionForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        if verb in ("start", "schedule"):
            release = service(release=release, actor=_actor(request))
        else:
            release = service(release=release, actor=_actor(request), reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Release {release.version} is now {ReleaseStatus(release.status).label.lower()}.",
        )
    return redirect(_detail_url(release))
