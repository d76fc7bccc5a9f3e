from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from releasedesk.releases.models import Release

pytestmark = pytest.mark.django_db

CHANGELOG = """\
## 5.4.0
### Added
- Shared whiteboards [significant]
  Customer: Teachers can share a whiteboard with a class.
### Database
- Split the sessions table [irreversible]
"""


def run(*args: str) -> str:
    out = StringIO()
    call_command("release", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def changelog(tmp_path: Path) -> Path:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG)
    return path


def test_cli_create_assess_approve_start_show(
    school_saas: Any,
    presenter: Any,
    product_manager: Any,
    cto: Any,
    second_pm: Any,
    changelog: Path,
) -> None:
    out = run(
        "create",
        "--policy",
        "school-saas",
        "--product",
        "presenter",
        "--version",
        "5.4.0",
        "--date",
        "2027-04-01",
        "--changes",
        str(changelog),
        "--as",
        "pm",
    )
    assert out.startswith("Created release 5.4.0 (id ")
    assert "2 changes, status draft" in out
    out = run(
        "assess",
        "5.4.0",
        "--impact",
        "4",
        "--likelihood",
        "4",
        "--stakeholder",
        "cto",
        "--rationale",
        "Many schools",
        "--as",
        "pm",
    )
    assert "Assessed release 5.4.0: high (assessment v1)" in out
    assert "Database changes carry higher operational risk" in out
    with pytest.raises(
        CommandError, match=r"Cannot start 5.4.0: missing approvals from product_manager, cto"
    ):
        run("start", "5.4.0", "--as", "pm")
    with pytest.raises(CommandError, match="Nobody approves their own release"):
        run("approve", "5.4.0", "--role", "product_manager", "--as", "pm")
    run("approve", "5.4.0", "--role", "product_manager", "--as", "pm2")
    shown = run("show", "5.4.0")
    assert "Risk: high (impact 4 × likelihood 4, assessment v1)" in shown  # noqa: RUF001
    assert "  - [database_migration] Split the sessions table (irreversible)" in shown
    assert "Missing: cto" in shown
    assert "  - product_manager by pm2 (in force)" in shown
    assert json.loads(run("show", "5.4.0", "--json"))["missing_approvals"] == [
        {"role": "cto", "count": 1}
    ]
    assert "status approved" in run(
        "approve", "5.4.0", "--role", "cto", "--comment", "Load tested", "--as", "cto"
    )
    assert "status assessed" in run(
        "revoke", "5.4.0", "--role", "cto", "--comment", "Found a bug", "--as", "cto"
    )
    run("approve", "5.4.0", "--role", "cto", "--as", "cto")
    assert run("start", "5.4.0", "--as", "pm").strip() == "Release 5.4.0 is now in_progress"
    listed = run("list")
    assert "5.4.0" in listed
    assert "in_progress" in listed


def test_cli_errors_exit_with_the_message(
    school_saas: Any, presenter: Any, product_manager: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("### Added\n- ok\n### Rewrites\n- nope\n")
    with pytest.raises(CommandError, match=r"bad.md:3: unknown section 'Rewrites'"):
        run(
            "create",
            "--policy",
            "school-saas",
            "--product",
            "presenter",
            "--version",
            "1.0",
            "--date",
            "2027-04-01",
            "--changes",
            str(bad),
            "--as",
            "pm",
        )
    with pytest.raises(CommandError, match="unknown policy 'nope'"):
        run(
            "create",
            "--policy",
            "nope",
            "--product",
            "presenter",
            "--version",
            "1.0",
            "--date",
            "2027-04-01",
            "--as",
            "pm",
        )
    run(
        "create",
        "--policy",
        "school-saas",
        "--product",
        "presenter",
        "--version",
        "1.0",
        "--date",
        "2027-04-01",
        "--as",
        "pm",
    )
    with pytest.raises(
        CommandError,
        match=r"Cannot move from 'draft' to 'in_progress'|Cannot start 1.0: its risk has not been assessed",
    ):
        run("start", "1.0", "--as", "pm")
    with pytest.raises(CommandError, match="no release 'x'"):
        run("show", "x")
    assert Release.objects.get().status == "draft"


def test_cli_edit_reports_voided_approvals(
    make_release: Any, product_manager: Any, second_pm: Any
) -> None:
    release = make_release()
    run("assess", str(release.pk), "--impact", "1", "--likelihood", "1", "--as", "pm")
    run("approve", str(release.pk), "--role", "product_manager", "--as", "pm2")
    out = run("edit", str(release.pk), "--date", "2027-04-08", "--as", "pm")
    assert "Approvals voided because the target date changed (2027-04-01 → 2027-04-08)" in out
