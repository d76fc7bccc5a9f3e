"""`releasedesk freeze declare|lift|list`."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from releasedesk.audit.models import AuditEvent
from releasedesk.calendars.models import ChangeFreeze

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def run(*args: str) -> str:
    out = StringIO()
    call_command("freeze", *args, stdout=out)
    return out.getvalue()


def test_declare_list_lift(frozen_now: dt.datetime, vendor_admin: Any, sso: Any) -> None:
    out = run(
        "declare",
        "--from", "2027-03-27T12:00",
        "--to", "2027-03-28T12:00",
        "--zone", "Europe/Amsterdam",
        "--reason", "Spring change weekend",
        "--product", "sso",
        "--as", "admin",
    )  # fmt: skip
    freeze = ChangeFreeze.objects.get()
    assert out.strip() == (
        f"Declared change freeze {freeze.pk}: 2027-03-27 11:00 UTC until 2027-03-28 10:00 UTC "
        "(2027-03-27 12:00 CET (Europe/Amsterdam) until 2027-03-28 12:00 CEST (Europe/Amsterdam)) for sso"
    )
    assert freeze.declared_by == vendor_admin
    listed = json.loads(run("list", "--json", "--zone", "Europe/Amsterdam"))
    assert listed == [
        {
            "id": freeze.pk,
            "starts_at": "2027-03-27T11:00:00+00:00",
            "ends_at": "2027-03-28T10:00:00+00:00",
            "starts_local": "2027-03-27 12:00 CET (Europe/Amsterdam)",
            "ends_local": "2027-03-28 12:00 CEST (Europe/Amsterdam)",
            "reason": "Spring change weekend",
            "products": ["sso"],
            "lifted_at": None,
        }
    ]
    assert run("lift", str(freeze.pk), "--reason", "Not needed").strip() == (
        f"Lifted change freeze {freeze.pk} at 2027-03-01 09:00 UTC"
    )
    assert run("list").strip() == "No change freezes."
    assert len(json.loads(run("list", "--all", "--json"))) == 1
    event = AuditEvent.objects.get(action="freeze.lifted")
    assert event.actor_kind == "system"


def test_offset_wins_over_zone_and_errors(frozen_now: dt.datetime, vendor_admin: Any) -> None:
    run("declare", "--from", "2027-05-01T00:00+02:00", "--to", "2027-05-02T00:00Z", "--reason", "x")
    freeze = ChangeFreeze.objects.get()
    assert freeze.starts_at == dt.datetime(2027, 4, 30, 22, 0, tzinfo=UTC)
    assert freeze.all_products is True
    with pytest.raises(CommandError, match="the end must be after the start"):
        run("declare", "--from", "2027-05-02T00:00Z", "--to", "2027-05-01T00:00Z", "--reason", "x")
    with pytest.raises(CommandError, match="unknown product 'nope'"):
        run(
            "declare",
            "--from",
            "2027-05-01T00:00Z",
            "--to",
            "2027-05-02T00:00Z",
            "--reason",
            "x",
            "--product",
            "nope",
        )
    with pytest.raises(CommandError, match="'Mars/Base' is not an IANA time zone"):
        run(
            "declare",
            "--from",
            "2027-05-01T00:00",
            "--to",
            "2027-05-02T00:00",
            "--reason",
            "x",
            "--zone",
            "Mars/Base",
        )
    with pytest.raises(CommandError, match="no active staff member 'ghost'"):
        run("lift", str(freeze.pk), "--reason", "x", "--as", "ghost")
    with pytest.raises(CommandError, match="Change freeze 999 does not exist"):
        run("lift", "999", "--reason", "x")
    assert ChangeFreeze.objects.count() == 1
