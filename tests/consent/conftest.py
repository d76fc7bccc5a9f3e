"""A hosted (S3) release planned after its stage passed: consents pending for H1 and H2."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine

from releasedesk.catalog.models import Product
from releasedesk.consent import links
from releasedesk.consent.models import Consent
from releasedesk.core.context import SYSTEM
from releasedesk.timeline.replan import replan_release
from releasedesk.timeline.services import pass_stage
from tests.consent.world import (
    apply_example,
    customer_with_instance,
    release_approved,
    staff,
    staff_actor,
    utc,
    work_at,
)
from tests.outbox.sink import SmtpSink

APPROVED = utc(2027, 1, 20, 10)
STAGE_PASSED = utc(2027, 2, 1, 10)
DEADLINE = utc(2027, 2, 9, 13)  # 13:00 GMT on the upgrade day
UPGRADE = utc(2027, 2, 9, 18)
SEND = utc(2027, 2, 7, 17)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def at() -> Iterator[Callable[[dt.datetime], None]]:
    """Move the one clock: `at(instant)`."""
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


@pytest.fixture
def hosted(roles: dict[str, Any]) -> dict[str, Any]:
    product = Product.objects.create(slug="hosted-app", name="Hosted app")
    world: dict[str, Any] = {
        "product": product,
        "policy": apply_example("hosted-monthly"),
        "cm": staff("carla-cm", roles, "change_management"),
        "cs": staff("cass-cs", roles, "customer_success"),
        "rm": staff("rene-rm", roles, "product_manager"),
    }
    for slug, name in (("h1", "Hosted One"), ("h2", "Hosted Two")):
        customer, instance, contacts = customer_with_instance(
            product,
            slug=slug,
            name=name,
            zone="Europe/London",
            contacts=(
                (f"{name} Admin", f"admin@{slug}.test", ["admin"]),
                (f"{name} Tech", f"tech@{slug}.test", ["technical"]),
            ),
        )
        world[slug] = {
            "customer": customer,
            "instance": instance,
            "admin": contacts[0],
            "tech": contacts[1],
        }
    return world


@pytest.fixture
def planned(hosted: dict[str, Any]) -> dict[str, Any]:
    """Release 7.2 approved 2027-01-20, stage passed 2027-02-01 10:00 and planned."""
    release = release_approved(
        hosted["policy"],
        hosted["product"],
        version="7.2",
        target=dt.date(2027, 1, 18),
        creator=hosted["rm"],
        approvers=[(hosted["cm"], "change_management")],
        at=APPROVED,
    )
    with time_machine.travel(STAGE_PASSED, tick=False):
        pass_stage(
            release=release,
            stage="service_acceptance",
            actor=staff_actor(hosted["cm"]),
            user=hosted["cm"],
        )
        replan_release(release, actor=SYSTEM)
    hosted["release"] = release
    for slug in ("h1", "h2"):
        hosted[slug]["consent"] = Consent.objects.get(
            release=release, instance=hosted[slug]["instance"]
        )
    return hosted


@pytest.fixture
def notified(planned: dict[str, Any], smtp_sink: SmtpSink) -> dict[str, Any]:
    """`planned`, with the notices of 2027-02-07 17:00 delivered to a loopback SMTP sink."""
    work_at(SEND)
    planned["sink"] = smtp_sink
    return planned


def link_path(consent: Consent, contact: Any, action: str) -> str:
    url = links.make_link(consent, contact, action)
    return "/" + url.split("/", 3)[3]
