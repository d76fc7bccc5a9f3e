"""Reading policies: every lookup goes through `for_user`, so strangers get NotFound."""

from __future__ import annotations

import difflib
from typing import Any

from django.db.models import QuerySet

from releasedesk.core.context import Actor
from releasedesk.core.errors import NotFound
from releasedesk.policies.models import Policy, PolicyVersion


def policies_for(principal: Any) -> QuerySet[Policy]:
    """Staff see every policy; the system actor (CLI, demo) too; anyone else nothing."""
    if isinstance(principal, Actor) and principal.kind == "system":
        return Policy.objects.all()
    return Policy.objects.for_user(principal)


def versions_for(principal: Any) -> QuerySet[PolicyVersion]:
    if isinstance(principal, Actor) and principal.kind == "system":
        return PolicyVersion.objects.all()
    return PolicyVersion.objects.for_user(principal)


def get_policy(principal: Any, slug: str) -> Policy:
    policy: Policy | None = policies_for(principal).filter(slug=slug).first()
    if policy is None:
        raise NotFound(f"policy {slug!r} not found", fields={"policy": "not found"})
    return policy


def get_version(principal: Any, slug: str, number: int | None = None) -> PolicyVersion:
    """Version `number` of the policy, or its latest version."""
    policy = get_policy(principal, slug)
    versions = versions_for(principal).filter(policy=policy).select_related("policy", "created_by")
    version: PolicyVersion | None = (
        versions.filter(number=number).first()
        if number is not None
        else versions.order_by("-number").first()
    )
    if version is None:
        raise NotFound(
            f"policy {slug!r} has no version {number}"
            if number is not None
            else f"policy {slug!r} has no versions",
            fields={"version": "not found"},
        )
    return version


def diff_lines(old: PolicyVersion, new: PolicyVersion, *, context: int = 3) -> list[str]:
    """A unified diff of two versions' YAML sources (lines without trailing newlines)."""
    label = old.policy.slug
    return list(
        difflib.unified_diff(
            old.source_yaml.splitlines(),
            new.source_yaml.splitlines(),
            fromfile=f"{label} v{old.number}",
            tofile=f"{label} v{new.number}",
            n=context,
            lineterm="",
        )
    )


def diff_text(old: PolicyVersion, new: PolicyVersion) -> str:
    lines = diff_lines(old, new)
    return "\n".join(lines) + ("\n" if lines else "")
