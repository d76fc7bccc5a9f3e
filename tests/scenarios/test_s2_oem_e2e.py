"""SCENARIOS.md S2 (OEM white-label, acceptance-gated) steps 1-2 end to end through the
worker on a moving clock, with the outbox delivering to a loopback aiosmtpd sink.

Release of 2027-02-03 (the 4-weekly cycle), approved by the product manager on 2027-02-01.
White-label instances upgrade one week later at 10:00 Europe/Berlin (2027-02-10 09:00
UTC) only if their OEM accepted by 17:00 Berlin the working day before (2027-02-09 16:00
UTC); the OEM is reminded 2 days before each deadline (2027-02-07 16:00 UTC).

1. OEM X accepts on 2027-02-08 in the portal -> upgraded 2027-02-10 09:00 UTC.
2. OEM Y stays silent -> not touched on 2027-02-10, carried to the 2027-03-10 cycle (10:00
   CET), told the new date, and reminded again 2 days before the new deadline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from releasedesk.consent.models import Consent
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.models import Message
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.timeline.models import ScheduledStep
from tests.consent.world import (
    apply_example,
    customer_with_instance,
    drive,
    links_in,
    release_approved,
    staff,
    subjects,
    text_of,
    utc,
)
from tests.outbox.sink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

APPROVED = utc(2027, 2, 1, 9)
REMINDER = utc(2027, 2, 7, 16)  # 17:00 CET, 2 days before the deadline
X_ACCEPTS = utc(2027, 2, 8, 10)
DEADLINE = utc(2027, 2, 9, 16)  # 17:00 CET on the working day before
UPGRADE = utc(2027, 2, 10, 9)  # 10:00 CET
NEXT_REMINDER = utc(2027, 3, 7, 16)
NEXT_DEADLINE = utc(2027, 3, 9, 16)
NEXT_UPGRADE = utc(2027, 3, 10, 9)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def oem(roles: dict[str, Any]) -> dict[str, Any]:
    from releasedesk.catalog.models import Product

    product = Product.objects.create(slug="platform", name="Platform")
    world: dict[str, Any] = {
        "product": product,
        "policy": apply_example("oem-white-label"),
        "pm": staff("pia-pm", roles, "product_manager"),
        "rm": staff("rolf-rm", roles, "delivery"),
    }
    for slug, name, zone in (("x", "OEM X", "Europe/Berlin"), ("y", "OEM Y", "Europe/Paris")):
        _, instance, contacts = customer_with_instance(
            product,
            slug=f"oem-{slug}",
            name=name,
            zone=zone,
            kind="oem_partner",
            instance_kind="white_label",
            contacts=((f"{name} Partner", f"partner@{slug}.test", ["oem_partner"]),),
            version="2027.01",
        )
        world[slug] = {"instance": instance, "partner": contacts[0]}
    return world


def test_s2_x_accepts_and_is_upgraded_y_is_silent_and_carried_to_the_next_cycle(
    oem: dict[str, Any], smtp_sink: SmtpSink
) -> None:
    release = release_approved(
        oem["policy"],
        oem["product"],
        version="2027.02",
        target=dt.date(2027, 2, 3),
        creator=oem["rm"],
        approvers=[(oem["pm"], "product_manager")],
        at=APPROVED,
    )
    x, y = oem["x"]["instance"], oem["y"]["instance"]
    rid = release.pk

    def step(key: str) -> ScheduledStep:
        found: ScheduledStep = ScheduledStep.objects.get(release=release, key=f"r{rid}:{key}")
        return found

    for inst in (x, y):
        assert step(f"i{inst.pk}:upgrade").due_at == UPGRADE
        assert step(f"i{inst.pk}:consent_deadline:2027-02-10").due_at == DEADLINE
        assert step(f"i{inst.pk}:reminder:2027-02-10").due_at == REMINDER
    assert {(c.instance_id, c.mode, c.state) for c in Consent.objects.all()} == {
        (x.pk, "approve", "pending"),
        (y.pk, "approve", "pending"),
    }

    client = Client()
    x_partner = oem["x"]["partner"]

    def x_accepts_in_the_portal() -> None:
        session = client.session
        session[SESSION_KEY] = x_partner.pk
        session.save()
        consent = Consent.objects.get(instance=x)
        page = client.get(f"/consent/{consent.pk}/")
        assert page.status_code == 200
        assert b"Accept this release" in page.content
        # Y's consent is another organisation's: 404, for GET and POST.
        other = Consent.objects.get(instance=y)
        assert client.get(f"/consent/{other.pk}/").status_code == 404
        assert client.post(f"/consent/{other.pk}/", {"action": "accept"}).status_code == 404
        assert client.post(f"/consent/{consent.pk}/", {"action": "accept"}).status_code == 200

    drive(APPROVED, UPGRADE + dt.timedelta(hours=1), events={X_ACCEPTS: x_accepts_in_the_portal})

    # Both OEMs were reminded 2 days before the deadline, with an acceptance link.
    for slug in ("x", "y"):
        reminder = smtp_sink.to(f"partner@{slug}.test")[0]
        assert subjects([reminder]) == [
            "Reminder: Platform 2027.02 on 2027-02-10 10:00 CET (Europe/"
            + ("Berlin)" if slug == "x" else "Paris)")
        ]
        assert set(links_in(reminder)) == {"accept"}
        assert "Please accept this release until 2027-02-09 17:00 CET" in text_of(reminder)
    assert Message.objects.get(kind="reminder", contact=x_partner).delivered_at == REMINDER

    # Step 1: X accepted on 2027-02-08 -> upgraded on 2027-02-10 10:00 CET = 09:00 UTC.
    cx = Consent.objects.get(instance=x)
    assert (cx.state, cx.decided_at, cx.channel) == ("approved", X_ACCEPTS, "portal")
    up_x = step(f"i{x.pk}:upgrade")
    assert up_x.state == WorkState.DONE
    run = up_x.runs.get()  # started at the slot; the simulated executor takes 5 s
    assert (run.started_at, run.finished_at) == (UPGRADE, UPGRADE + dt.timedelta(seconds=5))
    x.refresh_from_db()
    assert x.current_version == "2027.02"

    # Step 2: Y was silent -> not touched, carried to 2027-03-10 10:00 CET, told the new date.
    cy = Consent.objects.get(instance=y, slot_date=dt.date(2027, 2, 10))
    assert (cy.state, cy.decided_at) == ("no_response", None)
    y.refresh_from_db()
    assert y.current_version == "2027.01"
    up_y = step(f"i{y.pk}:upgrade")
    assert (up_y.state, up_y.due_at) == (WorkState.PENDING, NEXT_UPGRADE)
    assert up_y.payload["carried_from"] == ["2027-02-10"]
    moved = [m for m in smtp_sink.to("partner@y.test") if "moved" in subjects([m])[0]]
    assert len(moved) == 1
    # Decided one second after the deadline (an answer at 17:00:00 still counts).
    told = Message.objects.get(kind="date_moved", contact=oem["y"]["partner"])
    assert told.delivered_at == DEADLINE + dt.timedelta(seconds=1)
    moved_text = text_of(moved[0])
    assert "New date: 2027-03-10 10:00 CET (Europe/Paris)" in moved_text
    assert "That is 2027-03-10 09:00 UTC." in moved_text
    assert "not accepted by the deadline 2027-02-09 17:00 CET" in moved_text
    assert set(links_in(moved[0])) == {"accept"}
    assert not smtp_sink.to("partner@x.test")[1:]  # X got nothing but its reminder

    # ... and reminded 2 days before the new deadline (2027-03-09 17:00 CET).
    assert step(f"i{y.pk}:reminder:2027-03-10").due_at == NEXT_REMINDER
    assert step(f"i{y.pk}:consent_deadline:2027-03-10").due_at == NEXT_DEADLINE
    drive(UPGRADE + dt.timedelta(hours=1), NEXT_REMINDER + dt.timedelta(minutes=5))
    y_mail = smtp_sink.to("partner@y.test")
    assert subjects(y_mail) == [
        "Reminder: Platform 2027.02 on 2027-02-10 10:00 CET (Europe/Paris)",
        "Your upgrade date moved: Platform 2027.02 now on 2027-03-10 10:00 CET (Europe/Paris)",
        "Reminder: Platform 2027.02 on 2027-03-10 10:00 CET (Europe/Paris)",
    ]
    assert Consent.objects.get(instance=y, slot_date=dt.date(2027, 3, 10)).state == "pending"
