"""Navigation links that only appear when their URL name exists.

    {% nav_link "releases:board" "Releases" %}

renders nothing while the `releases` app has no `board` view yet, so the layout never
breaks on a missing page; the link is marked current (`aria-current="page"`) when the
request path is inside it.
"""

from __future__ import annotations

from django import template
from django.template.context import Context
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def resolve_or_none(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@register.simple_tag(takes_context=True)
def nav_link(context: Context, name: str, label: str, exact: bool = False) -> SafeString | str:
    url = resolve_or_none(name)
    if url is None:
        return ""
    request = context.get("request")
    path = getattr(request, "path", "")
    current = path == url if (exact or url == "/") else path.startswith(url)
    if current:
        return format_html(
            '<a href="{}" class="nav-link is-current" aria-current="page">{}</a>', url, label
        )
    return format_html('<a href="{}" class="nav-link">{}</a>', url, label)


@register.simple_tag
def url_if_exists(name: str) -> str:
    """`{% url_if_exists "app:name" as href %}{% if href %}…{% endif %}`."""
    return resolve_or_none(name) or ""
