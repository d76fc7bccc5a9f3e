from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from releasedesk.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/", include("releasedesk.accounts.urls")),
    path("catalog/", include("releasedesk.catalog.urls")),
    path("audit/", include("releasedesk.audit.urls")),
    path("policies/", include("releasedesk.policies.urls")),
    path("releases/", include("releasedesk.releases.urls")),
    path("timeline/", include("releasedesk.timeline.urls")),
    path("notes/", include("releasedesk.notes.urls")),
    path("calendar/", include("releasedesk.calendars.urls")),
    path("portal/", include("releasedesk.portal.urls")),
    path("outbox/", include("releasedesk.outbox.urls")),
    path("consent/", include("releasedesk.consent.urls")),
    path("tasks/", include("releasedesk.tasks.urls")),
    path("", include("releasedesk.core.urls")),  # /metrics, /worker/
    path("", include("releasedesk.web.urls")),
]
