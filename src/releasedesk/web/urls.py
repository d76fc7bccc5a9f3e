from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from releasedesk.accounts.views import ThrottledLoginView
from releasedesk.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", ThrottledLoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
