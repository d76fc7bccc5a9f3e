"""Staff sign-in with throttling (the web app's /login/ uses `ThrottledLoginView`) and the
"My API tokens" page (/accounts/tokens/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from releasedesk.accounts import services, throttle
from releasedesk.accounts.authn import actor_for
from releasedesk.accounts.choices import TokenScope
from releasedesk.accounts.models import ApiToken, User
from releasedesk.core import clock
from releasedesk.core.errors import DomainError
from releasedesk.core.timeutil import format_local, is_valid_zone


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses without checking the password while the (username, address) key is throttled."""

    throttled_for: int = 0

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        if self.request is None or not username:
            return super().clean()
        key = throttle.throttle_key("staff", username, throttle.client_address(self.request))
        wait = throttle.seconds_blocked(key)
        if wait:
            self.throttled_for = wait
            raise forms.ValidationError(
                f"Too many failed sign-in attempts. Try again in {throttle.wait_text(wait)}.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure(key)
            raise
        throttle.clear(key)
        return cleaned


class ThrottledLoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "web/login.html"

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "throttled_for", 0):
            response.status_code = 429
            response["Retry-After"] = str(form.throttled_for)  # type: ignore[attr-defined]
        return response


# --- "My API tokens" page --------------------------------------------------------------------


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=120, label="Name", help_text="What the token is for, e.g. 'ci'."
    )
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ, label="Scope")
    expires_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        label="Expires after (days)",
        help_text="Empty: never.",
    )


def _staff_or_403(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_active or not user.is_staff:
        raise DjangoPermissionDenied("Only vendor staff have API tokens.")
    return user


def _zone(user: User) -> str:
    return user.timezone if is_valid_zone(user.timezone or "") else "UTC"


def _token_rows(user: User) -> list[dict[str, Any]]:
    zone = _zone(user)

    def show(value: dt.datetime | None) -> str:
        return format_local(value, zone) if value else "—"

    return [
        {
            "token": t,
            "created": show(t.created_at),
            "last_used": show(t.last_used_at),
            "expires": show(t.expires_at) if t.expires_at else "never",
            "revoked": show(t.revoked_at) if t.revoked_at else "",
        }
        for t in ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")[:200]
    ]


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """List your tokens and create one; a new token is shown once, in this response only."""
    user = _staff_or_403(request)
    form = TokenForm(request.POST or None)
    created: tuple[ApiToken, str] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            days = form.cleaned_data["expires_days"]
            try:
                created = services.create_api_token(
                    actor=actor_for(request),
                    user=user,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    expires_at=clock.now() + dt.timedelta(days=days) if days else None,
                )
            except DomainError as exc:
                for field, message in exc.fields.items():
                    form.add_error(field if field in form.fields else None, message)
                status = 422
            else:
                form = TokenForm()
        else:
            status = 422
    context = {
        "form": form,
        "rows": _token_rows(user),
        "zone": _zone(user),
        "created": created[0] if created else None,
        "raw_token": created[1] if created else None,
    }
    response = render(request, "accounts/tokens.html", context, status=status)
    if created:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_or_403(request)
    token = get_object_or_404(ApiToken, pk=pk, user=user)
    try:
        services.revoke_api_token(actor=actor_for(request), token=token)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Token {token.name!r} ({token.prefix}…) is revoked.")
    return redirect("accounts:tokens")
