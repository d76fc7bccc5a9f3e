from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from releasedesk.accounts.models import User
from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.choices import InstanceKind
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.core.demo import email_for, ensure_demo_users, is_demo_loaded, load_demo
from releasedesk.core.demo.live import HOSTS
from releasedesk.core.management.commands import demo as demo_command

pytestmark = pytest.mark.django_db


def test_demo_catalogue() -> None:
    summary = load_demo()
    assert summary.loaded is True
    assert is_demo_loaded()
    assert set(Product.objects.values_list("name", flat=True)) == {
        "Presenter",
        "SSO",
        "Dashboard",
        "Field Suite",
        "OEM Platform",
        "Hosting",  # the live release's product (core/demo/live.py)
    }
    assert Customer.objects.count() >= 20
    zones = set(Customer.objects.values_list("timezone", flat=True))
    assert len(zones) >= 5
    assert {
        "Europe/Amsterdam",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Zurich",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Sydney",
    } <= zones
    assert set(Instance.objects.values_list("kind", flat=True)) == set(InstanceKind.values)
    # the summary counts the demo catalogue; the live release brings its own three customers
    live = [slug for slug, *_ in HOSTS]
    assert summary.customers == Customer.objects.exclude(slug__in=live).count()
    assert summary.instances == Instance.objects.exclude(owner__slug__in=live).count()
    assert summary.subscriptions == Subscription.objects.exclude(customer__slug__in=live).count()
    assert set(summary.zones) <= zones


def test_demo_customers_are_shaped_after_the_seeds() -> None:
    load_demo()
    # Direct schools have 1-3 admin contacts.
    for school in Customer.objects.filter(kind="direct", parent__isnull=True):
        admins = [c for c in school.contacts.all() if "admin" in c.roles]
        assert 1 <= len(admins) <= 3, school.slug
    # OEM partners: a white-label instance of their own, oem_partner contacts, docs responsibility.
    oems = Customer.objects.filter(kind="oem_partner")
    assert oems.count() >= 2
    for oem in oems:
        assert oem.owned_instances.filter(kind="white_label").exists(), oem.slug
        assert oem.subscriptions.filter(instance__kind="white_label", instance__owner=oem).exists()
        assert all("oem_partner" in c.roles for c in oem.contacts.all())
        assert oem.contract_overrides["docs_responsibility"] in ("vendor", "customer")
    # Resellers have child customers.
    resellers = Customer.objects.filter(kind="reseller")
    assert resellers.count() >= 2
    assert all(r.children.count() >= 2 for r in resellers)
    # Hosted customers each have a dedicated instance they use.
    for hosted in Customer.objects.filter(kind="hosted"):
        assert hosted.subscriptions.filter(
            instance__kind="dedicated", instance__owner=hosted
        ).exists(), hosted.slug
    # Every instance has a version and a zone; staging exists per product family.
    assert not Instance.objects.filter(current_version="").exists()
    assert not Instance.objects.filter(timezone="").exists()
    # One bounced address so the dashboard has something to show.
    assert Contact.objects.filter(reachable=False).count() == 1
    assert Contact.objects.get(email="noor.el.amrani@lyceum-de-vaart.example").unreachable_reason


def test_every_demo_row_is_audited() -> None:
    load_demo()
    assert (
        AuditEvent.objects.filter(action="catalog.customer.create").count()
        == Customer.objects.count()
    )
    assert (
        AuditEvent.objects.filter(action="catalog.instance.create").count()
        == Instance.objects.count()
    )
    assert (
        AuditEvent.objects.filter(action="catalog.subscription.create").count()
        == Subscription.objects.count()
    )
    assert set(
        AuditEvent.objects.filter(action__startswith="catalog.").values_list(
            "actor_kind", flat=True
        )
    ) == {"system"}


def test_load_demo_is_idempotent() -> None:
    load_demo()
    counts = (
        Customer.objects.count(),
        Contact.objects.count(),
        Instance.objects.count(),
        Subscription.objects.count(),
        AuditEvent.objects.count(),
    )
    again = load_demo()
    assert again.loaded is False
    assert (
        Customer.objects.count(),
        Contact.objects.count(),
        Instance.objects.count(),
        Subscription.objects.count(),
        AuditEvent.objects.count(),
    ) == counts


def test_email_for() -> None:
    assert email_for("Kevin O'Neill", "hudson-utilities") == "kevin.oneill@hudson-utilities.example"
    assert email_for("Noor El Amrani", "x") == "noor.el.amrani@x.example"


def test_demo_users_sign_in_with_the_printed_password() -> None:
    users = ensure_demo_users(password="first-password-1")
    assert [u.username for u in users] == ["demo", "pm", "cto", "delivery", "cs", "change"]
    demo = User.objects.get(username="demo")
    assert demo.is_staff
    assert demo.is_superuser
    assert demo.role_slugs() == {"admin"}
    assert demo.timezone == "Europe/Amsterdam"
    pm = User.objects.get(username="pm")
    assert pm.is_staff
    assert not pm.is_superuser
    assert pm.role_slugs() == {"product_manager"}
    assert User.objects.get(username="change").role_slugs() >= {"change_management"}
    assert authenticate(username="cto", password="first-password-1") is not None

    # Running the demo again prints a new password, and that one works.
    ensure_demo_users(password="second-password-2")
    assert (
        User.objects.filter(username__in=["demo", "pm", "cto", "delivery", "cs", "change"]).count()
        == 6
    )
    assert authenticate(username="demo", password="first-password-1") is None
    assert authenticate(username="demo", password="second-password-2") is not None


def test_demo_command_prepares_and_prints_the_login(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings

    monkeypatch.delenv("RELEASEDESK_BASE_URL", raising=False)
    monkeypatch.setattr(settings, "BASE_URL", settings.BASE_URL)  # restored afterwards
    served: list[Any] = []
    monkeypatch.setattr(
        demo_command,
        "call_command",
        lambda name, **kw: (
            served.append((name, kw)) if name == "serve" else call_command(name, **kw)
        ),
    )
    call_command("demo", "--password", "demo-pass-123", "--port", "8001", skip_checks=True)
    out = capsys.readouterr().out
    assert "Open http://127.0.0.1:8001/ and sign in as demo / demo-pass-123" in out
    assert "pm (product_manager)" in out
    assert served == [("serve", {"host": "127.0.0.1", "port": 8001, "no_worker": False})]
    assert settings.BASE_URL == "http://127.0.0.1:8001"  # e-mailed links reach this server
    assert Customer.objects.count() >= 20
    call_command("demo", "--password", "demo-pass-123", "--no-serve", skip_checks=True)
    assert "already loaded" in capsys.readouterr().out
    assert len(served) == 1


def test_demo_command_rejects_short_password() -> None:
    with pytest.raises(CommandError, match="at least 8 characters"):
        call_command("demo", "--password", "short", "--no-serve", skip_checks=True)


def test_reset_refuses_anything_but_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_command, "sqlite_path", lambda alias="default": None)
    with pytest.raises(CommandError, match="--reset only works on the embedded SQLite database"):
        demo_command.reset_sqlite()


def test_reset_deletes_the_database_files(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "releasedesk.sqlite3"
    for p in (db, tmp_path / "releasedesk.sqlite3-wal", tmp_path / "releasedesk.sqlite3-shm"):
        p.write_text("x")
    monkeypatch.setattr(demo_command, "sqlite_path", lambda alias="default": db)
    monkeypatch.setattr(connections, "close_all", lambda: None)
    assert demo_command.reset_sqlite() == db
    assert list(tmp_path.iterdir()) == []
