"""`{% release_timeline release %}`: the timeline panel of the release page."""

from __future__ import annotations

from typing import Any

from django import template

from releasedesk.releases.models import Release
from releasedesk.timeline.panel import panel_context

register = template.Library()


@register.inclusion_tag("timeline/_panel.html", takes_context=True)
def release_timeline(context: template.Context, release: Release) -> dict[str, Any]:
    request = context["request"]
    data = panel_context(request, release)
    data["csrf_token"] = context.get("csrf_token")
    data["request"] = request
    data["tl_full_page"] = True
    return data
