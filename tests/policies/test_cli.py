"""`releasedesk policy …`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from releasedesk.policies.schema import json_schema
from tests.policies.conftest import EXAMPLES

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("policy", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_validate_prints_every_error_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "policy: bad\nzone: Europe/Amsterdam\nzone: x\ndefault_level: std\nlevels: {std: {approvals: [ceo]}}\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("policy", "validate", str(EXAMPLES / "school-saas.yaml"), str(bad), stdout=out)
    assert exc.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{EXAMPLES / 'school-saas.yaml'}: ok"
    assert lines[1] == f"{bad}:3:1: zone: duplicate key (each key may appear once)"
    assert lines[2].startswith(f"{bad}:5:28: levels.std.approvals.0: unknown role 'ceo'")


def test_apply_list_show_diff(tmp_path: Path, vendor_admin: Any) -> None:
    src = EXAMPLES / "hosted-monthly.yaml"
    result = json.loads(run("apply", "--json", "--user", vendor_admin.username, str(src)))
    assert [(r["policy"], r["version"]) for r in result] == [("hosted-monthly", 1)]
    changed = tmp_path / "h.yaml"
    changed.write_text(src.read_text().replace("lead: 48h", "lead: 72h"))
    assert "hosted-monthly version 2" in run("apply", str(changed))
    assert run("list") == "hosted-monthly\tv2\t2 version(s)\n"
    assert "lead: 48h" in run("show", "hosted-monthly", "--version", "1")
    diff = run("diff", "hosted-monthly", "1", "2")
    assert (
        "-    notice: {lead: 48h, to: instance_contacts}\n+    notice: {lead: 72h, to: instance_contacts}"
        in diff
    )
    with pytest.raises(CommandError, match="has no version 7"):
        run("show", "hosted-monthly", "--version", "7")


def test_schema_matches_committed_editor_schema() -> None:
    printed = json.loads(run("schema"))
    assert printed == json_schema()
    committed = json.loads((EXAMPLES.parents[1] / "docs" / "policy.schema.json").read_text())
    assert committed == printed, "regenerate: releasedesk policy schema > docs/policy.schema.json"
