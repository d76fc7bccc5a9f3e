"""`releasedesk notes …`: the same services from the command line."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from releasedesk.notes.models import ReleaseNote
from tests.notes.conftest import INTERNAL_SECRETS


def run(*args: str) -> str:
    out = StringIO()
    call_command("notes", *args, stdout=out)
    return out.getvalue()


def test_compose_show_edit_signoff_publish(
    release: Any, docs_writer: Any, export_dir: Path, tmp_path: Path
) -> None:
    out = run("compose", "7.2.0", "--locale", "en", "--as", "docs")
    public = ReleaseNote.objects.get(audience="customers")
    assert f"#{public.pk}  7.2.0  customers (public)  en  draft  r1" in out.splitlines()
    shown = run("show", str(public.pk))
    assert "# Field Suite 7.2.0 — Summer release" in shown
    for secret in INTERNAL_SECRETS:
        assert secret not in shown
    body = tmp_path / "body.md"
    body.write_text("Short and sweet.\n")
    assert (
        run("edit", str(public.pk), "--file", str(body), "--as", "docs")
        .strip()
        .endswith("draft  r2")
    )
    with pytest.raises(CommandError, match="not signed off"):
        run("publish", str(public.pk), "--as", "docs")
    assert run("signoff", str(public.pk), "--as", "docs").strip().endswith("signed_off  r2")
    out = run("publish", str(public.pk), "--channel", "docs_portal", "--as", "docs")
    assert "  docs_portal: done  field-notes/customers/en/7.2.0.html" in out
    assert (export_dir / "field-notes/customers/en/7.2.0.md").read_text() == (
        "# Field Suite 7.2.0 — Summer release\n\nShort and sweet.\n"
    )
    listed = run("list", "--state", "published")
    assert listed.strip() == f"#{public.pk}  7.2.0  customers (public)  en  published  r2"


def test_signoff_without_role_and_unknown_user(
    release: Any, delivery: Any, docs_writer: Any
) -> None:
    run("compose", "7.2.0", "--as", "docs")
    note = ReleaseNote.objects.filter(audience="customers").first()
    assert note is not None
    with pytest.raises(CommandError, match="needs one of the roles"):
        run("signoff", str(note.pk), "--as", "delivery")
    with pytest.raises(CommandError, match="no active staff member 'nobody'"):
        run("signoff", str(note.pk), "--as", "nobody")


def test_digest_between_docs_feeds_newsletter(
    release: Any, catalogue: dict[str, Any], publish_all: Any, policy: Any
) -> None:
    import time_machine

    with time_machine.travel("2027-01-20 09:00Z", tick=False):
        publish_all(release)
    out = run(
        "digest",
        "--policy",
        "field-notes",
        "--audience",
        "customers",
        "--anchor",
        "2027-01-06",
        "--every-weeks",
        "4",
        "--on",
        "2027-01-20",
    )
    assert (
        out.splitlines()[0] == "Release notes digest 2027-01-06 to 2027-02-02: 1 release(s) 7.2.0"
    )
    assert "  digest: done  field-notes/customers/en/digests/2027-01-06_2027-02-02.html" in out
    assert run("between", "lakeside").strip() == "field-suite on field-cloud: 7.0.0 -> 7.2.0: 7.2.0"
    docs = run("docs", "7.2.0").splitlines()
    assert docs == [
        f"customer {catalogue['oem_y'].pk}: vendor_task (the vendor's docs team updates EduNova Ltd's white-label documentation (contract setting))",
        f"customer {catalogue['oem_x'].pk}: oem_notice (Lernwerk GmbH updates its own white-label documentation (contract setting))",
    ]
    feeds = run("feeds", "field-notes").splitlines()
    assert feeds[0] == "internal (internal): no feed"
    assert feeds[1].startswith(
        "distributors (partner, en): https://rd.example.test/notes/feeds/field-notes/distributors/en.atom?token="
    )
    assert (
        feeds[3]
        == "customers (public, en): https://rd.example.test/notes/feeds/field-notes/customers/en.atom"
    )
    news = run("newsletter", "7.2.0", "customers").splitlines()
    assert news[-1] == "2 message(s)"
    with pytest.raises(CommandError, match="give --from and --to"):
        run("digest", "--policy", "field-notes", "--audience", "customers")
