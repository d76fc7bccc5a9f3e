"""The staff audit page /audit/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.urls import reverse

from releasedesk.audit.models import AuditEvent
from releasedesk.audit.services import DENIED_ACTION, record
from releasedesk.core.context import Actor

pytestmark = pytest.mark.django_db

URL = "/audit/"


@pytest.fixture
def events() -> list[AuditEvent]:
    made = []
    # 2027-03-28 is the spring-forward day in Europe/Amsterdam.
    for instant, action in [
        (dt.datetime(2027, 3, 27, 23, 30, tzinfo=dt.UTC), "catalog.customer_created"),
        (dt.datetime(2027, 3, 28, 12, 0, tzinfo=dt.UTC), "catalog.customer_updated"),
    ]:
        with time_machine.travel(instant, tick=False), transaction.atomic():
            made.append(
                record(
                    actor=Actor(kind="staff", id=1),
                    action=action,
                    scope="catalog.customer:1",
                    before={"timezone": "UTC", "locale": "en"} if "updated" in action else None,
                    after={"timezone": "Europe/Amsterdam", "locale": "en"},
                )
            )
    return made


@pytest.fixture
def amsterdam_staff(staff_client: Client, vendor_admin: Any) -> Client:
    vendor_admin.timezone = "Europe/Amsterdam"
    vendor_admin.save(update_fields=["timezone"])
    return staff_client


def test_url_name() -> None:
    assert reverse("audit:event_list") == URL


def test_page_shows_times_in_utc_and_the_viewers_zone(
    amsterdam_staff: Client, events: list[AuditEvent]
) -> None:
    response = amsterdam_staff.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "2027-03-27 23:30 UTC" in html
    assert "2027-03-28 00:30 CET (Europe/Amsterdam)" in html
    assert "2027-03-28 12:00 UTC" in html
    assert "2027-03-28 14:00 CEST (Europe/Amsterdam)" in html
    assert "2 events" in html
    assert "From (Europe/Amsterdam)" in html


def test_diff_marks_changed_keys(amsterdam_staff: Client, events: list[AuditEvent]) -> None:
    html = amsterdam_staff.get(f"{URL}?action=catalog.customer_updated").content.decode()
    assert '<tr class="changed">\n          <th>timezone</th>' in html
    assert "<del>&quot;UTC&quot;</del>" in html
    assert "<ins>&quot;Europe/Amsterdam&quot;</ins>" in html
    assert '<tr class="same">\n          <th>locale</th>' in html


def test_date_filter_uses_the_viewers_local_dates(
    amsterdam_staff: Client, events: list[AuditEvent]
) -> None:
    # 23:30 UTC on 27 March is 00:30 on 28 March in Amsterdam: both events are on the 28th.
    html = amsterdam_staff.get(f"{URL}?date_from=2027-03-28&date_to=2027-03-28").content.decode()
    assert "2 events" in html
    html = amsterdam_staff.get(f"{URL}?date_to=2027-03-27").content.decode()
    assert "0 events" in html


def test_filters(amsterdam_staff: Client, events: list[AuditEvent]) -> None:
    html = amsterdam_staff.get(f"{URL}?action=catalog.customer_created").content.decode()
    assert "1 event<" in html
    assert f'id="event-{events[0].pk}"' in html
    rid = events[1].request_id
    html = amsterdam_staff.get(
        f"{URL}?request_id={rid}&actor_kind=staff&actor_id=1"
    ).content.decode()
    assert f'id="event-{events[1].pk}"' in html


def test_bad_filter_shows_the_error(amsterdam_staff: Client, events: list[AuditEvent]) -> None:
    response = amsterdam_staff.get(f"{URL}?date_from=2027-03-29&date_to=2027-03-28&actor_id=-4")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Must not be before the start date." in html
    assert "0 events" in html


def test_htmx_gets_the_partial(amsterdam_staff: Client, events: list[AuditEvent]) -> None:
    response = amsterdam_staff.get(URL, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<form" not in html
    assert '<table class="audit-events">' in html


def test_pagination(amsterdam_staff: Client, django_assert_max_num_queries: Any) -> None:
    with transaction.atomic():
        for i in range(120):
            record(actor=Actor(kind="system"), action="t.bulk", scope=f"s:{i}")
    with django_assert_max_num_queries(8):
        html = amsterdam_staff.get(f"{URL}?action=t.bulk&page=2").content.decode()
    assert "Page 2 of 3" in html
    assert "action=t.bulk&amp;page=3" in html
    assert html.count('<tr id="event-') == 50
    assert amsterdam_staff.get(f"{URL}?page=999").status_code == 200


def test_anonymous_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/audit/")


def test_outsider_contact_gets_404_and_is_audited_with_the_request_id(
    outsider_client: Client, outsider_contact: Any
) -> None:
    response = outsider_client.get(URL)
    assert response.status_code == 404
    denied = AuditEvent.objects.get(action=DENIED_ACTION)
    assert (denied.actor_kind, denied.actor_id) == ("contact", outsider_contact.pk)
    assert denied.request_id == response["X-Request-ID"]
    assert denied.after == {"attempted": "audit.page.view"}


def test_nonstaff_user_gets_404(client: Client, nonstaff_user: Any) -> None:
    client.force_login(nonstaff_user)
    assert client.get(URL).status_code == 404
