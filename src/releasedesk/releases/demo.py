"""Demo data: releases in several states for each of the four example policies.

Idempotent: a release whose version already exists under its policy is left alone. Everything
goes through the services, so the demo's audit trail looks like real use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password

from releasedesk.accounts.models import Role, User
from releasedesk.catalog.models import Product
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.policies.demo import load_example_policies
from releasedesk.policies.models import Policy
from releasedesk.releases import services
from releasedesk.releases.models import Release
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.releases.selectors import missing_approvals


@dataclass(frozen=True)
class DemoRelease:
    version: str
    title: str
    days_ahead: int
    goal: str  # draft | assessed | approved | in_progress | completed | cancelled | extreme | partly_approved
    changes: list[dict[str, Any]] = field(default_factory=list)
    impact: int | None = None
    likelihood: int | None = None
    kind: str = "regular"
    hotfix_reason: str | None = None


# policy slug → (product slug, product name, demo releases)
DEMO: dict[str, tuple[str, str, list[DemoRelease]]] = {
    "school-saas": (
        "presenter",
        "Presenter",
        [
            DemoRelease(
                "5.3.0",
                "Faster lesson loading",
                -14,
                "completed",
                [{"kind": "performance", "title": "Cache lesson thumbnails"}],
                2,
                2,
            ),
            DemoRelease(
                "5.4.0",
                "Shared whiteboards",
                10,
                "partly_approved",
                [
                    {
                        "kind": "database_migration",
                        "title": "Split the sessions table",
                        "reversible": False,
                    },
                    {
                        "kind": "feature",
                        "title": "Shared whiteboards",
                        "significant": True,
                        "customer_note": "Teachers can share a whiteboard with a class.",
                    },
                ],
                4,
                4,
            ),
            DemoRelease(
                "5.4.1",
                "Login fixes",
                3,
                "approved",
                [{"kind": "fix", "title": "Login loop on Safari"}],
                2,
                1,
            ),
            DemoRelease(
                "5.5.0",
                "Grade book rewrite",
                30,
                "extreme",
                [{"kind": "feature", "title": "New grade book", "significant": True}],
                5,
                5,
            ),
            DemoRelease(
                "5.6.0",
                "Parent portal",
                45,
                "draft",
                [
                    {"kind": "feature", "title": "Parent portal"},
                    {"kind": "ux", "title": "New navigation"},
                ],
            ),
            DemoRelease(
                "5.4.0-hf1",
                "Session token hotfix",
                0,
                "in_progress",
                [{"kind": "security", "title": "Rotate session tokens"}],
                3,
                2,
                "hotfix",
                "security",
            ),
        ],
    ),
    "oem-white-label": (
        "oem-platform",
        "OEM Platform",
        [
            DemoRelease(
                "2027.02",
                "February platform release",
                7,
                "approved",
                [{"kind": "feature", "title": "Partner branding API"}],
            ),
            DemoRelease(
                "2027.03",
                "March platform release",
                35,
                "assessed",
                [{"kind": "fix", "title": "Report export totals"}],
            ),
            DemoRelease(
                "2027.01",
                "January platform release",
                -21,
                "completed",
                [{"kind": "feature", "title": "Single sign-on for partners"}],
            ),
        ],
    ),
    "hosted-monthly": (
        "dashboard",
        "Dashboard",
        [
            DemoRelease(
                "7.2",
                "Monthly upgrade 7.2",
                14,
                "assessed",
                [{"kind": "database_migration", "title": "Archive old audit rows"}],
            ),
            DemoRelease(
                "7.1",
                "Monthly upgrade 7.1",
                -16,
                "completed",
                [{"kind": "fix", "title": "Mail queue retries"}],
            ),
            DemoRelease(
                "7.3",
                "Monthly upgrade 7.3",
                45,
                "draft",
                [{"kind": "feature", "title": "Custom dashboards"}],
            ),
        ],
    ),
    "field-software": (
        "field-suite",
        "Field Suite",
        [
            DemoRelease(
                "3.0",
                "Offline mode",
                28,
                "approved",
                [{"kind": "feature", "title": "Offline mode", "significant": True}],
            ),
            DemoRelease(
                "3.1", "Map layers", 70, "draft", [{"kind": "feature", "title": "Map layers"}]
            ),
            DemoRelease(
                "2.9",
                "Sync fixes",
                -30,
                "cancelled",
                [{"kind": "fix", "title": "Sync conflict handling"}],
            ),
        ],
    ),
}


def _staff_with_role(role: str, *, not_user: User | None = None) -> User:
    """An active staff member holding `role` (other than `not_user`); a demo user is made if none."""
    qs = User.objects.filter(is_active=True, is_staff=True, roles__slug=role).order_by("id")
    if not_user is not None:
        qs = qs.exclude(pk=not_user.pk)
    user = qs.first()
    if user is not None:
        return user
    role_obj, _ = Role.objects.get_or_create(
        slug=role, defaults={"name": role.replace("_", " ").capitalize()}
    )
    suffix = "-2" if not_user is not None else ""
    user, _ = User.objects.get_or_create(
        username=f"demo-{role.replace('_', '-')}{suffix}",
        defaults={"is_staff": True, "password": make_password(None)},
    )
    user.roles.add(role_obj)
    return user


def _as(user: User) -> Actor:
    return services.staff_actor(user)


def _build(policy: Policy, product: Product, spec: DemoRelease, today: dt.date) -> Release:
    creator = _staff_with_role("product_manager")
    release = services.create_release(
        actor=_as(creator),
        created_by=creator,
        policy=policy,
        products=[product],
        version=spec.version,
        title=spec.title,
        target_date=today + dt.timedelta(days=spec.days_ahead),
        kind=spec.kind,
        hotfix_reason=spec.hotfix_reason,
        changes=[ChangeItemData(**c) for c in spec.changes],
    )
    if spec.goal == "draft":
        return release
    if spec.goal == "cancelled":
        return services.cancel_release(
            release=release, actor=_as(creator), reason="Superseded by the next release"
        )
    services.assess_release(
        release=release,
        actor=_as(creator),
        assessor=creator,
        impact=spec.impact,
        likelihood=spec.likelihood,
        stakeholders=services.Stakeholders(roles=("cto",) if spec.impact else ()),
        rationale="Demo assessment with the stakeholders",
    )
    release.refresh_from_db()
    if spec.goal in ("assessed", "extreme"):
        return release
    missing = missing_approvals(release)
    if spec.goal == "partly_approved":
        missing = missing[:1]
    for requirement in missing:
        for _ in range(requirement.count):
            approver = _staff_with_role(requirement.role, not_user=creator)
            services.approve_release(
                release=release,
                actor=_as(approver),
                user=approver,
                role=requirement.role,
                comment="Looks good (demo)",
            )
    release.refresh_from_db()
    if spec.goal in ("in_progress", "completed"):
        release = services.start_release(release=release, actor=_as(creator))
    if spec.goal == "completed":
        release = services.complete_release(
            release=release, actor=_as(creator), reason="All instances upgraded"
        )
    return release


def load_demo_releases(actor: Actor | User | None = None) -> list[Release]:
    """Create the demo releases (after applying the example policies); returns those created."""
    load_example_policies(actor)
    today = clock.now().date()
    created: list[Release] = []
    for slug, (product_slug, product_name, specs) in DEMO.items():
        policy = Policy.objects.get(slug=slug)
        product, _ = Product.objects.get_or_create(
            slug=product_slug, defaults={"name": product_name}
        )
        for spec in specs:
            if Release.objects.filter(policy=policy, version=spec.version).exists():
                continue
            created.append(_build(policy, product, spec, today))
    return created
