from __future__ import annotations

from django.urls import path

from releasedesk.tasks import views

app_name = "tasks"

urlpatterns = [
    path("", views.my_tasks, name="mine"),
    path("<int:pk>/<slug:action>/", views.task_action, name="action"),
]
