"""Staff pages: a release's timeline (steps with UTC and local times, runs, controls) and the
POST-only controls behind the release-page panel (`timeline/_release_timeline.html`)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from releasedesk.accounts.models import User
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.models import Release
from releasedesk.releases.views import staff_page
from releasedesk.timeline import selectors, services
from releasedesk.timeline.panel import panel_context

PAGE_SIZE = 100
MAX_TEXT = 2000


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _actor(request: HttpRequest) -> Actor:
    return Actor(kind="staff", id=_user(request).pk)


def _release(request: HttpRequest, pk: int) -> Release:
    try:
        return selectors.release_for(request.user, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _back(request: HttpRequest, release_id: int) -> HttpResponseRedirect:
    """Back to where the form was (the release page or the timeline page)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(reverse("timeline:release", args=[release_id]))


def _text(request: HttpRequest, name: str) -> str:
    return (request.POST.get(name) or "").strip()[:MAX_TEXT]


@require_GET
@staff_page
def release_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(request, pk)
    state = request.GET.get("state") or ""
    steps = selectors.steps_for(request.user).filter(release=release)
    if state in WorkState.values:
        steps = steps.filter(state=state)
    else:
        state = ""
    page = Paginator(steps, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "release": release,
        "page": page,
        "state": state,
        "states": WorkState.values,
        **panel_context(
            request, release, steps=list(page.object_list), here=request.get_full_path()
        ),
    }
    return render(request, "timeline/release.html", context)


@require_POST
@staff_page
def control(request: HttpRequest, pk: int, verb: str) -> HttpResponseRedirect:
    release = _release(request, pk)
    service = {
        "pause": services.pause_timeline,
        "resume": services.resume_timeline,
        "cancel": services.cancel_timeline,
    }.get(verb)
    if service is None:
        raise Http404("Unknown action.")
    try:
        release = service(release=release, actor=_actor(request), reason=_text(request, "reason"))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Timeline of {release.version}: release is now {release.get_status_display().lower()}.",
        )
    return _back(request, pk)


@require_POST
@staff_page
def step_action(request: HttpRequest, pk: int, action: str) -> HttpResponseRedirect:
    try:
        step = selectors.step_for(request.user, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    try:
        if action == "skip":
            services.skip_step(step=step, actor=_actor(request), reason=_text(request, "reason"))
            done = f"Step {step.label!r} skipped."
        elif action == "retry":
            services.retry_step(step=step, actor=_actor(request), reason=_text(request, "reason"))
            done = f"Step {step.label!r} will run again now."
        elif action in ("done", "failed"):
            services.mark_step(
                step=step,
                actor=_actor(request),
                user=_user(request),
                outcome="done" if action == "done" else "failed",
                comment=_text(request, "comment"),
            )
            done = f"Step {step.label!r} marked {action}."
        else:
            raise Http404("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return _back(request, step.release_id)


@require_POST
@staff_page
def pass_stage(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    release = _release(request, pk)
    stage = _text(request, "stage")
    try:
        services.pass_stage(
            release=release,
            stage=stage,
            actor=_actor(request),
            user=_user(request),
            comment=_text(request, "comment"),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Stage {stage} passed.")
    return _back(request, pk)
