"""A product manager creates a release with a database migration and assesses it (the floor's
reason is shown); a second user with the CTO role signs in and approves it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from releasedesk.releases.models import Approval, Release

POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "school-saas.yaml"


@pytest.fixture
def school_saas(transactional_db: None) -> Any:
    from releasedesk.policies.services import apply_policy

    return apply_policy(
        source=POLICY_FILE.read_text(), filename="examples/policies/school-saas.yaml", actor=None
    ).policy


def test_pm_creates_and_assesses_cto_approves(
    signed_in_page: Callable[..., Page],
    product_manager: Any,
    cto: Any,
    presenter: Any,
    school_saas: Any,
) -> None:
    page = signed_in_page(product_manager)
    page.goto("/releases/")
    page.get_by_role("link", name="New release").click()
    page.locator('select[name="policy"]').select_option("school-saas")
    page.get_by_label("Presenter").check()
    page.locator('input[name="version"]').fill("5.4.0")
    page.locator('input[name="title"]').fill("Shared whiteboards")
    page.locator('input[name="target_date"]').fill("2027-04-01")
    page.locator('textarea[name="changes"]').fill(
        "### Database\n- Split the sessions table\n### Added\n- Shared whiteboards [significant]\n"
    )
    page.get_by_role("button", name="Create release").click()
    expect(page.get_by_test_id("status")).to_have_text("Draft")
    expect(page.get_by_text("Split the sessions table")).to_be_visible()

    page.get_by_role("link", name="Assess risk").click()
    page.locator('select[name="impact"]').select_option("4")
    page.locator('select[name="likelihood"]').select_option("4")
    page.locator('textarea[name="rationale"]').fill("Every school uses sessions")
    page.get_by_role("button", name="Assess").click()
    expect(page.get_by_test_id("level")).to_have_text("high")
    risk = page.get_by_test_id("risk")
    expect(risk).to_contain_text("Database changes carry higher operational risk")
    expect(page.get_by_test_id("missing")).to_have_text("Missing: product_manager, cto")
    expect(page.get_by_role("button", name="Approve as product_manager")).to_have_count(
        0
    )  # own release

    page.context.clear_cookies()
    page = signed_in_page(cto)
    release = Release.objects.get(version="5.4.0")
    page.goto(f"/releases/{release.pk}/")
    expect(page.get_by_role("button", name="Approve as product_manager")).to_have_count(
        0
    )  # not their role
    page.locator("#comment-cto").fill("Migration rehearsed on staging")
    page.get_by_role("button", name="Approve as cto").click()
    expect(page.get_by_test_id("approvals")).to_contain_text("cto by cto")
    expect(page.get_by_test_id("approvals")).to_contain_text("in force")
    expect(page.get_by_test_id("missing")).to_have_text("Missing: product_manager")
    approval = Approval.objects.get()
    assert (approval.role, approval.user_id, approval.comment) == (
        "cto",
        cto.pk,
        "Migration rehearsed on staging",
    )
