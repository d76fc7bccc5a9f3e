"""Staff pages: policy list, a policy with its versions, and a diff of two versions."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from releasedesk.accounts.authn import staff_user
from releasedesk.accounts.models import User
from releasedesk.core.errors import NotFound
from releasedesk.policies import selectors


def _staff_or_404(request: HttpRequest) -> User | HttpResponse:
    user = staff_user(request)
    if user is not None:
        return user
    from releasedesk.portal.auth import current_contact

    if current_contact(request) is None and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    raise Http404("Not found.")


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 7:
        raise Http404(f"{name} must be a version number")
    return int(raw)


def policy_list(request: HttpRequest) -> HttpResponse:
    user = _staff_or_404(request)
    if isinstance(user, HttpResponse):
        return user
    policies = (
        selectors.policies_for(user)
        .annotate(latest_number=Max("versions__number"), version_count=Count("versions"))
        .order_by("slug")
    )
    return render(request, "policies/list.html", {"policies": policies})


def policy_detail(request: HttpRequest, slug: str) -> HttpResponse:
    user = _staff_or_404(request)
    if isinstance(user, HttpResponse):
        return user
    try:
        version = selectors.get_version(user, slug, _int_param(request, "version"))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    versions = (
        selectors.versions_for(user)
        .filter(policy=version.policy)
        .select_related("created_by")
        .order_by("-number")
    )
    return render(
        request,
        "policies/detail.html",
        {"policy": version.policy, "version": version, "versions": versions},
    )


def policy_diff(request: HttpRequest, slug: str) -> HttpResponse:
    user = _staff_or_404(request)
    if isinstance(user, HttpResponse):
        return user
    try:
        latest = selectors.get_version(user, slug)
        new_number = _int_param(request, "to") or latest.number
        old_number = _int_param(request, "from") or max(new_number - 1, 1)
        old = selectors.get_version(user, slug, old_number)
        new = selectors.get_version(user, slug, new_number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    lines = []
    for line in selectors.diff_lines(old, new):
        if line.startswith(("+++", "---")):
            css = "file"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "added"
        elif line.startswith("-"):
            css = "removed"
        else:
            css = "context"
        lines.append((css, line))
    versions = selectors.versions_for(user).filter(policy=latest.policy).order_by("-number")
    return render(
        request,
        "policies/diff.html",
        {"policy": latest.policy, "old": old, "new": new, "lines": lines, "versions": versions},
    )
