"""S4 (field software) fixtures: the example policy with a production target, its staff by
role, a reseller and a customer, and release 2027.6 (release date Tuesday 2027-06-15)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine

from releasedesk.core.context import Actor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "field-software.yaml"
# The example policy plans the announcement timeline; the rollout needs a target so the
# release can run and complete through the worker ("update the lending shop" hangs on that).
TARGET = """
targets:
  - name: production
    instances: {kind: shared}
    at: release_slot
"""
RELEASE_DAY = dt.date(2027, 6, 15)
# Approved on Monday 2027-05-03 10:00 Zurich (08:00 UTC), six weeks ahead.
APPROVED_AT = dt.datetime(2027, 5, 3, 8, 0, tzinfo=dt.UTC)


def staff_actor(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock_at() -> Iterator[Any]:
    """Move the one clock: `clock_at(instant)` (time_machine, no ticking)."""
    travellers: list[Any] = []

    def _at(instant: dt.datetime) -> None:
        if travellers:
            travellers.pop().stop()
        traveller = time_machine.travel(instant, tick=False)
        traveller.start()
        travellers.append(traveller)

    yield _at
    for traveller in travellers:
        traveller.stop()


def _user(
    username: str, roles: dict[str, Any], slugs: list[str], zone: str = "Europe/Zurich"
) -> Any:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(
        username=username,
        password="correct-horse-battery",
        email=f"{username}@vendor.test",
        is_staff=True,
        timezone=zone,
    )
    user.roles.set([roles[s] for s in slugs])
    return user


@pytest.fixture
def people(roles: dict[str, Any]) -> dict[str, Any]:
    """Vendor staff: delivery lead Dana, customer-success lead Cleo, customer success Sam
    (in New York), delivery Dirk, and Rita (release manager, sales: owns no task)."""
    return {
        "dana": _user("dana", roles, ["delivery_lead"]),
        "cleo": _user("cleo", roles, ["customer_success_lead"]),
        "sam": _user("sam", roles, ["customer_success"], zone="America/New_York"),
        "dirk": _user("dirk", roles, ["delivery"]),
        "rita": _user("rita", roles, ["sales"]),
    }


@pytest.fixture
def field_policy(db: None) -> Any:
    from releasedesk.policies.services import apply_policy

    source = EXAMPLE.read_text() + TARGET
    return apply_policy(source=source, filename="field-software.yaml", actor=None).policy


@pytest.fixture
def field_app(db: None) -> Any:
    from releasedesk.catalog.models import Instance, Product

    product = Product.objects.create(slug="field-app", name="Field App")
    Instance.objects.create(
        slug="field-prod",
        name="Field production",
        kind="shared",
        product=product,
        current_version="2027.5",
        timezone="Europe/Zurich",
    )
    return product


@pytest.fixture
def field_customers(field_app: Any) -> dict[str, Any]:
    """Reseller R1 (its reseller contact Rolf, German) and R1's customer C2 (admin Cora,
    English), both using the Field App on field-prod."""
    from releasedesk.catalog.models import Contact, Customer, Instance, Subscription

    prod = Instance.objects.get(slug="field-prod")
    r1 = Customer.objects.create(
        slug="r1", name="Reseller R1", kind="reseller", timezone="Europe/Berlin", locale="de"
    )
    c2 = Customer.objects.create(slug="c2", name="Customer C2", timezone="Europe/Zurich", parent=r1)
    Subscription.objects.create(customer=r1, product=field_app, instance=prod)
    Subscription.objects.create(customer=c2, product=field_app, instance=prod)
    return {
        "r1": r1,
        "c2": c2,
        "rolf": Contact.objects.create(
            customer=r1, name="Rolf Reseller", email="rolf@r1.test", roles=["reseller"]
        ),
        "cora": Contact.objects.create(
            customer=c2, name="Cora Admin", email="cora@c2.test", roles=["admin"]
        ),
    }


def make_release(
    policy: Any,
    product: Any,
    creator: Any,
    approver: Any,
    *,
    significant: bool = True,
    version: str = "2027.6",
) -> Any:
    """Release 2027.6 for 2027-06-15, assessed and approved at APPROVED_AT (its plan is
    stored by the approval)."""
    from releasedesk.releases import services
    from releasedesk.releases.schemas import ChangeItemData

    with time_machine.travel(APPROVED_AT, tick=False):
        release = services.create_release(
            actor=staff_actor(creator),
            created_by=creator,
            policy=policy,
            products=[product],
            version=version,
            target_date=RELEASE_DAY,
            changes=[
                ChangeItemData(
                    kind="feature",
                    title="New route planner",
                    customer_note="Plan routes offline.",
                    internal_note="Uses the beta maps SDK; watch the crash rate.",
                    significant=significant,
                )
            ],
        )
        services.assess_release(
            release=release,
            actor=staff_actor(creator),
            assessor=creator,
            impact=None,
            likelihood=None,
        )
        services.approve_release(
            release=release, actor=staff_actor(approver), user=approver, role="delivery_lead"
        )
    release.refresh_from_db()
    return release


@pytest.fixture
def release(field_policy: Any, field_app: Any, people: dict[str, Any]) -> Any:
    return make_release(field_policy, field_app, people["rita"], people["dana"])
