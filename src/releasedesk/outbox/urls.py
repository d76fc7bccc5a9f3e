from __future__ import annotations

from django.urls import include, path

from releasedesk.outbox import esp, tracking, views

app_name = "outbox"
urlpatterns = [
    path("", views.message_list, name="list"),
    path("<int:pk>/", views.message_detail, name="detail"),
    path("roadmap/", views.roadmap_update, name="roadmap"),
    path("roadmap/send/", views.roadmap_send, name="roadmap_send"),
    path("<int:pk>/retry/", views.message_retry, name="retry"),
    path("tracking/", tracking.tracking_webhook, name="tracking"),
    path("anymail/", include(esp.tracking_urlpatterns())),
]
