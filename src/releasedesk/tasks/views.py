"""Staff pages: "my tasks" (owned by one of my roles or teams; overdue highlighted; times in my
zone) and the POST-only done/skip actions behind it and the release page's task list
(`{% include "tasks/_release_tasks.html" %}` with `release` in the context)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from releasedesk.accounts.models import User
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import is_valid_zone
from releasedesk.releases.views import staff_page
from releasedesk.tasks import selectors, services
from releasedesk.tasks.rows import task_rows

MAX_TEXT = 2000


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _zone(user: User) -> str:
    return user.timezone if is_valid_zone(user.timezone or "") else "UTC"


@require_GET
@staff_page
def my_tasks(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    show_all = request.GET.get("all") == "1"
    tasks = list(selectors.my_tasks(user, include_finished=show_all))
    zone = _zone(user)
    rows = task_rows(tasks, user=user, zone=zone, now=clock.now())
    return render(
        request,
        "tasks/my_tasks.html",
        {
            "rows": rows,
            "zone": zone,
            "show_all": show_all,
            "owner_slugs": sorted(selectors.owner_slugs(user)),
            "overdue_count": sum(1 for r in rows if r["overdue"]),
            "here": request.get_full_path(),
        },
    )


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(reverse("tasks:mine"))


@require_POST
@staff_page
def task_action(request: HttpRequest, pk: int, action: str) -> HttpResponseRedirect:
    try:
        task = selectors.task_for(request.user, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    user = _user(request)
    actor = Actor(kind="staff", id=user.pk)
    comment = (request.POST.get("comment") or "").strip()[:MAX_TEXT]
    try:
        if action == "done":
            services.complete_task(task=task, user=user, actor=actor, comment=comment)
        elif action == "skip":
            services.skip_task(task=task, user=user, actor=actor, comment=comment)
        else:
            raise Http404("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verb = "done" if action == "done" else "skipped"
        messages.success(request, f"Task {task.title!r} {verb}.")
    return _back(request)
