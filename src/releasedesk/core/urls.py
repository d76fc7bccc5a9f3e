from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.core import metrics, views

app_name = "core"
urlpatterns: list[URLPattern | URLResolver] = [
    path("metrics", metrics.metrics_view, name="metrics"),
    path("worker/", views.worker_status, name="worker"),
    path("worker/alerts/<int:pk>/acknowledge", views.acknowledge_alert, name="acknowledge_alert"),
]
