"""The REST API root: /api/v1/ with one router per app."""

from __future__ import annotations

from ninja import NinjaAPI

from releasedesk.accounts.api import router as accounts_router
from releasedesk.accounts.authn import api_auth
from releasedesk.audit.api import router as audit_router
from releasedesk.calendars.api import router as calendars_router
from releasedesk.catalog.api import router as catalog_router
from releasedesk.consent.api import router as consent_router
from releasedesk.core.api import install_error_handlers
from releasedesk.notes.api import router as notes_router
from releasedesk.outbox.api import router as outbox_router
from releasedesk.policies.api import router as policies_router
from releasedesk.releases.api import router as releases_router
from releasedesk.tasks.api import router as tasks_router
from releasedesk.timeline.api import router as timeline_router

api = NinjaAPI(
    title="ReleaseDesk API",
    version="1",
    description="Every resource and action of the ReleaseDesk UI. Authenticate with `Authorization: Bearer <token>`.",
    auth=api_auth,
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
install_error_handlers(api)

api.add_router("/accounts", accounts_router)
api.add_router("/catalog", catalog_router)
api.add_router("/audit", audit_router)
api.add_router("/policies", policies_router)
api.add_router("/releases", releases_router)
api.add_router("/timeline", timeline_router)
api.add_router("/notes", notes_router)
api.add_router("/calendar", calendars_router)
api.add_router("/outbox", outbox_router)
api.add_router("/consent", consent_router)
api.add_router("/tasks", tasks_router)
