"""iCal feeds, read back with vobject (a parser independent of the icalendar library that
writes them): exact DTSTART with TZID and the UTC instants, DST weeks in Europe/Amsterdam
and Australia/Lord_Howe, signatures (tampered, other customer, revoked) and scoping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import vobject  # type: ignore[import-untyped]
from django.core import signing
from django.test import Client
from django.urls import reverse

from releasedesk.calendars import feeds, services
from releasedesk.catalog.models import Customer, Instance
from releasedesk.core.context import Actor
from releasedesk.portal.auth import SESSION_KEY

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def _parse(body: bytes) -> Any:
    return vobject.readOne(body.decode("utf-8"))


def _tzid(prop: Any) -> str:
    """The TZID a date-time was written with. vobject moves it aside when it turns the value
    into a datetime whose tzinfo it builds from the feed's own VTIMEZONE (not zoneinfo)."""
    assert type(prop.value.tzinfo).__name__.endswith("tzicalvtz")
    tzid: str = prop.params["X-VOBJ-ORIGINAL-TZID"][0]
    return tzid


def _events(cal: Any) -> list[Any]:
    return sorted(cal.contents.get("vevent", []), key=lambda e: e.uid.value)


def _customer_url(customer: Customer) -> str:
    return reverse(
        "calendars:customer_feed", args=[customer.pk, feeds.make_token("customer", customer.pk)]
    )


@pytest.fixture
def release(make_release: Any) -> Any:
    return make_release("5.4.0", dt.date(2027, 3, 25), title="Whiteboards")


@pytest.fixture
def lord_howe(presenter: Any) -> tuple[Customer, Instance]:
    customer = Customer.objects.create(
        slug="lhi-school", name="LHI School", timezone="Australia/Lord_Howe"
    )
    instance = Instance.objects.create(
        slug="lhi-dedicated",
        name="LHI dedicated",
        kind="dedicated",
        product=presenter,
        owner=customer,
    )
    return customer, instance


def test_customer_feed_amsterdam_dst_week(
    frozen_now: dt.datetime, customer_a: Any, saas_eu: Any, release: Any, make_step: Any
) -> None:
    # Thursday 16:00-22:00 Amsterdam, the week before and the week after 28 March 2027.
    make_step(
        release, "upgrade", _utc(2027, 3, 25, 15), ends_at=_utc(2027, 3, 25, 21), instance=saas_eu
    )
    make_step(
        release, "upgrade", _utc(2027, 4, 1, 14), ends_at=_utc(2027, 4, 1, 20), instance=saas_eu
    )
    response = Client().get(_customer_url(customer_a))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = _parse(response.content)
    assert [tz.tzid.value for tz in cal.contents["vtimezone"]] == ["Europe/Amsterdam"]
    first, second = (e for e in sorted(cal.vevent_list, key=lambda e: e.dtstart.value))
    for event, local_start, local_end, utc_start in (
        (
            first,
            dt.datetime(2027, 3, 25, 16, 0),
            dt.datetime(2027, 3, 25, 22, 0),
            _utc(2027, 3, 25, 15),
        ),
        (
            second,
            dt.datetime(2027, 4, 1, 16, 0),
            dt.datetime(2027, 4, 1, 22, 0),
            _utc(2027, 4, 1, 14),
        ),
    ):
        assert _tzid(event.dtstart) == "Europe/Amsterdam"
        assert event.dtstart.value.replace(tzinfo=None) == local_start
        assert event.dtend.value.replace(tzinfo=None) == local_end
        # vobject builds the zone from our VTIMEZONE, so this checks the VTIMEZONE too.
        assert event.dtstart.value.astimezone(UTC) == utc_start
        assert event.dtend.value.astimezone(UTC) == utc_start + dt.timedelta(hours=6)
        assert event.summary.value == "Maintenance: Presenter upgrade to 5.4.0 (SaaS EU)"
    assert first.description.value == (
        "Presenter on SaaS EU is upgraded to version 5.4.0.\n"
        "Starts 2027-03-25 16:00 CET (Europe/Amsterdam) = 2027-03-25 15:00 UTC\n"
        "Ends 2027-03-25 22:00 CET (Europe/Amsterdam) = 2027-03-25 21:00 UTC"
    )
    assert "CEST" in second.description.value


def test_customer_feed_lord_howe_half_hour_dst(
    frozen_now: dt.datetime, lord_howe: tuple[Customer, Instance], release: Any, make_step: Any
) -> None:
    customer, instance = lord_howe
    # Lord Howe Island leaves summer time (UTC+11) for UTC+10:30 at 02:00 on 4 April 2027.
    make_step(
        release, "upgrade", _utc(2027, 4, 2, 23, 0), instance=instance, zone="Australia/Lord_Howe"
    )
    make_step(
        release, "upgrade", _utc(2027, 4, 4, 23, 30), instance=instance, zone="Australia/Lord_Howe"
    )
    cal = _parse(Client().get(_customer_url(customer)).content)
    events = sorted(cal.vevent_list, key=lambda e: e.dtstart.value)
    assert [_tzid(e.dtstart) for e in events] == ["Australia/Lord_Howe"] * 2
    assert [e.dtstart.value.replace(tzinfo=None) for e in events] == [
        dt.datetime(2027, 4, 3, 10, 0),
        dt.datetime(2027, 4, 5, 10, 0),
    ]
    assert [e.dtstart.value.astimezone(UTC) for e in events] == [
        _utc(2027, 4, 2, 23, 0),
        _utc(2027, 4, 4, 23, 30),
    ]
    assert [e.dtstart.value.utcoffset() for e in events] == [
        dt.timedelta(hours=11),
        dt.timedelta(hours=10, minutes=30),
    ]


def test_customer_feed_only_own_instances_and_no_internal_data(
    frozen_now: dt.datetime,
    customer_a: Any,
    customer_b: Any,
    saas_eu: Any,
    presenter: Any,
    release: Any,
    make_step: Any,
) -> None:
    b_only = Instance.objects.create(
        slug="b-dedicated",
        name="B dedicated",
        kind="dedicated",
        product=presenter,
        owner=customer_b,
    )
    release.changes.create(kind="feature", title="Boards", internal_note="SECRET-INTERNAL-NOTE")
    shared = make_step(
        release,
        "upgrade",
        _utc(2027, 3, 25, 15),
        instance=saas_eu,
        label="LABEL-INTERNAL",
        reason="REASON-INTERNAL",
    )
    b_step = make_step(release, "upgrade", _utc(2027, 3, 26, 15), instance=b_only)
    make_step(release, "upgrade", _utc(2027, 3, 27, 15), instance=saas_eu, state="superseded")
    make_step(release, "upgrade", _utc(2027, 2, 1, 15), instance=saas_eu)  # over a week ago
    make_step(release, "notice", _utc(2027, 3, 18, 15), instance=saas_eu)  # not maintenance
    body_a = Client().get(_customer_url(customer_a)).content
    body_b = Client().get(_customer_url(customer_b)).content
    uids_a = [e.uid.value for e in _events(_parse(body_a))]
    uids_b = [e.uid.value for e in _events(_parse(body_b))]
    assert uids_a == [f"maintenance-{shared.pk}@releasedesk"]
    assert uids_b == sorted(
        [f"maintenance-{shared.pk}@releasedesk", f"maintenance-{b_step.pk}@releasedesk"]
    )
    for secret in (b"SECRET-INTERNAL-NOTE", b"LABEL-INTERNAL", b"REASON-INTERNAL", b"Whiteboards"):
        assert secret not in body_a
        assert secret not in body_b
    # Customer B's feed is in Brussels time.
    b_event = next(
        e for e in _events(_parse(body_b)) if e.uid.value == f"maintenance-{b_step.pk}@releasedesk"
    )
    assert _tzid(b_event.dtstart) == "Europe/Brussels"
    assert b_event.dtstart.value.replace(tzinfo=None) == dt.datetime(2027, 3, 26, 16, 0)


def test_bad_tampered_foreign_and_revoked_tokens_are_404(
    frozen_now: dt.datetime, customer_a: Any, customer_b: Any, vendor_admin: Any
) -> None:
    client = Client()
    token_a = feeds.make_token("customer", customer_a.pk)
    url = lambda pk, token: reverse("calendars:customer_feed", args=[pk, token])  # noqa: E731
    assert client.get(url(customer_a.pk, token_a)).status_code == 200
    assert client.head(url(customer_a.pk, token_a)).status_code == 200
    assert client.post(url(customer_a.pk, token_a)).status_code == 405
    assert client.get(url(customer_b.pk, token_a)).status_code == 404  # another customer's token
    tampered = token_a[:-1] + ("A" if token_a[-1] != "A" else "B")
    assert client.get(url(customer_a.pk, tampered)).status_code == 404
    assert client.get(url(customer_a.pk, "nonsense")).status_code == 404
    forged = signing.dumps([customer_a.pk, 1], salt="another-salt")
    assert client.get(url(customer_a.pk, forged)).status_code == 404
    staff_token = feeds.make_token("staff", vendor_admin.pk)  # a staff token is no customer token
    assert client.get(url(vendor_admin.pk, staff_token)).status_code == 404
    assert (
        client.get(reverse("calendars:staff_feed", args=[customer_a.pk, token_a])).status_code
        == 404
    )
    # Revocation: a new key version makes the old link 404, the new one works.
    services.rotate_feed_key(actor=Actor(kind="staff", id=vendor_admin.pk), customer=customer_a)
    assert client.get(url(customer_a.pk, token_a)).status_code == 404
    assert (
        client.get(url(customer_a.pk, feeds.make_token("customer", customer_a.pk))).status_code
        == 200
    )


def test_internal_feed(
    frozen_now: dt.datetime,
    vendor_admin: Any,
    cto: Any,
    school_policy: Any,
    release: Any,
    make_step: Any,
    saas_eu: Any,
) -> None:
    vendor_admin.timezone = "Europe/Amsterdam"
    vendor_admin.save()
    services.declare_freeze(
        actor=Actor(kind="staff", id=vendor_admin.pk),
        declared_by=vendor_admin,
        starts_at=_utc(2027, 3, 30, 6),
        ends_at=_utc(2027, 3, 30, 18),
        reason="Data-centre move",
    )
    make_step(
        release, "upgrade", _utc(2027, 3, 25, 15), ends_at=_utc(2027, 3, 25, 21), instance=saas_eu
    )
    make_step(
        release, "hypercare", _utc(2027, 3, 24, 23), ends_at=_utc(2027, 4, 8, 22), label="Hypercare"
    )
    token = feeds.make_token("staff", vendor_admin.pk)
    url = reverse("calendars:staff_feed", args=[vendor_admin.pk, token])
    response = Client().get(url)
    assert response.status_code == 200
    cal = _parse(response.content)
    by_uid = {e.uid.value: e for e in cal.vevent_list}
    release_event = by_uid[f"release-{release.pk}@releasedesk"]
    assert release_event.dtstart.value == dt.date(2027, 3, 25)
    assert release_event.dtend.value == dt.date(2027, 3, 26)
    assert release_event.summary.value == "Release 5.4.0 Whiteboards"
    freeze = next(e for e in cal.vevent_list if e.uid.value.startswith("freeze-"))
    assert _tzid(freeze.dtstart) == "Europe/Amsterdam"
    assert freeze.dtstart.value.replace(tzinfo=None) == dt.datetime(2027, 3, 30, 8, 0)
    assert freeze.dtstart.value.astimezone(UTC) == _utc(2027, 3, 30, 6)
    assert freeze.dtend.value.astimezone(UTC) == _utc(2027, 3, 30, 18)
    upgrade = next(e for e in cal.vevent_list if e.uid.value.startswith("upgrade-"))
    assert upgrade.summary.value == "Upgrade 5.4.0: 1 instance"
    assert upgrade.dtstart.value.astimezone(UTC) == _utc(2027, 3, 25, 15)
    hypercare = next(e for e in cal.vevent_list if e.uid.value.startswith("step-"))
    assert (hypercare.dtstart.value, hypercare.dtend.value) == (
        dt.date(2027, 3, 25),
        dt.date(2027, 4, 9),
    )
    windows = sorted(
        e.dtstart.value.astimezone(UTC)
        for e in cal.vevent_list
        if e.uid.value.startswith("window-")
    )
    # 31 days back and 366 days ahead of 2027-03-01 09:00 UTC; 16:00 local all year long.
    assert windows[:3] == [_utc(2027, 2, 4, 15), _utc(2027, 2, 11, 15), _utc(2027, 2, 18, 15)]
    assert windows[-1] == _utc(2028, 2, 24, 15)
    assert _utc(2027, 4, 1, 14) in windows
    assert len(windows) == 56
    # Blackouts and cycles are on the page, not in the feed.
    assert not [e for e in cal.vevent_list if e.uid.value.startswith(("blackout-", "cycle-"))]
    # A user that is no longer staff, or a revoked link: 404.
    services.rotate_feed_key(actor=Actor(kind="staff", id=vendor_admin.pk), user=vendor_admin)
    assert Client().get(url).status_code == 404
    cto_url = reverse("calendars:staff_feed", args=[cto.pk, feeds.make_token("staff", cto.pk)])
    assert Client().get(cto_url).status_code == 200
    cto.is_staff = False
    cto.save()
    assert Client().get(cto_url).status_code == 404


def test_portal_subscribe_page_shows_own_link_and_maintenance(
    frozen_now: dt.datetime,
    a1: Any,
    customer_b: Any,
    presenter: Any,
    saas_eu: Any,
    release: Any,
    make_step: Any,
) -> None:
    b_only = Instance.objects.create(
        slug="b-dedicated",
        name="B dedicated",
        kind="dedicated",
        product=presenter,
        owner=customer_b,
    )
    make_step(release, "upgrade", _utc(2027, 3, 25, 15), instance=saas_eu)
    make_step(release, "upgrade", _utc(2027, 3, 26, 15), instance=b_only)
    client = Client()
    assert client.get(reverse("calendars:subscribe")).status_code == 302  # not signed in
    session = client.session
    session[SESSION_KEY] = a1.pk
    session.save()
    response = client.get(reverse("calendars:subscribe"))
    assert response.status_code == 200
    html = response.content.decode()
    expected = "http://testserver" + _customer_url(a1.customer)
    assert f'value="{expected}"' in html
    assert (
        '2027-03-25 16:00 CET (Europe/Amsterdam) · <span class="muted">2027-03-25 15:00 UTC</span> — Presenter upgrade to 5.4.0 (SaaS EU)'
        in html
    )
    assert "B dedicated" not in html
    assert str(customer_b.pk) + "/" not in html.split("feeds/customers/")[1][:12]
    # Staff pages are not for contacts: 404.
    assert client.get(reverse("calendars:home")).status_code == 404
    assert (
        client.get(reverse("calendars:customer_feed_link", args=[a1.customer.pk])).status_code
        == 404
    )
