from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.accounts import views

app_name = "accounts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
]
