from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.consent import views

app_name = "consent"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.portal_list, name="portal_list"),
    path("<int:pk>/", views.portal_detail, name="portal_detail"),
    path("link/<str:action>/<str:token>/", views.link, name="link"),
    path("release/<int:pk>/", views.release_consents, name="release"),
    path("staff/<int:pk>/decide/", views.staff_decide, name="staff_decide"),
    path("staff/<int:pk>/postponement/", views.staff_postponement, name="staff_postponement"),
]
