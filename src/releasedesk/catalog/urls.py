from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from releasedesk.catalog import views

app_name = "catalog"
urlpatterns: list[URLPattern | URLResolver] = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/contacts/new/", views.contact_add, name="contact_add"),
    path("customers/<int:pk>/subscriptions/new/", views.subscription_add, name="subscription_add"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/erase/", views.contact_erase, name="contact_erase"),
    path("subscriptions/<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("instances/", views.instance_list, name="instance_list"),
    path("instances/new/", views.instance_create, name="instance_create"),
    path("instances/<int:pk>/", views.instance_detail, name="instance_detail"),
    path("instances/<int:pk>/edit/", views.instance_edit, name="instance_edit"),
    path("products/", views.product_list, name="product_list"),
]
