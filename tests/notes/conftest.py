"""Fixtures for release-note tests: a three-audience policy (internal, distributors=partner,
customers=public) in en and de, a Field Suite release with customer-facing and internal
notes, resellers, customers, OEM partners, and the staff who edit and sign off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from releasedesk.core.context import Actor

POLICY = """\
policy: field-notes
zone: Europe/Zurich
audiences: {internal: internal, distributors: partner, customers: public}
default_level: standard
levels:
  standard: {window: anytime, approvals: [delivery_lead]}
release_notes:
  audiences: [internal, distributors, customers]
  locales: [en, de]
"""

# Secrets that must never appear in partner or public output.
INTERNAL_1 = "Uses the new tile cache from vendor Kartografix; contract renewal pending"
INTERNAL_2 = "Root cause was the SameSite cookie bug in build 4411"
INTERNAL_3 = "CVE-2027-1234 reported by pentest firm Redline"
INTERNAL_SECRETS = (INTERNAL_1, INTERNAL_2, INTERNAL_3, "Kartografix", "build 4411", "Redline")

CHANGES: list[dict[str, Any]] = [
    {
        "kind": "feature",
        "title": "Offline maps",
        "customer_note": "Maps now work without a connection.",
        "internal_note": INTERNAL_1,
        "significant": True,
    },
    {"kind": "fix", "title": "Login loop fixed", "internal_note": INTERNAL_2},
    {
        "kind": "security",
        "title": "Hardened the upload form",
        "customer_note": "Uploads are checked more strictly.",
        "internal_note": INTERNAL_3,
    },
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def export_dir(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "docs-export"
    settings.NOTES_EXPORT_DIR = path
    settings.NOTES_KB_WEBHOOK_URL = ""
    settings.NOTES_KB_WEBHOOK_SECRET = ""
    settings.NOTES_SIGNOFF_ROLES = ["product_manager", "customer_success_lead", "docs"]
    settings.BASE_URL = "https://rd.example.test"
    return path


@pytest.fixture
def policy(db: None) -> Any:
    from releasedesk.policies.services import apply_policy

    return apply_policy(source=POLICY, filename="field-notes.yaml", actor=None).policy


@pytest.fixture
def field_suite(db: None) -> Any:
    from releasedesk.catalog.models import Product

    return Product.objects.create(slug="field-suite", name="Field Suite")


@pytest.fixture
def field_cloud(field_suite: Any) -> Any:
    from releasedesk.catalog.models import Instance

    return Instance.objects.create(
        slug="field-cloud",
        name="Field Cloud",
        kind="shared",
        product=field_suite,
        current_version="7.0.0",
        timezone="Europe/Zurich",
    )


def _customer(slug: str, name: str, kind: str, locale: str = "en", **extra: Any) -> Any:
    from releasedesk.catalog.models import Customer

    return Customer.objects.create(
        slug=slug, name=name, kind=kind, locale=locale, timezone="Europe/Zurich", **extra
    )


def _contact(customer: Any, name: str, email: str, roles: list[str], **extra: Any) -> Any:
    from releasedesk.catalog.models import Contact

    return Contact.objects.create(customer=customer, name=name, email=email, roles=roles, **extra)


def _uses(customer: Any, instance: Any) -> None:
    from releasedesk.catalog.models import Subscription

    Subscription.objects.create(customer=customer, product=instance.product, instance=instance)


@pytest.fixture
def catalogue(field_cloud: Any) -> dict[str, Any]:
    """R1 (reseller, de) with its customer C2; C3 (direct, en); OEM X (docs: customer) and
    OEM Y (docs: vendor) with white-label instances; D uses nothing (the outsider)."""
    from releasedesk.catalog.models import Instance

    r1 = _customer("alpine-field", "Alpine Field Partners", "reseller", "de")
    c2 = _customer("bergbahnen", "Bergbahnen Engadin", "direct", "de", parent=r1)
    c3 = _customer("lakeside", "Lakeside Surveys", "direct", "en")
    oem_x = _customer(
        "lernwerk",
        "Lernwerk GmbH",
        "oem_partner",
        "de",
        contract_overrides={"docs_responsibility": "customer"},
    )
    oem_y = _customer(
        "edunova",
        "EduNova Ltd",
        "oem_partner",
        contract_overrides={"docs_responsibility": "vendor"},
    )
    d = _customer("outsiders", "Outsiders Inc", "direct")
    for c in (r1, c2, c3):
        _uses(c, field_cloud)
    wl_x = Instance.objects.create(
        slug="lernwerk-platform",
        name="Lernwerk Platform",
        kind="white_label",
        product=field_cloud.product,
        owner=oem_x,
        current_version="7.0.0",
    )
    wl_y = Instance.objects.create(
        slug="edunova-connect",
        name="EduNova Connect",
        kind="white_label",
        product=field_cloud.product,
        owner=oem_y,
        current_version="7.1.0",
    )
    _uses(oem_x, wl_x)
    _uses(oem_y, wl_y)
    return {
        "r1": r1,
        "c2": c2,
        "c3": c3,
        "oem_x": oem_x,
        "oem_y": oem_y,
        "d": d,
        "r1_contact": _contact(r1, "Reto Brunner", "reto@alpine.test", ["reseller"]),
        "c2_admin": _contact(c2, "Claudia Meier", "claudia@bergbahnen.test", ["admin"]),
        "c2_tech": _contact(c2, "Tom Tech", "tom@bergbahnen.test", ["technical"]),
        "c3_admin": _contact(c3, "Lara Lake", "lara@lakeside.test", ["admin"], locale="nl"),
        "c3_gone": _contact(c3, "Gone Admin", "gone@lakeside.test", ["admin"], reachable=False),
        "x_contact": _contact(oem_x, "Jonas Richter", "jonas@lernwerk.test", ["oem_partner"]),
        "y_contact": _contact(oem_y, "Ethan Clarke", "ethan@edunova.test", ["oem_partner"]),
        "d_admin": _contact(d, "Dora Out", "dora@outsiders.test", ["admin"]),
    }


@pytest.fixture
def docs_writer(roles: dict[str, Any]) -> Any:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(
        username="docs", password="correct-horse-battery", is_staff=True, timezone="Europe/Zurich"
    )
    user.roles.set([roles["docs"]])
    return user


@pytest.fixture
def delivery(roles: dict[str, Any]) -> Any:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(
        username="delivery", password="correct-horse-battery", is_staff=True
    )
    user.roles.set([roles["delivery"]])
    return user


@pytest.fixture
def make_release(policy: Any, field_suite: Any, product_manager: Any) -> Callable[..., Any]:
    from releasedesk.releases.schemas import ChangeItemData
    from releasedesk.releases.services import create_release

    def _make(
        version: str = "7.2.0",
        *,
        changes: list[dict[str, Any]] | None = None,
        target_date: dt.date = dt.date(2027, 6, 15),
        title: str = "Summer release",
    ) -> Any:
        return create_release(
            actor=Actor(kind="staff", id=product_manager.pk),
            created_by=product_manager,
            policy=policy,
            products=[field_suite],
            version=version,
            title=title,
            target_date=target_date,
            changes=[ChangeItemData(**c) for c in (CHANGES if changes is None else changes)],
        )

    return _make


@pytest.fixture
def release(make_release: Callable[..., Any]) -> Any:
    return make_release()


def staff(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


@pytest.fixture
def publish_all(docs_writer: Any) -> Callable[..., list[Any]]:
    """Compose, sign off and publish every note of a release (default channels)."""
    from releasedesk.notes import services

    def _go(release: Any, *, channels: list[str] | None = None) -> list[Any]:
        notes = services.compose_notes(release=release, actor=staff(docs_writer))
        for note in notes:
            services.sign_off_note(note=note, actor=staff(docs_writer), user=docs_writer)
            services.publish_note(
                note=note,
                actor=staff(docs_writer),
                channels=[] if note.tier == "internal" else channels,
            )
        return notes

    return _go
