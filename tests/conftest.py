"""Shared fixtures: the named personas every view and endpoint test uses.

vendor_admin, product_manager, cto (staff); customer_a (admins a1, a2), customer_b
(admin b1), customer_c (admin c1, does not use Presenter); outsider_contact (a contact
of customer C, who must get 404 for A's and B's objects).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.outbox.sink import SmtpSink

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (bin/test uses "ci"; "deep" before a release).
hypothesis_settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
hypothesis_settings.register_profile("deep", max_examples=20_000, deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network: only loopback and unix sockets are allowed."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if (
            host is not None
            and host not in ("127.0.0.1", "::1", "localhost")
            and not str(host).startswith("127.")
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def roles(db: None) -> dict[str, Any]:
    from releasedesk.accounts.choices import DEFAULT_ROLES
    from releasedesk.accounts.models import Role

    return {
        slug: Role.objects.get_or_create(slug=slug, defaults={"name": name})[0]
        for slug, name in DEFAULT_ROLES
    }


def _staff(username: str, role_slugs: list[str], roles: dict[str, Any], **extra: Any) -> Any:
    from releasedesk.accounts.models import User

    user = User.objects.create_user(
        username=username,
        password="correct-horse-battery",
        email=f"{username}@vendor.test",
        is_staff=True,
        **extra,
    )
    user.roles.set([roles[s] for s in role_slugs])
    return user


@pytest.fixture
def vendor_admin(roles: dict[str, Any]) -> Any:
    return _staff("admin", ["admin"], roles, is_superuser=True)


@pytest.fixture
def product_manager(roles: dict[str, Any]) -> Any:
    return _staff("pm", ["product_manager"], roles)


@pytest.fixture
def cto(roles: dict[str, Any]) -> Any:
    return _staff("cto", ["cto"], roles)


@pytest.fixture
def presenter(db: None) -> Any:
    from releasedesk.catalog.models import Product

    return Product.objects.create(slug="presenter", name="Presenter")


@pytest.fixture
def saas_eu(presenter: Any) -> Any:
    from releasedesk.catalog.models import Instance

    return Instance.objects.create(
        slug="saas-eu",
        name="SaaS EU",
        kind="shared",
        product=presenter,
        current_version="5.3.0",
        timezone="Europe/Amsterdam",
    )


def _customer(
    slug: str, name: str, zone: str, contacts: list[tuple[str, str]], **extra: Any
) -> Any:
    from releasedesk.catalog.models import Contact, Customer

    customer = Customer.objects.create(slug=slug, name=name, timezone=zone, **extra)
    for cname, email in contacts:
        Contact.objects.create(customer=customer, name=cname, email=email, roles=["admin"])
    return customer


@pytest.fixture
def customer_a(saas_eu: Any) -> Any:
    from releasedesk.catalog.models import Subscription

    c = _customer(
        "school-a",
        "School A",
        "Europe/Amsterdam",
        [("Ann Admin", "a1@school-a.test"), ("Arne Admin", "a2@school-a.test")],
    )
    Subscription.objects.create(customer=c, product=saas_eu.product, instance=saas_eu)
    return c


@pytest.fixture
def customer_b(saas_eu: Any) -> Any:
    from releasedesk.catalog.models import Subscription

    c = _customer("school-b", "School B", "Europe/Brussels", [("Bea Admin", "b1@school-b.test")])
    Subscription.objects.create(customer=c, product=saas_eu.product, instance=saas_eu)
    return c


@pytest.fixture
def customer_c(db: None) -> Any:
    return _customer(
        "school-c", "School C", "America/New_York", [("Cas Admin", "c1@school-c.test")]
    )


@pytest.fixture
def outsider_contact(customer_c: Any) -> Any:
    return customer_c.contacts.get()


@pytest.fixture
def a1(customer_a: Any) -> Any:
    return customer_a.contacts.get(email="a1@school-a.test")


@pytest.fixture
def staff_client(client: Any, vendor_admin: Any) -> Any:
    client.force_login(vendor_admin)
    return client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`postgres_only` tests are skipped (with a reason) unless DATABASE_URL is PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: set DATABASE_URL=postgres://… (bin/test does)"
    )
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


# --- mail: a real SMTP server on loopback (tests never reach the network) ----------------------


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[SmtpSink]:
    """A running aiosmtpd sink; `settings.MAILERS` points at it for the test."""
    sink = SmtpSink().start()
    settings.MAILERS = sink.mailers_setting()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def dead_smtp(settings: Any) -> Iterator[SmtpSink]:
    """A sink that is not started: connections to its port are refused. `.start()` it later."""
    sink = SmtpSink()
    settings.MAILERS = sink.mailers_setting()
    try:
        yield sink
    finally:
        sink.stop()
