from __future__ import annotations

from django.urls import path

from releasedesk.releases import views

app_name = "releases"
urlpatterns = [
    path("", views.board, name="board"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/assess/", views.assess, name="assess"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/revoke/", views.revoke, name="revoke"),
    path("<int:pk>/<slug:verb>/", views.transition, name="transition"),
]
