from __future__ import annotations

from django.urls import path

from releasedesk.timeline import views

app_name = "timeline"

urlpatterns = [
    path("releases/<int:pk>/", views.release_timeline, name="release"),
    path("releases/<int:pk>/stages/pass/", views.pass_stage, name="pass_stage"),
    path("releases/<int:pk>/<slug:verb>/", views.control, name="control"),
    path("steps/<int:pk>/<slug:action>/", views.step_action, name="step_action"),
]
