from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from releasedesk.portal.auth import SESSION_KEY
from releasedesk.releases.models import Release

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_create_assess_and_approve_through_the_pages(
    school_saas: Any, presenter: Any, product_manager: Any, cto: Any, second_pm: Any
) -> None:
    pm = _client(product_manager)
    assert pm.get(reverse("releases:create")).status_code == 200
    response = pm.post(
        reverse("releases:create"),
        {
            "policy": "school-saas",
            "products": ["presenter"],
            "version": "5.4.0",
            "title": "Whiteboards",
            "target_date": "2027-04-01",
            "kind": "regular",
            "changes": "### Database\n- Split the sessions table\n",
        },
    )
    release = Release.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("releases:detail", args=[release.pk])
    response = pm.post(
        reverse("releases:assess", args=[release.pk]),
        {"impact": "1", "likelihood": "1", "stakeholders": ["cto"], "rationale": "Small"},
    )
    assert response.status_code == 302
    page = pm.get(reverse("releases:detail", args=[release.pk])).content.decode()
    assert "Database changes carry higher operational risk" in page
    assert 'data-testid="level">medium<' in page
    assert "Approve as" not in page  # the creator never gets an approve button
    page2 = _client(second_pm).get(reverse("releases:detail", args=[release.pk])).content.decode()
    assert "Approve as product_manager" in page2
    assert "Approve as cto" not in page2
    _client(second_pm).post(
        reverse("releases:approve", args=[release.pk]), {"role": "product_manager", "comment": "ok"}
    )
    assert Release.objects.get().status == "approved"
    # An edit of the date voids the approval, and the page says so.
    response = pm.post(
        reverse("releases:edit", args=[release.pk]),
        {
            "products": ["presenter"],
            "version": "5.4.0",
            "title": "Whiteboards",
            "target_date": "2027-04-08",
            "kind": "regular",
            "changes": "### Database\n- Split the sessions table\n",
        },
        follow=True,
    )
    text = response.content.decode()
    assert "Approvals voided because the target date changed (2027-04-01 → 2027-04-08)" in text
    assert Release.objects.get().status == "assessed"


def test_approve_without_role_shows_the_error(
    make_release: Any, product_manager: Any, cto: Any
) -> None:
    from releasedesk.releases.services import assess_release, staff_actor

    release = make_release()
    assess_release(
        release=release,
        actor=staff_actor(product_manager),
        assessor=product_manager,
        impact=1,
        likelihood=1,
    )
    response = _client(cto).post(
        reverse("releases:approve", args=[release.pk]), {"role": "product_manager"}, follow=True
    )
    assert "cto does not hold the role &#x27;product_manager&#x27;" in response.content.decode()
    assert Release.objects.get().status == "assessed"


def test_transition_errors_are_shown(make_release: Any, product_manager: Any) -> None:
    release = make_release()
    response = _client(product_manager).post(
        reverse("releases:transition", args=[release.pk, "complete"]), follow=True
    )
    assert (
        "Cannot move from &#x27;draft&#x27; to &#x27;completed&#x27;" in response.content.decode()
    )
    assert (
        _client(product_manager)
        .get(reverse("releases:transition", args=[release.pk, "cancel"]))
        .status_code
        == 405
    )
    assert Release.objects.get().status == "draft"


def test_board_groups_by_status_with_constant_queries(
    make_release: Any, product_manager: Any
) -> None:
    client = _client(product_manager)
    make_release("1.0.0")
    client.get(reverse("releases:board"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("releases:board"))
    for i in range(6):
        make_release(f"1.1.{i}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("releases:board"))
    assert len(many.captured_queries) <= len(few.captured_queries)
    assert response.status_code == 200
    assert 'data-status="draft"' in response.content.decode()
    assert "1.1.5" in response.content.decode()


def test_outsider_contact_gets_404_and_anonymous_signs_in(
    make_release: Any, outsider_contact: Any
) -> None:
    release = make_release()
    client = Client()
    session = client.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    assert client.get(reverse("releases:detail", args=[release.pk])).status_code == 404
    assert client.get(reverse("releases:board")).status_code == 404
    assert (
        client.post(reverse("releases:transition", args=[release.pk, "cancel"])).status_code == 404
    )
    anonymous = Client().get(reverse("releases:detail", args=[release.pk]))
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    assert Release.objects.get().status == "draft"
