from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from releasedesk.audit.models import AuditEvent
from releasedesk.catalog.importer import import_files
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.core.context import Actor

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


def _counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (Product, Customer, Contact, Instance, Subscription, AuditEvent)
    )


def _run(*args: str) -> tuple[str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    call_command("catalog", "import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_example_yaml_imports_and_is_idempotent() -> None:
    out, _ = _run(str(EXAMPLES / "catalog.yaml"))
    assert "customers: 3 created, 0 updated, 0 unchanged" in out
    st_mary = Customer.objects.get(slug="st-mary")
    assert st_mary.parent == Customer.objects.get(slug="edu-resellers")
    assert st_mary.tags == ["secondary", "uk"]
    assert Customer.objects.get(slug="brightlabs").contract_overrides["window"]["from"] == "16:00"
    assert Contact.objects.get(email="partner@brightlabs.example").timezone == "Europe/Zurich"
    assert Instance.objects.get(slug="sso-brightlabs").executor["kind"] == "webhook"
    assert Subscription.objects.count() == 2
    assert AuditEvent.objects.filter(action="catalog.customer.create").count() == 3
    before = _counts()
    out, _ = _run(str(EXAMPLES / "catalog.yaml"))
    assert "customers: 0 created, 0 updated, 3 unchanged" in out
    assert _counts() == before


def test_example_csv_imports() -> None:
    out, _ = _run(str(EXAMPLES / "customers.csv"), str(EXAMPLES / "contacts.csv"))
    assert "customers: 3 created" in out
    assert "contacts: 2 created" in out
    fjord = Customer.objects.get(slug="fjord-academy")
    assert fjord.parent is not None
    assert fjord.parent.slug == "north-schools"
    assert fjord.contract_overrides["notice_lead_hours"] == 48
    assert Customer.objects.get(slug="north-schools").tags == ["nordic", "group"]
    ingrid = Contact.objects.get(email="ict@fjord-academy.example")
    assert ingrid.roles == ["admin", "technical"]
    assert Contact.objects.get(email="ops@kiwi-learning.example").timezone == "Pacific/Chatham"


def test_upsert_updates_changed_fields(tmp_path: Path, customer_a: Any) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("customers:\n  - {slug: school-a, name: School A, timezone: Europe/London}\n")
    out, _ = _run(str(f))
    assert "customers: 0 created, 1 updated, 0 unchanged" in out
    customer_a.refresh_from_db()
    assert customer_a.timezone == "Europe/London"
    event = AuditEvent.objects.get(action="catalog.customer.update")
    assert event.after == {"timezone": "Europe/London"}


def test_dry_run_changes_nothing() -> None:
    before = _counts()
    out, _ = _run(str(EXAMPLES / "catalog.yaml"), "--dry-run")
    assert "dry run, nothing saved" in out
    assert "customers: 3 created" in out
    assert _counts() == before


BROKEN = """\
products:
  - slug: sso
    name: SSO
  - slug: sso
    name: SSO again
customers:
  - slug: good
    name: Good Customer
    timezone: Europe/Amsterdam
  - slug: bad-zone
    name: Bad Zone
    timezone: Europe/Amsterdamm
    colour: blue
  - slug: child
    name: Child
    parent: good
  - slug: worse
    name: Worse
    kind: martian
    locale: fr
    contract_overrides: {notice_lead_hours: -1}
contacts:
  - customer: good
    email: not-an-address
    name: Nobody
    roles: [admin, wizard]
  - customer: nowhere
    email: a@b.example
    name: Lost
instances:
  - slug: i1
    name: I1
    kind: shared
    product: missing-product
    executor: {kind: teleport}
subscriptions:
  - {customer: good, product: sso, instance: i1}
"""


def test_broken_yaml_reports_every_bad_row_and_imports_nothing(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    before = _counts()
    result = import_files([f], actor=Actor.system())
    assert not result.ok
    lines = [str(p) for p in result.problems]
    name = str(f)
    expected = [
        f"{name}:2: products.slug: duplicate: sso already at {name}:1 [line 4]",
        f"{name}:2: customers.timezone: 'Europe/Amsterdamm' is not an IANA time zone (e.g. Europe/Amsterdam) [line 10]",
        f"{name}:2: customers.colour: unknown field",
        f"{name}:3: customers.parent: 'good' is not a reseller; only a reseller can be a parent [line 14]",
        f"{name}:4: customers.kind: 'martian' is not a customer kind",
        f"{name}:4: customers.locale: 'fr' is not a supported locale",
        f"{name}:4: customers.contract_overrides.notice_lead_hours:",
        f"{name}:1: contacts.email: 'not-an-address' is not a valid e-mail address [line 23]",
        f"{name}:1: contacts.roles: unknown role(s) 'wizard'",
        f"{name}:2: contacts.customer: unknown customer 'nowhere'",
        f"{name}:1: instances.product: unknown product 'missing-product'",
        f"{name}:1: instances.executor.kind:",
    ]
    for text in expected:
        assert any(line.startswith(text) for line in lines), (text, lines)
    assert _counts() == before

    with pytest.raises(CommandError) as exc:
        _run(str(f))
    assert "nothing was imported" in str(exc.value)
    assert exc.value.returncode == 1
    assert _counts() == before


def test_json_output(tmp_path: Path) -> None:
    import io

    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("catalog", "import", str(f), "--json", stdout=out, stderr=io.StringIO())
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    assert data["imported"] is False
    assert {"file", "row", "line", "kind", "field", "message"} <= set(data["errors"][0])


def test_duplicate_yaml_mapping_key(tmp_path: Path) -> None:
    f = tmp_path / "dup.yaml"
    f.write_text("customers:\n  - slug: a\n    name: A\n    slug: b\n")
    result = import_files([f], actor=Actor.system())
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.field == "yaml"
    assert "duplicate key" in problem.message
    assert problem.row == 4
    assert Customer.objects.count() == 0


def test_invalid_yaml_and_unknown_section(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("customers: [unclosed\n")
    assert import_files([f], actor=Actor.system()).problems[0].field == "yaml"
    g = tmp_path / "sections.yaml"
    g.write_text("customer:\n  - slug: x\n")
    problems = import_files([g], actor=Actor.system()).problems
    assert str(problems[0]).startswith(f"{g}:1: customer: unknown section")


def test_broken_csv_reports_line_numbers(tmp_path: Path) -> None:
    f = tmp_path / "customers.csv"
    f.write_text(
        "slug,name,timezone,locale,colour\n"
        "ok,OK,Europe/Paris,en,\n"
        "bad,Bad,Mars/Olympus,en,\n"
        "ok,Again,Europe/Paris,xx,red\n"
    )
    result = import_files([f], actor=Actor.system())
    lines = [str(p) for p in result.problems]
    assert (
        f"{f}:3: customers.timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Amsterdam)"
        in lines
    )
    assert f"{f}:4: customers.locale: 'xx' is not a supported locale (one of: en, nl, de)" in lines
    assert any(
        line.startswith(f"{f}:4: customers.slug: duplicate: ok already at {f}:2") for line in lines
    )
    assert any(line.startswith(f"{f}:4: customers.colour: unknown field") for line in lines)
    assert Customer.objects.count() == 0


def test_csv_kind_required(tmp_path: Path) -> None:
    f = tmp_path / "things.csv"
    f.write_text("slug,name\nx,X\n")
    assert "--kind" in import_files([f], actor=Actor.system()).problems[0].message
    result = import_files([f], actor=Actor.system(), kind="products")
    assert result.ok
    assert Product.objects.get().slug == "x"


def test_parent_cycle_found_in_apply_phase(tmp_path: Path) -> None:
    f = tmp_path / "cycle.yaml"
    f.write_text(
        "customers:\n"
        "  - {slug: r1, name: R1, kind: reseller, parent: r2}\n"
        "  - {slug: r2, name: R2, kind: reseller, parent: r1}\n"
    )
    result = import_files([f], actor=Actor.system())
    assert not result.ok
    assert any(p.field == "parent" for p in result.problems)
    assert Customer.objects.count() == 0
