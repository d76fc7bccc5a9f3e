"""apply_policy / delete_policy: versions, audit, in-use protection."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import ProtectedError

from releasedesk.audit.models import AuditEvent
from releasedesk.core.errors import Conflict
from releasedesk.policies.demo import load_example_policies
from releasedesk.policies.loader import PolicyInvalid
from releasedesk.policies.models import Policy, PolicyVersion
from releasedesk.policies.services import apply_policy, delete_policy
from tests.policies.conftest import example_source

pytestmark = pytest.mark.django_db


def test_apply_creates_version_2_only_when_content_changes(product_manager: Any) -> None:
    source = example_source("school-saas.yaml")
    v1 = apply_policy(source=source, filename="school-saas.yaml", actor=product_manager)
    assert (v1.policy.slug, v1.number, v1.created_by) == ("school-saas", 1, product_manager)
    assert v1.document_model().risk is not None
    again = apply_policy(source=source, filename="school-saas.yaml", actor=product_manager)
    assert again.pk == v1.pk
    v2 = apply_policy(
        source=source.replace(
            "lead: 7d, to: affected_org_admins}\n  extreme",
            "lead: 8d, to: affected_org_admins}\n  extreme",
        ),
        filename="s.yaml",
        actor=product_manager,
    )
    assert v2.number == 2
    assert PolicyVersion.objects.filter(policy=v1.policy).count() == 2
    events = AuditEvent.objects.filter(action="policies.apply").order_by("id")
    assert [(e.after or {}).get("version") for e in events] == [1, 2]
    assert events[1].before == {"policy": "school-saas", "version": 1, "checksum": v1.checksum}


def test_invalid_source_changes_nothing(product_manager: Any) -> None:
    with pytest.raises(PolicyInvalid) as exc:
        apply_policy(
            source="policy: x\nzone: Nowhere/Land\n", filename="x.yaml", actor=product_manager
        )
    assert "zone" in exc.value.fields
    assert not Policy.objects.exists()
    assert not AuditEvent.objects.filter(action="policies.apply").exists()


def test_demo_loads_the_four_examples_idempotently(vendor_admin: Any) -> None:
    first = load_example_policies(vendor_admin)
    assert sorted(first) == ["field-software", "hosted-monthly", "oem-white-label", "school-saas"]
    load_example_policies(vendor_admin)
    assert PolicyVersion.objects.count() == 4


def test_delete_unused_policy(vendor_admin: Any) -> None:
    version = apply_policy(
        source=example_source("hosted-monthly.yaml"), filename="h.yaml", actor=vendor_admin
    )
    delete_policy(policy=version.policy, actor=vendor_admin)
    assert not Policy.objects.exists()
    assert AuditEvent.objects.filter(action="policies.delete").count() == 1


def test_delete_refused_while_in_use(vendor_admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    version = apply_policy(
        source=example_source("hosted-monthly.yaml"), filename="h.yaml", actor=vendor_admin
    )
    policy = version.policy

    def protected(*args: Any, **kwargs: Any) -> Any:
        raise ProtectedError("protected", {object(), object()})  # type: ignore[arg-type]

    # Releases protect their policy version (Release.policy_version, on_delete=PROTECT).
    monkeypatch.setattr(Policy, "delete", protected)
    with pytest.raises(Conflict) as exc:
        delete_policy(policy=policy, actor=vendor_admin)
    assert exc.value.message == "policy hosted-monthly is used by 2 releases; it cannot be deleted"
    assert PolicyVersion.objects.filter(pk=version.pk).exists()
    assert not AuditEvent.objects.filter(action="policies.delete").exists()
