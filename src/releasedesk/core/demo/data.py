"""The demo catalogue as data: products, instances, customers with contacts, staff users.

Fictional organisations (e-mail addresses under `.example`, which never resolves) in seven
time zones, shaped after the four seed processes: direct schools on shared production
(seed 000), OEM partners with white-label instances (001), hosted customers with dedicated
instances (002), resellers with their customers on field software (003).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DemoProduct:
    slug: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class DemoInstance:
    slug: str
    name: str
    kind: str
    product: str
    version: str
    zone: str
    owner: str | None = None
    ring: int = 0
    window_override: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoContact:
    name: str
    roles: tuple[str, ...]
    unreachable_reason: str = ""
    zone: str = ""


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    slug: str
    name: str
    kind: str
    zone: str
    contacts: tuple[DemoContact, ...]
    # (product slug, instance slug)
    uses: tuple[tuple[str, str], ...]
    locale: str = "en"
    parent: str | None = None
    tags: tuple[str, ...] = ()
    contract_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoStaff:
    username: str
    roles: tuple[str, ...]
    zone: str
    first_name: str
    last_name: str
    superuser: bool = False


PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct("presenter", "Presenter", "Interactive lessons for schools (shared SaaS)."),
    DemoProduct("sso", "SSO", "Single sign-on for schools and their pupils."),
    DemoProduct("dashboard", "Dashboard", "Analytics dashboards, hosted per customer."),
    DemoProduct("field-suite", "Field Suite", "Field service software sold through resellers."),
    DemoProduct(
        "oem-platform", "OEM Platform", "The platform OEM partners sell under their own brand."
    ),
)

INSTANCES: tuple[DemoInstance, ...] = (
    # Shared production
    DemoInstance(
        "presenter-eu", "Presenter EU", "shared", "presenter", "5.3.0", "Europe/Amsterdam"
    ),
    DemoInstance(
        "presenter-us", "Presenter US", "shared", "presenter", "5.3.0", "America/New_York", ring=1
    ),
    DemoInstance(
        "presenter-apac",
        "Presenter APAC",
        "shared",
        "presenter",
        "5.2.4",
        "Australia/Sydney",
        ring=1,
    ),
    DemoInstance("sso-eu", "SSO EU", "shared", "sso", "2.14.1", "Europe/Amsterdam"),
    DemoInstance(
        "oem-platform-prod",
        "OEM Platform production",
        "shared",
        "oem-platform",
        "8.4.0",
        "Europe/Berlin",
    ),
    DemoInstance(
        "field-suite-cloud", "Field Suite Cloud", "shared", "field-suite", "12.4.0", "Europe/Zurich"
    ),
    # Staging
    DemoInstance(
        "presenter-staging",
        "Presenter staging",
        "staging",
        "presenter",
        "5.4.0-rc.1",
        "Europe/Amsterdam",
    ),
    DemoInstance(
        "oem-platform-staging",
        "OEM Platform staging",
        "staging",
        "oem-platform",
        "8.5.0-rc.2",
        "Europe/Berlin",
    ),
    DemoInstance(
        "dashboard-staging",
        "Dashboard staging",
        "staging",
        "dashboard",
        "3.9.0-rc.1",
        "Europe/London",
    ),
    DemoInstance(
        "field-suite-staging",
        "Field Suite staging",
        "staging",
        "field-suite",
        "12.5.0-beta.1",
        "Europe/Zurich",
    ),
    # White label (one per OEM partner)
    DemoInstance(
        "lernwerk-platform",
        "Lernwerk Plattform",
        "white_label",
        "oem-platform",
        "8.3.1",
        "Europe/Berlin",
        owner="lernwerk",
    ),
    DemoInstance(
        "edunova-connect",
        "EduNova Connect",
        "white_label",
        "oem-platform",
        "8.2.0",
        "Europe/London",
        owner="edunova",
    ),
    DemoInstance(
        "vidya-cloud",
        "Vidya Cloud",
        "white_label",
        "oem-platform",
        "8.3.1",
        "Asia/Kolkata",
        owner="vidya",
    ),
    # Dedicated (one per hosted customer)
    DemoInstance(
        "northwind-dashboard",
        "Northwind Health dashboard",
        "dedicated",
        "dashboard",
        "3.8.2",
        "Europe/London",
        owner="northwind-health",
    ),
    DemoInstance(
        "rijnland-dashboard",
        "Rijnland dashboard",
        "dedicated",
        "dashboard",
        "3.8.2",
        "Europe/Amsterdam",
        owner="rijnland-waterschap",
        window_override={"weekday": "tuesday", "from": "19:00", "to": "23:00"},
    ),
    DemoInstance(
        "sydney-councils-dashboard",
        "Sydney Councils dashboard",
        "dedicated",
        "dashboard",
        "3.8.0",
        "Australia/Sydney",
        owner="sydney-councils",
        ring=1,
    ),
    DemoInstance(
        "spree-dashboard",
        "Spree Logistik dashboard",
        "dedicated",
        "dashboard",
        "3.7.4",
        "Europe/Berlin",
        owner="spree-logistics",
    ),
    DemoInstance(
        "mumbai-metro-dashboard",
        "Mumbai Metro dashboard",
        "dedicated",
        "dashboard",
        "3.8.2",
        "Asia/Kolkata",
        owner="mumbai-metro",
        ring=1,
    ),
)

_ADMIN = ("admin",)
_ADMIN_TECH = ("admin", "technical")
_SCHOOL_USES = (("presenter", "presenter-eu"), ("sso", "sso-eu"))

CUSTOMERS: tuple[DemoCustomer, ...] = (
    # Direct schools on shared production (seed 000)
    DemoCustomer(
        "het-baken",
        "Het Baken College",
        "direct",
        "Europe/Amsterdam",
        locale="nl",
        tags=("school",),
        contacts=(DemoContact("Sanne de Vries", _ADMIN), DemoContact("Joris Bakker", _ADMIN_TECH)),
        uses=_SCHOOL_USES,
    ),
    DemoCustomer(
        "lyceum-de-vaart",
        "Lyceum De Vaart",
        "direct",
        "Europe/Amsterdam",
        locale="nl",
        tags=("school",),
        contacts=(
            DemoContact("Femke Jansen", _ADMIN),
            DemoContact("Pieter Visser", _ADMIN),
            DemoContact(
                "Noor El Amrani", _ADMIN, unreachable_reason="550 5.1.1 mailbox unavailable"
            ),
        ),
        uses=_SCHOOL_USES,
    ),
    DemoCustomer(
        "st-aidans",
        "St Aidan's Academy",
        "direct",
        "Europe/London",
        tags=("school",),
        contacts=(DemoContact("Olivia Hughes", _ADMIN),),
        uses=_SCHOOL_USES,
    ),
    DemoCustomer(
        "gymnasium-am-fluss",
        "Gymnasium am Fluss",
        "direct",
        "Europe/Berlin",
        locale="de",
        tags=("school",),
        contacts=(DemoContact("Lena Hoffmann", _ADMIN), DemoContact("Tobias Keller", _ADMIN_TECH)),
        uses=(("presenter", "presenter-eu"),),
    ),
    DemoCustomer(
        "zurich-international",
        "Zurich International School",
        "direct",
        "Europe/Zurich",
        tags=("school",),
        contacts=(DemoContact("Hannah Frei", _ADMIN),),
        uses=_SCHOOL_USES,
    ),
    DemoCustomer(
        "riverside-high",
        "Riverside High School",
        "direct",
        "America/New_York",
        tags=("school",),
        contacts=(DemoContact("Marcus Reed", _ADMIN), DemoContact("Jasmine Ortiz", _ADMIN)),
        uses=(("presenter", "presenter-us"),),
    ),
    DemoCustomer(
        "harbour-grammar",
        "Harbour Grammar School",
        "direct",
        "Australia/Sydney",
        tags=("school",),
        contacts=(DemoContact("Chloe Nguyen", _ADMIN_TECH),),
        uses=(("presenter", "presenter-apac"),),
    ),
    DemoCustomer(
        "lotus-public-school",
        "Lotus Public School",
        "direct",
        "Asia/Kolkata",
        tags=("school",),
        contacts=(DemoContact("Priya Raman", _ADMIN), DemoContact("Arjun Mehta", _ADMIN)),
        uses=(("presenter", "presenter-apac"),),
    ),
    # OEM partners with white-label instances (seed 001)
    DemoCustomer(
        "lernwerk",
        "Lernwerk GmbH",
        "oem_partner",
        "Europe/Berlin",
        locale="de",
        tags=("oem",),
        contacts=(
            DemoContact("Jonas Richter", ("oem_partner", "technical")),
            DemoContact("Miriam Wolf", ("oem_partner",)),
        ),
        uses=(("oem-platform", "lernwerk-platform"),),
        contract_overrides={"docs_responsibility": "vendor"},
    ),
    DemoCustomer(
        "edunova",
        "EduNova Ltd",
        "oem_partner",
        "Europe/London",
        tags=("oem",),
        contacts=(DemoContact("Ethan Clarke", ("oem_partner",)),),
        uses=(("oem-platform", "edunova-connect"),),
        contract_overrides={"docs_responsibility": "customer"},
    ),
    DemoCustomer(
        "vidya",
        "Vidya Systems Pvt Ltd",
        "oem_partner",
        "Asia/Kolkata",
        tags=("oem",),
        contacts=(DemoContact("Ananya Iyer", ("oem_partner", "technical")),),
        uses=(("oem-platform", "vidya-cloud"),),
        contract_overrides={"docs_responsibility": "vendor", "feedback_every_weeks": 2},
    ),
    # Resellers and their customers on field software (seed 003)
    DemoCustomer(
        "alpine-field",
        "Alpine Field Partners AG",
        "reseller",
        "Europe/Zurich",
        locale="de",
        tags=("reseller",),
        contacts=(DemoContact("Reto Brunner", ("reseller",)),),
        uses=(("field-suite", "field-suite-cloud"),),
    ),
    DemoCustomer(
        "bergbahnen-engadin",
        "Bergbahnen Engadin",
        "direct",
        "Europe/Zurich",
        locale="de",
        parent="alpine-field",
        contacts=(DemoContact("Claudia Meier", _ADMIN),),
        uses=(("field-suite", "field-suite-cloud"),),
    ),
    DemoCustomer(
        "stadtwerke-thun",
        "Stadtwerke Thun",
        "direct",
        "Europe/Zurich",
        locale="de",
        parent="alpine-field",
        contacts=(DemoContact("Urs Baumann", _ADMIN_TECH),),
        uses=(("field-suite", "field-suite-cloud"),),
    ),
    DemoCustomer(
        "atlantic-field",
        "Atlantic Field Services Inc",
        "reseller",
        "America/New_York",
        tags=("reseller",),
        contacts=(DemoContact("Dana Brooks", ("reseller",)),),
        uses=(("field-suite", "field-suite-cloud"),),
    ),
    DemoCustomer(
        "hudson-utilities",
        "Hudson Valley Utilities",
        "direct",
        "America/New_York",
        parent="atlantic-field",
        contacts=(DemoContact("Kevin O'Neill", _ADMIN),),
        uses=(("field-suite", "field-suite-cloud"),),
    ),
    DemoCustomer(
        "cape-water",
        "Cape Cod Water District",
        "direct",
        "America/New_York",
        parent="atlantic-field",
        contacts=(DemoContact("Maria Santos", _ADMIN, zone="America/Chicago"),),
        uses=(("field-suite", "field-suite-cloud"),),
    ),
    # Hosted customers with dedicated instances (seed 002)
    DemoCustomer(
        "northwind-health",
        "Northwind Health Trust",
        "hosted",
        "Europe/London",
        tags=("hosted",),
        contacts=(DemoContact("Grace Turner", _ADMIN_TECH),),
        uses=(("dashboard", "northwind-dashboard"),),
        contract_overrides={"notice_lead_hours": 72},
    ),
    DemoCustomer(
        "rijnland-waterschap",
        "Waterschap Rijnland",
        "hosted",
        "Europe/Amsterdam",
        locale="nl",
        tags=("hosted",),
        contacts=(DemoContact("Bram de Groot", _ADMIN), DemoContact("Eva Smit", ("technical",))),
        uses=(("dashboard", "rijnland-dashboard"),),
    ),
    DemoCustomer(
        "sydney-councils",
        "Sydney Shared Councils",
        "hosted",
        "Australia/Sydney",
        tags=("hosted",),
        contacts=(DemoContact("Liam Walker", _ADMIN),),
        uses=(("dashboard", "sydney-councils-dashboard"),),
    ),
    DemoCustomer(
        "spree-logistics",
        "Spree Logistik GmbH",
        "hosted",
        "Europe/Berlin",
        locale="de",
        tags=("hosted",),
        contacts=(DemoContact("Katrin Schulz", _ADMIN),),
        uses=(("dashboard", "spree-dashboard"),),
        contract_overrides={"max_consecutive_opt_outs": 2},
    ),
    DemoCustomer(
        "mumbai-metro",
        "Mumbai Metro Analytics",
        "hosted",
        "Asia/Kolkata",
        tags=("hosted",),
        contacts=(DemoContact("Rohan Desai", _ADMIN), DemoContact("Kavya Nair", ("technical",))),
        uses=(("dashboard", "mumbai-metro-dashboard"),),
    ),
)

STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("demo", ("admin",), "Europe/Amsterdam", "Demo", "Admin", superuser=True),
    DemoStaff("pm", ("product_manager",), "Europe/Amsterdam", "Pat", "Manager"),
    DemoStaff("cto", ("cto",), "Europe/Amsterdam", "Chris", "Tech"),
    DemoStaff("delivery", ("delivery", "delivery_lead"), "Europe/Zurich", "Dana", "Delivery"),
    DemoStaff(
        "cs",
        ("customer_success", "customer_success_lead", "docs"),
        "Europe/Zurich",
        "Casey",
        "Success",
    ),
    DemoStaff("change", ("change_management", "service"), "Europe/London", "Charlie", "Change"),
)
