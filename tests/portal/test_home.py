from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from releasedesk.catalog.models import Instance, Subscription
from releasedesk.portal import services

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, contact: Any) -> None:
    response = client.post(
        reverse("portal:link", kwargs={"token": services.make_sign_in_token(contact)})
    )
    assert response.status_code == 302


@pytest.fixture
def hosted_a(customer_a: Any, presenter: Any) -> Any:
    inst = Instance.objects.create(
        slug="school-a-hosted",
        name="School A hosted",
        kind="dedicated",
        product=presenter,
        owner=customer_a,
        current_version="5.2.1",
    )
    Subscription.objects.create(customer=customer_a, product=presenter, instance=inst)
    return inst


def test_home_needs_sign_in(client: Client) -> None:
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:login")


def test_home_shows_own_instances_with_versions(
    client: Client, a1: Any, hosted_a: Any, customer_b: Any
) -> None:
    _sign_in(client, a1)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "School A" in body
    assert "School A hosted" in body
    assert "5.2.1" in body
    assert "SaaS EU" in body
    assert "5.3.0" in body
    assert "Presenter" in body
    assert "School B" not in body
    assert "(Europe/Amsterdam)" in body


def test_instance_page(client: Client, a1: Any, hosted_a: Any) -> None:
    _sign_in(client, a1)
    response = client.get(reverse("portal:instance", kwargs={"pk": hosted_a.pk}))
    assert response.status_code == 200
    assert b"5.2.1" in response.content


def test_outsider_gets_404_for_another_customers_instance(
    client: Client, outsider_contact: Any, hosted_a: Any, saas_eu: Any
) -> None:
    _sign_in(client, outsider_contact)
    home = client.get(reverse("portal:home"))
    assert home.status_code == 200
    assert b"School A hosted" not in home.content
    assert b"School C" in home.content
    assert client.get(reverse("portal:instance", kwargs={"pk": hosted_a.pk})).status_code == 404
    assert client.get(reverse("portal:instance", kwargs={"pk": saas_eu.pk})).status_code == 404


def test_staff_session_is_not_a_portal_session(staff_client: Client, hosted_a: Any) -> None:
    assert staff_client.get(reverse("portal:home")).status_code == 302
