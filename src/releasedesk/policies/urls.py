from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.policies import views

app_name = "policies"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.policy_list, name="list"),
    path("<slug:slug>/", views.policy_detail, name="detail"),
    path("<slug:slug>/diff/", views.policy_diff, name="diff"),
]
