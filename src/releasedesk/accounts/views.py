"""Staff sign-in with throttling (the web app's /login/ uses `ThrottledLoginView`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse

from releasedesk.accounts import throttle


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
