from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.portal import views

app_name = "portal"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("login/link/<str:token>/", views.link, name="link"),
    path("logout/", views.logout, name="logout"),
    path("instances/<int:pk>/", views.instance_detail, name="instance"),
]
