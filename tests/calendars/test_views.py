"""Staff calendar pages (month, week, htmx partial), the freeze page and feed-link pages."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from releasedesk.audit.models import AuditEvent
from releasedesk.calendars.models import ChangeFreeze, FeedKey
from releasedesk.catalog.models import Instance
from releasedesk.portal.auth import SESSION_KEY

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def cell(page: str, day: str) -> list[str]:
    """The entries of one day cell as 'when title' strings."""
    match = re.search(rf'data-date="{day}">(.*?)</td>', page, re.S)
    assert match, f"no cell for {day}"
    items = re.findall(r"<li [^>]*>(.*?)</li>", match.group(1), re.S)
    return [
        html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", i)).strip()) for i in items
    ]


@pytest.fixture
def viewer(client: Client, vendor_admin: Any, frozen_now: dt.datetime) -> Client:
    vendor_admin.timezone = "Europe/Amsterdam"
    vendor_admin.save()
    client.force_login(vendor_admin)
    return client


@pytest.fixture
def planned(
    frozen_now: dt.datetime, school_policy: Any, make_release: Any, make_step: Any, saas_eu: Any
) -> Any:
    release = make_release("5.4.0", dt.date(2027, 4, 1), title="Whiteboards")
    make_step(
        release, "upgrade", _utc(2027, 4, 1, 14), ends_at=_utc(2027, 4, 1, 20), instance=saas_eu
    )
    make_step(
        release,
        "stage_gate",
        _utc(2027, 3, 15, 8),
        ends_at=_utc(2027, 3, 29, 15),
        label="service acceptance",
    )
    return release


def test_month_view_exact_entries(viewer: Client, planned: Any) -> None:
    response = viewer.get("/calendar/month/2027/3/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "March 2027" in page
    assert "Times in <strong>Europe/Amsterdam</strong> (CET/CEST)" in page
    assert cell(page, "2027-03-15") == ["09:00-… 5.4.0: service acceptance"]
    assert cell(page, "2027-03-25") == [
        "all day 5.4.0: service acceptance",
        "16:00-22:00 maintenance window (school-saas)",
    ]
    # Cycles every 2 weeks on Wednesday from 2027-01-06: the 17th, not the 24th.
    assert cell(page, "2027-03-17") == [
        "all day 5.4.0: service acceptance",
        "10:00 production cycle (school-saas)",
    ]
    assert cell(page, "2027-03-24") == ["all day 5.4.0: service acceptance"]
    assert cell(page, "2027-03-29") == [
        "…-17:00 5.4.0: service acceptance",
        "all day Blackout: Tweede paasdag (NL public holiday)",
    ]
    assert cell(page, "2027-03-31") == ["10:00 production cycle (school-saas)"]
    # The grid runs Monday to Sunday: 1 March 2027 is a Monday, it ends on Sunday 4 April.
    assert cell(page, "2027-04-01") == [
        "all day Release 5.4.0 Whiteboards",
        "16:00-22:00 maintenance window (school-saas)",
        "16:00-22:00 Upgrade 5.4.0: 1 instance",
    ]
    assert 'data-date="2027-04-04"' in page
    assert 'data-date="2027-04-05"' not in page
    assert f'href="/releases/{planned.pk}/"' in page


def test_week_view_in_another_zone_and_htmx_partial(
    viewer: Client, vendor_admin: Any, planned: Any
) -> None:
    vendor_admin.timezone = "America/New_York"
    vendor_admin.save()
    response = viewer.get("/calendar/week/2027/13/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Week 13, 2027 (29 Mar - 04 Apr 2027)" in page
    assert "Times in <strong>America/New_York</strong> (EDT)" in page
    # 14:00 UTC is 10:00 in New York (EDT); the Amsterdam release day runs 18:00-18:00 here.
    assert cell(page, "2027-04-01") == [
        "…-18:00 Release 5.4.0 Whiteboards",
        "10:00-16:00 maintenance window (school-saas)",
        "10:00-16:00 Upgrade 5.4.0: 1 instance",
    ]
    assert cell(page, "2027-03-31") == [
        "04:00 production cycle (school-saas)",
        "18:00-… Release 5.4.0 Whiteboards",
    ]
    assert 'href="/calendar/week/2027/12/"' in page
    assert 'href="/calendar/week/2027/14/"' in page
    assert 'href="/calendar/month/2027/4/"' in page
    partial = viewer.get("/calendar/week/2027/13/", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="calendar"')
    assert "<html" not in body


def test_kind_filter(viewer: Client, planned: Any) -> None:
    page = viewer.get("/calendar/week/2027/13/?kind=upgrade").content.decode()
    assert cell(page, "2027-04-01") == ["16:00-22:00 Upgrade 5.4.0: 1 instance"]
    assert 'href="/calendar/week/2027/14/?kind=upgrade"' in page


def test_navigation_bounds_and_home(viewer: Client, frozen_now: dt.datetime) -> None:
    assert viewer.get("/calendar/")["Location"] == "/calendar/month/2027/3/"
    assert viewer.get("/calendar/month/2027/13/").status_code == 404
    assert viewer.get("/calendar/month/1999/1/").status_code == 404
    assert viewer.get("/calendar/week/2027/53/").status_code == 404  # 2027 has 52 ISO weeks
    assert viewer.get("/calendar/week/2026/53/").status_code == 200
    page = viewer.get("/calendar/month/2027/12/").content.decode()
    assert 'href="/calendar/month/2028/1/"' in page
    assert 'href="/calendar/month/2027/11/"' in page


def test_access(client: Client, a1: Any, frozen_now: dt.datetime) -> None:
    anonymous = client.get("/calendar/month/2027/3/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/login/?next=/calendar/month/2027/3/"
    session = client.session
    session[SESSION_KEY] = a1.pk
    session.save()
    for url in (
        "/calendar/month/2027/3/",
        "/calendar/week/2027/13/",
        "/calendar/freezes/",
        "/calendar/feed/",
        f"/calendar/customers/{a1.customer.pk}/feed/",
    ):
        assert client.get(url).status_code == 404, url


def test_query_count_does_not_grow_with_releases(
    viewer: Client,
    django_assert_max_num_queries: Any,
    school_policy: Any,
    make_release: Any,
    make_step: Any,
    presenter: Any,
    frozen_now: dt.datetime,
) -> None:
    def add(prefix: str, n: int) -> None:
        for i in range(n):
            release = make_release(f"{prefix}.{i}", dt.date(2027, 3, 1) + dt.timedelta(days=i % 28))
            for j in range(4):
                inst = Instance.objects.create(
                    slug=f"{prefix}-{i}-{j}",
                    name=f"{prefix} {i} {j}",
                    kind="dedicated",
                    product=presenter,
                )
                make_step(
                    release, "upgrade", _utc(2027, 3, 10, 15) + dt.timedelta(hours=j), instance=inst
                )
            make_step(release, "hypercare", _utc(2027, 3, 11), ends_at=_utc(2027, 3, 20))

    add("a", 1)
    with django_assert_max_num_queries(12):
        small = viewer.get("/calendar/month/2027/3/")
    add("b", 30)
    with django_assert_max_num_queries(12):
        big = viewer.get("/calendar/month/2027/3/")
    assert small.status_code == big.status_code == 200
    assert big.content.decode().count('data-kind="release"') == 31


def test_freeze_page_declare_in_local_time_and_lift(
    viewer: Client, vendor_admin: Any, frozen_now: dt.datetime, sso: Any
) -> None:
    response = viewer.post(
        "/calendar/freezes/",
        {
            "starts": "2027-03-28T02:30",
            "ends": "2027-03-29T00:00",
            "reason": "Easter",
            "products": [sso.pk],
        },
    )
    assert response.status_code == 302
    freeze = ChangeFreeze.objects.get()
    # 02:30 does not exist on 28 March in Amsterdam: it moves to 03:00 CEST = 01:00 UTC.
    assert freeze.starts_at == _utc(2027, 3, 28, 1, 0)
    assert freeze.ends_at == _utc(2027, 3, 28, 22, 0)
    assert list(freeze.products.all()) == [sso]
    page = viewer.get("/calendar/freezes/").content.decode()
    assert "2027-03-28 03:00 CEST (Europe/Amsterdam)" in page
    assert "2027-03-28 01:00 UTC" in page
    assert "Easter" in page
    assert (
        viewer.post(f"/calendar/freezes/{freeze.pk}/lift/", {"reason": "Not needed"}).status_code
        == 302
    )
    freeze.refresh_from_db()
    assert freeze.lifted_by == vendor_admin
    assert freeze.lift_reason == "Not needed"
    assert list(
        AuditEvent.objects.filter(scope="calendars.freeze")
        .order_by("id")
        .values_list("action", "actor_kind")
    ) == [
        ("freeze.declared", "staff"),
        ("freeze.lifted", "staff"),
    ]


def test_freeze_page_errors_change_nothing(viewer: Client, frozen_now: dt.datetime) -> None:
    response = viewer.post(
        "/calendar/freezes/",
        {"starts": "2027-05-02T00:00", "ends": "2027-05-01T00:00", "reason": "x"},
    )
    assert response.status_code == 422
    assert "the end must be after the start" in response.content.decode()
    missing = viewer.post(
        "/calendar/freezes/", {"starts": "2027-05-01T00:00", "ends": "2027-05-02T00:00"}
    )
    assert missing.status_code == 422
    assert ChangeFreeze.objects.count() == 0
    assert viewer.get("/calendar/freezes/").status_code == 200
    assert viewer.post("/calendar/freezes/999/lift/", {"reason": "x"}).status_code == 404


def test_feed_link_pages_revoke(
    viewer: Client, vendor_admin: Any, customer_a: Any, frozen_now: dt.datetime
) -> None:
    page = viewer.get("/calendar/feed/").content.decode()
    old = re.search(r'value="(http://testserver/calendar/feeds/staff/[^"]+)"', page)
    assert old
    assert viewer.post("/calendar/feed/").status_code == 302
    assert FeedKey.objects.get(user=vendor_admin).version == 2
    assert Client().get(old.group(1)).status_code == 404
    page = viewer.get(f"/calendar/customers/{customer_a.pk}/feed/").content.decode()
    link = re.search(r'value="(http://testserver/calendar/feeds/customers/[^"]+)"', page)
    assert link
    assert Client().get(link.group(1)).status_code == 200
    assert viewer.post(f"/calendar/customers/{customer_a.pk}/feed/").status_code == 302
    assert Client().get(link.group(1)).status_code == 404
    assert viewer.get("/calendar/customers/99999/feed/").status_code == 404
    assert (
        reverse("calendars:customer_feed_link", args=[customer_a.pk])
        == f"/calendar/customers/{customer_a.pk}/feed/"
    )


def test_month_across_a_clock_change_names_both_abbreviations(viewer: Client) -> None:
    page = viewer.get("/calendar/month/2027/3/").content.decode()
    assert "Times in <strong>Europe/Amsterdam</strong> (CET/CEST)" in page
    assert 'action="/calendar/month/2027/3/" hx-get="/calendar/month/2027/3/"' in page
    january = viewer.get("/calendar/month/2027/1/").content.decode()
    assert "Times in <strong>Europe/Amsterdam</strong> (CET)" in january
