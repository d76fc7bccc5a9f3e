"""The demo's live release: a short-lead policy, three hosted customers on simulated executors,
and release 9.0 approved at load time, so the embedded worker carries its timeline out within a
few minutes of `releasedesk demo` starting (watch it on the release page).
"""

from __future__ import annotations

from pathlib import Path

from releasedesk.catalog import services as catalog
from releasedesk.catalog.models import Customer, Instance, Product
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.policies.models import Policy
from releasedesk.policies.services import apply_policy
from releasedesk.releases.demo import DemoRelease, _build
from releasedesk.releases.models import Release

POLICY_FILE = Path(__file__).with_name("live-demo.yaml")
VERSION = "9.0"
# (slug, name, zone, locale, simulated upgrade seconds)
HOSTS = (
    ("harbour-clinic", "Harbour Clinic", "Europe/London", "en", 8),
    ("gemeente-zuid", "Gemeente Zuid", "Europe/Amsterdam", "nl", 15),
    ("alpen-logistik", "Alpen Logistik", "Europe/Berlin", "de", 25),
)


def load_live_demo(actor: Actor) -> Release | None:
    """Create the live release once (idempotent); returns it when created."""
    if Release.objects.filter(policy__slug="live-demo", version=VERSION).exists():
        return None
    apply_policy(source=POLICY_FILE.read_text(), filename=POLICY_FILE.name, actor=actor)
    product = Product.objects.filter(slug="hosting").first() or catalog.create_product(
        actor=actor, slug="hosting", name="Hosting", description="Dedicated hosted instances"
    )
    for slug, name, zone, locale, seconds in HOSTS:
        customer = Customer.objects.filter(slug=slug).first()
        if customer is None:
            customer = catalog.create_customer(
                actor=actor, slug=slug, name=name, kind="hosted", timezone=zone, locale=locale
            )
            catalog.create_contact(
                actor=actor,
                customer=customer,
                name=f"{name} admin",
                email=f"admin@{slug}.example",
                roles=["admin", "technical"],
            )
        if not Instance.objects.filter(slug=f"{slug}-prod").exists():
            instance = catalog.create_instance(
                actor=actor,
                slug=f"{slug}-prod",
                name=f"{name} production",
                kind="dedicated",
                product=product,
                owner=customer,
                current_version="8.9",
                timezone=zone,
                executor={"kind": "simulated", "duration_seconds": seconds, "failure_rate": 0.0},
            )
            catalog.create_subscription(
                actor=actor, customer=customer, product=product, instance=instance
            )
    spec = DemoRelease(
        VERSION,
        "Live demo: watch this release move through its timeline",
        0,
        "in_progress",
        [{"kind": "feature", "title": "Faster backups", "customer_note": "Backups finish sooner."}],
    )
    return _build(Policy.objects.get(slug="live-demo"), product, spec, clock.now().date())
