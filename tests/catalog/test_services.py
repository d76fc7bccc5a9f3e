from __future__ import annotations

from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.audit.services import REDACTED_CHANGED
from releasedesk.catalog import services
from releasedesk.catalog.models import Contact, Customer, Instance, Subscription
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, int, int, int, int]:
    return (
        Customer.objects.count(),
        Contact.objects.count(),
        Instance.objects.count(),
        Subscription.objects.count(),
        AuditEvent.objects.count(),
    )


def test_create_customer_audited(actor: Actor) -> None:
    c = services.create_customer(
        actor=actor,
        slug="acme",
        name="Acme",
        timezone="Asia/Kolkata",
        locale="nl",
        contract_overrides={"notice_lead_hours": 72},
    )
    assert c.timezone == "Asia/Kolkata"
    assert c.contract_overrides == {"notice_lead_hours": 72, "notes": ""}
    event = AuditEvent.objects.get(action="catalog.customer.create")
    assert event.object_id == str(c.pk)
    assert event.after is not None
    assert event.after["slug"] == "acme"
    assert (event.actor_kind, event.actor_id) == ("staff", actor.id)


def test_bad_customer_reports_every_field_and_changes_nothing(
    actor: Actor, customer_a: Any
) -> None:
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.create_customer(
            actor=actor,
            slug="bad slug!",
            name="X",
            kind="martian",
            timezone="Europe/Amsterdamm",
            locale="fr",
            contract_overrides={
                "window": {"weekday": "thursday", "from": "16:00", "to": "25:00"},
                "bogus": 1,
            },
        )
    fields = exc.value.fields
    assert set(fields) >= {
        "slug",
        "kind",
        "timezone",
        "locale",
        "contract_overrides.window.to",
        "contract_overrides.bogus",
    }
    assert "Europe/Amsterdamm" in fields["timezone"]
    assert _state() == before


def test_update_customer_bad_zone_changes_nothing(actor: Actor, customer_a: Any) -> None:
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.update_customer(
            actor=actor, customer=customer_a, name="New name", timezone="Mars/Base"
        )
    assert set(exc.value.fields) == {"timezone"}
    customer_a.refresh_from_db()
    assert (customer_a.name, customer_a.timezone) == ("School A", "Europe/Amsterdam")
    assert _state() == before


def test_update_customer_diff(actor: Actor, customer_a: Any) -> None:
    services.update_customer(
        actor=actor, customer=customer_a, timezone="Europe/London", name="School A"
    )
    event = AuditEvent.objects.get(action="catalog.customer.update")
    assert event.before == {"timezone": "Europe/Amsterdam"}
    assert event.after == {"timezone": "Europe/London"}


def test_unknown_field_rejected(actor: Actor, customer_a: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.update_customer(actor=actor, customer=customer_a, colour="red")
    assert "colour" in exc.value.fields


def test_parent_must_be_reseller(actor: Actor, customer_a: Any, customer_b: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.update_customer(actor=actor, customer=customer_a, parent=customer_b)
    assert "not a reseller" in exc.value.fields["parent"]
    customer_a.refresh_from_db()
    assert customer_a.parent_id is None


def test_customer_cannot_be_own_ancestor(actor: Actor, reseller: Any) -> None:
    sub = services.create_customer(
        actor=actor, slug="sub-reseller", name="Sub", kind="reseller", parent=reseller
    )
    with pytest.raises(ValidationFailed) as exc:
        services.update_customer(actor=actor, customer=reseller, parent=sub)
    assert "own ancestor" in exc.value.fields["parent"]
    with pytest.raises(ValidationFailed) as exc:
        services.update_customer(actor=actor, customer=reseller, parent=reseller)
    assert "own ancestor" in exc.value.fields["parent"]
    reseller.refresh_from_db()
    assert reseller.parent_id is None


def test_reseller_with_children_keeps_kind(actor: Actor, reseller: Any) -> None:
    services.create_customer(actor=actor, slug="child", name="Child", parent=reseller)
    with pytest.raises(ValidationFailed) as exc:
        services.update_customer(actor=actor, customer=reseller, kind="direct")
    assert "kind" in exc.value.fields


def test_contact_validation(actor: Actor, customer_a: Any) -> None:
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.create_contact(
            actor=actor,
            customer=customer_a,
            name="Zed",
            email="not-an-address",
            roles=["admin", "king"],
            locale="xx",
            timezone="Nowhere/City",
        )
    assert set(exc.value.fields) == {"email", "roles", "locale", "timezone"}
    assert _state() == before


def test_contact_duplicate_email(actor: Actor, customer_a: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.create_contact(
            actor=actor, customer=customer_a, name="Dup", email="A1@School-A.test"
        )
    assert "__all__" in exc.value.fields or "email" in exc.value.fields


def test_contact_audit_has_no_personal_data(actor: Actor, customer_a: Any) -> None:
    c = services.create_contact(
        actor=actor,
        customer=customer_a,
        name="Zoe Private",
        email="zoe@school-a.test",
        roles=["technical"],
    )
    services.update_contact(
        actor=actor, contact=c, name="Zoe Public", email="zoe2@school-a.test", roles=["admin"]
    )
    events = AuditEvent.objects.filter(object_type="catalog.contact")
    text = repr([(e.before, e.after) for e in events])
    assert "Zoe" not in text
    assert "zoe" not in text
    update = events.get(action="catalog.contact.update")
    assert update.after == {"name": REDACTED_CHANGED, "email": REDACTED_CHANGED, "roles": ["admin"]}


def test_erase_contact(actor: Actor, a1: Any) -> None:
    erased = services.erase_contact(actor=actor, contact=a1)
    assert erased.email == f"erased-{a1.pk}@invalid"
    assert erased.name == services.ERASED_NAME
    assert erased.timezone == ""
    assert erased.reachable is False
    assert erased.erased_at is not None
    event = AuditEvent.objects.get(action="catalog.contact.erase")
    assert "school-a.test" not in repr((event.before, event.after))
    with pytest.raises(Conflict):
        services.erase_contact(actor=actor, contact=a1)
    with pytest.raises(Conflict):
        services.update_contact(actor=actor, contact=a1, name="Back")


def test_subscription_product_must_match_instance(
    actor: Actor, customer_c: Any, saas_eu: Any
) -> None:
    other = services.create_product(actor=actor, slug="sso", name="SSO")
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.create_subscription(
            actor=actor, customer=customer_c, product=other, instance=saas_eu
        )
    assert "runs product 'presenter'" in exc.value.fields["instance"]
    assert _state() == before


def test_subscription_create_delete(actor: Actor, customer_c: Any, saas_eu: Any) -> None:
    sub = services.create_subscription(
        actor=actor, customer=customer_c, product=saas_eu.product, instance=saas_eu
    )
    with pytest.raises(ValidationFailed):
        services.create_subscription(
            actor=actor, customer=customer_c, product=saas_eu.product, instance=saas_eu
        )
    services.delete_subscription(actor=actor, subscription=sub)
    assert not Subscription.objects.filter(pk=sub.pk).exists()
    assert AuditEvent.objects.filter(action="catalog.subscription.delete").count() == 1


def test_instance_executor_validation(actor: Actor, presenter: Any) -> None:
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.create_instance(
            actor=actor,
            slug="ded-1",
            name="Dedicated 1",
            kind="dedicated",
            product=presenter,
            timezone="Europe/Londn",
            executor={"kind": "simulated", "failure_rate": 1.5},
            window_override={"weekday": "funday", "from": "16:00", "to": "22:00"},
        )
    assert set(exc.value.fields) == {"timezone", "executor.failure_rate", "window_override.weekday"}
    assert _state() == before
    inst = services.create_instance(
        actor=actor,
        slug="ded-1",
        name="Dedicated 1",
        kind="dedicated",
        product=presenter,
        executor={
            "kind": "webhook",
            "url": "https://cd.example.test/hook",
            "secret_ref": "env:CD_SECRET",
        },
        window_override={
            "weekday": "thursday",
            "from": "16:00",
            "to": "22:00",
            "zone": "Europe/Amsterdam",
        },
    )
    assert inst.executor["kind"] == "webhook"
    assert inst.window_override == {
        "weekday": "thursday",
        "from": "16:00",
        "to": "22:00",
        "zone": "Europe/Amsterdam",
    }
    with pytest.raises(ValidationFailed) as exc:
        services.update_instance(actor=actor, instance=inst, executor={"kind": "teleport"})
    assert "executor.kind" in exc.value.fields


def test_scoping(a1: Any, customer_b: Any, outsider_contact: Any, saas_eu: Any) -> None:
    assert list(Customer.objects.for_user(a1)) == [a1.customer]
    assert set(Contact.objects.for_user(a1).values_list("email", flat=True)) == {
        "a1@school-a.test",
        "a2@school-a.test",
    }
    assert list(Instance.objects.for_user(a1)) == [saas_eu]
    assert list(Instance.objects.for_user(outsider_contact)) == []
    assert Subscription.objects.for_user(a1).get().customer == a1.customer
    from releasedesk.catalog.models import Product

    assert list(Product.objects.for_user(a1)) == [saas_eu.product]
    assert list(Product.objects.for_user(outsider_contact)) == []
    assert list(Customer.objects.for_user(None)) == []
