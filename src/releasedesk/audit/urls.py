from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.audit import views

app_name = "audit"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.event_list, name="event_list"),
]
