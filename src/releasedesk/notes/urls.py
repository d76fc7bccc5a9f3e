from __future__ import annotations

from django.urls import URLPattern, path

from releasedesk.notes import views

app_name = "notes"

urlpatterns: list[URLPattern] = [
    path("", views.note_list, name="list"),
    path("releases/<int:release_pk>/", views.release_notes, name="release"),
    path("releases/<int:release_pk>/compose/", views.compose, name="compose"),
    path("<int:pk>/", views.edit, name="edit"),
    path("<int:pk>/preview/", views.preview, name="preview"),
    path("<int:pk>/sign-off/", views.sign_off, name="sign_off"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/white-label/", views.white_label, name="white_label"),
    path("publications/<int:pk>/retry/", views.retry, name="retry"),
    path("published/<int:pk>/", views.public_note, name="public"),
    path("portal/", views.portal_list, name="portal_list"),
    path("portal/<int:pk>/", views.portal_detail, name="portal_detail"),
    path("feeds/", views.feed_list, name="feeds"),
    path("feeds/rotate/", views.feed_rotate, name="feed_rotate"),
    path("feeds/<slug:policy>/<slug:audience>/<str:locale>.atom", views.feed, name="feed"),
]
