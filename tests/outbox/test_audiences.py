"""Audiences computed from the catalogue: exact recipients and the reason each got it."""

from __future__ import annotations

from typing import Any

import pytest

from releasedesk.accounts.models import Team
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.core.errors import ValidationFailed
from releasedesk.outbox import audiences
from releasedesk.outbox.audiences import Audience, audience_health

pytestmark = pytest.mark.django_db


def _whys(audience: Audience) -> list[tuple[str, str]]:
    return [(r.email, r.why) for r in audience.recipients]


# --- S1: school SaaS on a shared instance ---------------------------------------------------


def test_s1_affected_org_admins_are_a1_a2_b1_not_c(
    presenter: Any, saas_eu: Any, customer_a: Any, customer_b: Any, customer_c: Any
) -> None:
    audience = audiences.affected_org_admins([presenter], [saas_eu])
    assert _whys(audience) == [
        ("a1@school-a.test", "admin of School A, which uses Presenter on saas-eu"),
        ("a2@school-a.test", "admin of School A, which uses Presenter on saas-eu"),
        ("b1@school-b.test", "admin of School B, which uses Presenter on saas-eu"),
    ]
    assert audience.skipped == []
    # The recipient's zone and locale come from the contact, else the customer.
    assert [(r.zone, r.locale) for r in audience.recipients] == [
        ("Europe/Amsterdam", "en"),
        ("Europe/Amsterdam", "en"),
        ("Europe/Brussels", "en"),
    ]
    assert audiences.resolve(
        "affected_org_admins", products=[presenter], instances=[saas_eu]
    ).emails == ["a1@school-a.test", "a2@school-a.test", "b1@school-b.test"]


def test_unreachable_and_erased_contacts_are_skipped_and_reported(
    presenter: Any, saas_eu: Any, customer_a: Any, customer_b: Any
) -> None:
    Contact.objects.filter(email="a2@school-a.test").update(
        reachable=False, unreachable_reason="550 no such user"
    )
    b1 = Contact.objects.get(email="b1@school-b.test")
    Contact.objects.filter(pk=b1.pk).update(erased_at="2027-01-01T00:00:00Z")
    audience = audiences.affected_org_admins([presenter], [saas_eu])
    assert audience.emails == ["a1@school-a.test"]
    assert [(s.contact.email, s.problem) for s in audience.skipped] == [
        ("a2@school-a.test", "unreachable: 550 no such user"),
        ("b1@school-b.test", "erased"),
    ]


def test_non_admin_contacts_and_other_instances_are_not_org_admins(
    presenter: Any, saas_eu: Any, customer_a: Any
) -> None:
    Contact.objects.create(
        customer=customer_a, name="Tom Tech", email="tom@school-a.test", roles=["technical"]
    )
    saas_us = Instance.objects.create(
        slug="saas-us", name="SaaS US", kind="shared", product=presenter
    )
    other = Customer.objects.create(slug="school-d", name="School D", timezone="America/Chicago")
    Contact.objects.create(customer=other, name="Dan", email="d1@school-d.test", roles=["admin"])
    Subscription.objects.create(customer=other, product=presenter, instance=saas_us)
    assert audiences.affected_org_admins([presenter], [saas_eu]).emails == [
        "a1@school-a.test",
        "a2@school-a.test",
    ]
    # Without an instance restriction: every customer using the product.
    assert audiences.resolve("customers", products=[presenter]).emails == [
        "a1@school-a.test",
        "a2@school-a.test",
        "d1@school-d.test",
    ]


def test_s1_audience_health_names_a_customer_with_no_reachable_admin(
    presenter: Any, saas_eu: Any, customer_a: Any, customer_b: Any, customer_c: Any
) -> None:
    assert audience_health(products=[presenter], instances=[saas_eu]) == []
    Contact.objects.filter(email="b1@school-b.test").update(reachable=False)
    [problem] = audience_health(products=[presenter], instances=[saas_eu])
    assert (problem.code, problem.customer.slug) == ("no_reachable_admin", "school-b")
    assert problem.message == (
        "School B has no reachable admin: all 1 admin contact(s) are unreachable or erased. "
        "Add or fix an admin contact before the notice is due."
    )
    empty = Customer.objects.create(slug="school-e", name="School E")
    [none] = audience_health(customers=[empty])
    assert none.message == "School E has no admin contact. Add one before the notice is due."


# --- S2: OEM white-label ---------------------------------------------------------------------


@pytest.fixture
def oem_catalogue(db: None) -> dict[str, Any]:
    platform = Product.objects.create(slug="platform", name="Platform")
    vendor_prod = Instance.objects.create(
        slug="vendor-prod", name="Vendor production", kind="shared", product=platform
    )
    out: dict[str, Any] = {"product": platform, "vendor_prod": vendor_prod}
    for letter, zone in (("x", "Europe/Berlin"), ("y", "Europe/Vienna")):
        oem = Customer.objects.create(
            slug=f"oem-{letter}", name=f"OEM {letter.upper()}", kind="oem_partner", timezone=zone
        )
        Contact.objects.create(
            customer=oem, name=f"P{letter}", email=f"p@oem-{letter}.test", roles=["oem_partner"]
        )
        Contact.objects.create(
            customer=oem, name=f"B{letter}", email=f"billing@oem-{letter}.test", roles=["billing"]
        )
        out[f"wl_{letter}"] = Instance.objects.create(
            slug=f"wl-{letter}",
            name=f"WL {letter}",
            kind="white_label",
            product=platform,
            owner=oem,
        )
        out[f"oem_{letter}"] = oem
    return out


def test_s2_oem_partner_contacts_of_the_white_label_instances(
    oem_catalogue: dict[str, Any],
) -> None:
    audience = audiences.oem_partner_contacts([oem_catalogue["wl_x"], oem_catalogue["wl_y"]])
    assert _whys(audience) == [
        ("p@oem-x.test", "OEM partner contact of OEM X (white-label instance wl-x)"),
        ("p@oem-y.test", "OEM partner contact of OEM Y (white-label instance wl-y)"),
    ]
    only_x = audiences.oem_partner_contacts([oem_catalogue["wl_x"], oem_catalogue["vendor_prod"]])
    assert only_x.emails == ["p@oem-x.test"]
    everyone = audiences.resolve("oem_partner_contacts")
    assert _whys(everyone) == [
        ("p@oem-x.test", "OEM partner contact of OEM X"),
        ("p@oem-y.test", "OEM partner contact of OEM Y"),
    ]


def test_s2_oem_without_reachable_partner_contact_is_a_health_problem(
    oem_catalogue: dict[str, Any],
) -> None:
    Contact.objects.filter(email="p@oem-y.test").update(reachable=False)
    problems = audience_health(
        products=[oem_catalogue["product"]],
        instances=[oem_catalogue["wl_x"], oem_catalogue["wl_y"]],
    )
    assert [(p.customer.slug, p.code) for p in problems] == [("oem-y", "no_reachable_admin")]


# --- S3: hosted dedicated instances ---------------------------------------------------------


def test_s3_instance_contacts_of_dedicated_instances(presenter: Any) -> None:
    hosted = Customer.objects.create(
        slug="hosted-co", name="Hosted Co", kind="hosted", timezone="Europe/London", locale="nl"
    )
    Contact.objects.create(customer=hosted, name="Ada", email="ada@hosted.test", roles=["admin"])
    Contact.objects.create(
        customer=hosted, name="Ted", email="ted@hosted.test", roles=["technical"], locale="de"
    )
    Contact.objects.create(
        customer=hosted, name="Bill", email="bill@hosted.test", roles=["billing"]
    )
    dedicated = Instance.objects.create(
        slug="hosted-1", name="Hosted 1", kind="dedicated", product=presenter, owner=hosted
    )
    shared = Instance.objects.create(
        slug="shared-1", name="Shared", kind="shared", product=presenter
    )
    audience = audiences.resolve("instance_contacts", instances=[dedicated, shared])
    assert _whys(audience) == [
        (
            "ada@hosted.test",
            "organisation admin of Hosted Co, which owns dedicated instance hosted-1 (Presenter)",
        ),
        (
            "ted@hosted.test",
            "technical contact of Hosted Co, which owns dedicated instance hosted-1 (Presenter)",
        ),
    ]
    assert [(r.locale, r.zone) for r in audience.recipients] == [
        ("nl", "Europe/London"),
        ("de", "Europe/London"),
    ]


# --- S4: resellers and, through them, their customers ----------------------------------------


def test_resellers_and_their_customers(presenter: Any, saas_eu: Any) -> None:
    r1 = Customer.objects.create(slug="r1", name="Reseller One", kind="reseller")
    Contact.objects.create(customer=r1, name="Rita", email="rita@r1.test", roles=["reseller"])
    c2 = Customer.objects.create(slug="c2", name="Customer Two", parent=r1)
    Contact.objects.create(customer=c2, name="Carl", email="carl@c2.test", roles=["admin"])
    Subscription.objects.create(customer=c2, product=presenter, instance=saas_eu)
    c3 = Customer.objects.create(slug="c3", name="Customer Three", parent=r1)
    Contact.objects.create(customer=c3, name="Cleo", email="cleo@c3.test", roles=["admin"])

    assert _whys(audiences.resolve("resellers")) == [
        ("rita@r1.test", "reseller contact of Reseller One")
    ]
    assert _whys(audiences.resellers(include_customers=True)) == [
        ("rita@r1.test", "reseller contact of Reseller One"),
        ("cleo@c3.test", "admin of Customer Three, a customer of reseller Reseller One"),
        ("carl@c2.test", "admin of Customer Two, a customer of reseller Reseller One"),
    ]
    # Restricted to customers using the product.
    assert audiences.resolve("resellers_and_customers", products=[presenter]).emails == [
        "rita@r1.test",
        "carl@c2.test",
    ]


def test_a_person_reached_twice_gets_one_entry_with_both_reasons(
    presenter: Any, saas_eu: Any, customer_a: Any
) -> None:
    dedicated = Instance.objects.create(
        slug="a-own", name="A own", kind="dedicated", product=presenter, owner=customer_a
    )
    merged = audiences.merge(
        [
            audiences.affected_org_admins([presenter], [saas_eu]),
            audiences.instance_contacts([dedicated]),
        ]
    )
    assert [r.email for r in merged.recipients] == ["a1@school-a.test", "a2@school-a.test"]
    assert merged.recipients[0].why == (
        "admin of School A, which uses Presenter on saas-eu; "
        "organisation admin of School A, which owns dedicated instance a-own (Presenter)"
    )


# --- internal audiences -----------------------------------------------------------------------


def test_staff_by_role_team_and_all(
    vendor_admin: Any, product_manager: Any, cto: Any, roles: dict[str, Any]
) -> None:
    assert _whys(audiences.resolve("role:cto")) == [("cto@vendor.test", "staff with role cto")]
    team = Team.objects.create(slug="leads", name="Leads")
    team.members.set([cto, product_manager])
    assert _whys(audiences.resolve("team:leads")) == [
        ("cto@vendor.test", "member of team Leads"),
        ("pm@vendor.test", "member of team Leads"),
    ]
    assert audiences.resolve("internal").emails == [
        "admin@vendor.test",
        "cto@vendor.test",
        "pm@vendor.test",
    ]
    with pytest.raises(ValidationFailed, match="unknown audience 'everyone'"):
        audiences.resolve("everyone")
    with pytest.raises(ValidationFailed, match="unknown team 'nobody'"):
        audiences.resolve("team:nobody")


def test_restrict_to_the_planners_contact_ids_keeps_reasons(
    presenter: Any, saas_eu: Any, customer_a: Any, customer_b: Any
) -> None:
    b1 = Contact.objects.get(email="b1@school-b.test")
    a1 = Contact.objects.get(email="a1@school-a.test")
    audience = audiences.restrict(
        audiences.affected_org_admins([presenter], [saas_eu]), [a1.pk, b1.pk]
    )
    assert _whys(audience) == [
        ("a1@school-a.test", "admin of School A, which uses Presenter on saas-eu"),
        ("b1@school-b.test", "admin of School B, which uses Presenter on saas-eu"),
    ]
