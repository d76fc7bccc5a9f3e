"""plan_for_release: the planner's inputs built from the database (S1 step 1 end to end)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from releasedesk.core.context import Actor
from releasedesk.planning.snapshot import (
    approvals_complete_at,
    catalogue_snapshot,
    plan_for_release,
    release_snapshot,
)
from releasedesk.releases import services
from releasedesk.releases.models import Release
from releasedesk.releases.schemas import ChangeItemData

from .conftest import both, in_utc, utc

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "school-saas.yaml"


def staff(user: Any) -> Actor:
    return Actor(kind="staff", id=user.pk)


@pytest.fixture
def approved_540(
    presenter: Any,
    product_manager: Any,
    cto: Any,
    customer_a: Any,
    customer_b: Any,
    customer_c: Any,
    roles: dict[str, Any],
) -> Release:
    from releasedesk.accounts.models import User
    from releasedesk.catalog.models import Contact
    from releasedesk.policies.services import apply_policy

    # C's technical contact and an erased admin of A must never be told
    Contact.objects.create(customer=customer_a, name="Tech", email="t@a.test", roles=["technical"])
    Contact.objects.create(
        customer=customer_a,
        name="Gone",
        email="g@a.test",
        roles=["admin"],
        erased_at=utc("2027-01-01 00:00"),
    )
    policy = apply_policy(
        source=POLICY_FILE.read_text(), filename=str(POLICY_FILE), actor=None
    ).policy
    release = services.create_release(
        actor=staff(product_manager),
        created_by=product_manager,
        policy=policy,
        products=[presenter],
        version="5.4.0",
        target_date=dt.date(2027, 3, 22),
        changes=[ChangeItemData(kind="database_migration", title="Split the sessions table")],
    )
    services.assess_release(
        release=release,
        actor=staff(product_manager),
        assessor=product_manager,
        impact=4,
        likelihood=4,
        stakeholders=services.Stakeholders(roles=("cto",)),
        rationale="Every school uses sessions",
    )
    lead = User.objects.create_user(username="pm-lead", password="x-correct-horse", is_staff=True)
    lead.roles.set([roles["product_manager"]])
    with time_machine.travel(dt.datetime(2027, 3, 22, 10, 0, tzinfo=AMS), tick=False):
        services.approve_release(
            release=release, actor=staff(lead), user=lead, role="product_manager", comment=""
        )
    with time_machine.travel(dt.datetime(2027, 3, 22, 10, 5, tzinfo=AMS), tick=False):
        services.approve_release(
            release=release, actor=staff(cto), user=cto, role="cto", comment=""
        )
    return Release.objects.get(pk=release.pk)


def test_snapshot_of_release_and_catalogue(approved_540: Release, customer_a: Any) -> None:
    from releasedesk.catalog.models import Contact

    snapshot = release_snapshot(approved_540)
    assert (snapshot.level, snapshot.target_date, snapshot.kind) == (
        "high",
        dt.date(2027, 3, 22),
        "regular",
    )
    assert snapshot.demands is not None
    assert snapshot.demands.notice is not None
    assert snapshot.demands.notice.lead == dt.timedelta(days=7)
    assert approvals_complete_at(approved_540) == utc("2027-03-22 09:05")
    catalogue = catalogue_snapshot(snapshot.product_ids)
    assert [i.slug for i in catalogue.instances] == ["saas-eu"]
    assert catalogue.instances[0].zone == "Europe/Amsterdam"
    erased = Contact.objects.get(email="g@a.test").pk
    assert erased not in {c.id for c in catalogue.contacts}  # erased: not loaded
    assert len(catalogue.contacts) == 5  # a1, a2, tech, b1, c1


def test_plan_for_release_s1_step1(approved_540: Release) -> None:
    from releasedesk.catalog.models import Contact

    result = plan_for_release(approved_540, now=utc("2027-03-22 09:05"))
    assert result.problems == ()
    steps = result.by_key()
    rid = approved_540.pk
    instance = approved_540.products.get().instances.get()
    upgrade = steps[f"r{rid}:i{instance.pk}:upgrade"]
    assert both(upgrade) == ("2027-04-01 14:00", "2027-04-01 16:00 CEST")
    notice = steps[f"r{rid}:i{instance.pk}:notice:2027-04-01"]
    assert in_utc(notice.late_after) == "2027-03-25 14:00"
    admins = sorted(
        Contact.objects.filter(
            email__in=["a1@school-a.test", "a2@school-a.test", "b1@school-b.test"]
        ).values_list("pk", flat=True)
    )
    assert notice.payload["contact_ids"] == admins


def test_what_if_released_on_another_date(approved_540: Release) -> None:
    result = plan_for_release(approved_540, at=dt.date(2027, 4, 5), now=utc("2027-03-22 09:05"))
    instance = approved_540.products.get().instances.get()
    upgrade = result.by_key()[f"r{approved_540.pk}:i{instance.pk}:upgrade"]
    assert both(upgrade) == ("2027-04-08 14:00", "2027-04-08 16:00 CEST")
    # the stored release is unchanged
    assert Release.objects.get(pk=approved_540.pk).target_date == dt.date(2027, 3, 22)
