from __future__ import annotations

from django.urls import URLPattern, path

from releasedesk.calendars import views

app_name = "calendars"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("month/<int:year>/<int:month>/", views.month, name="month"),
    path("week/<int:year>/<int:week>/", views.week, name="week"),
    path("freezes/", views.freezes, name="freezes"),
    path("freezes/<int:pk>/lift/", views.lift, name="lift"),
    path("feed/", views.my_feed, name="my_feed"),
    path("customers/<int:pk>/feed/", views.customer_feed_link, name="customer_feed_link"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("feeds/staff/<int:user_id>/<str:token>.ics", views.staff_feed, name="staff_feed"),
    path(
        "feeds/customers/<int:customer_id>/<str:token>.ics",
        views.customer_feed,
        name="customer_feed",
    ),
]
