"""Settings come from the environment with strict parsing: a bad value names the variable.

Each case imports the settings in a fresh interpreter (settings are read once per
process) and asserts on the error printed to stderr. The system-check tests run the
checks of core/checks.py against overridden settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import Error, Warning
from django.test import override_settings

from releasedesk.core.checks import check_configuration

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


def _import_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RELEASEDESK_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    base.update(
        {
            "PYTHONPATH": str(SRC),
            "PYTHONTZPATH": "",
            "RELEASEDESK_DATA_DIR": str(tmp_path / "var"),
            "RELEASEDESK_DEBUG": "1",
        }
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import releasedesk.settings"],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


def _error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_good_environment_imports(tmp_path: Path) -> None:
    proc = _import_settings(tmp_path, RELEASEDESK_SMTP_PORT="2525")
    assert proc.returncode == 0, proc.stderr


def test_bad_smtp_port_names_the_variable(tmp_path: Path) -> None:
    line = _error_line(_import_settings(tmp_path, RELEASEDESK_SMTP_PORT="twenty-five"))
    assert line == (
        "django.core.exceptions.ImproperlyConfigured: "
        "RELEASEDESK_SMTP_PORT: 'twenty-five' is not an integer"
    )


def test_smtp_port_out_of_range_names_the_variable(tmp_path: Path) -> None:
    line = _error_line(_import_settings(tmp_path, RELEASEDESK_SMTP_PORT="70000"))
    assert line == (
        "django.core.exceptions.ImproperlyConfigured: "
        "RELEASEDESK_SMTP_PORT: 70000 is above the maximum 65535"
    )


def test_debug_maybe_is_rejected(tmp_path: Path) -> None:
    line = _error_line(_import_settings(tmp_path, RELEASEDESK_DEBUG="maybe"))
    assert line.startswith(
        "django.core.exceptions.ImproperlyConfigured: RELEASEDESK_DEBUG: 'maybe'"
    )
    assert "is not a boolean" in line


@pytest.mark.parametrize(
    "url",
    ["mysql://user:pw@localhost/releasedesk", "nonsense://whatever"],
)
def test_bad_database_url_names_the_variable(tmp_path: Path, url: str) -> None:
    line = _error_line(_import_settings(tmp_path, DATABASE_URL=url))
    assert line.startswith("django.core.exceptions.ImproperlyConfigured: DATABASE_URL: ")


def test_secret_key_required_without_debug(tmp_path: Path) -> None:
    line = _error_line(_import_settings(tmp_path, RELEASEDESK_DEBUG="0"))
    assert line == (
        "django.core.exceptions.ImproperlyConfigured: "
        "RELEASEDESK_SECRET_KEY: required unless RELEASEDESK_DEBUG=1"
    )


def test_base_url_must_be_http(tmp_path: Path) -> None:
    line = _error_line(_import_settings(tmp_path, RELEASEDESK_BASE_URL="ftp://example.test"))
    assert "RELEASEDESK_BASE_URL: 'ftp://example.test' must start with http:// or https://" in line


def test_ssl_and_starttls_are_exclusive(tmp_path: Path) -> None:
    line = _error_line(
        _import_settings(tmp_path, RELEASEDESK_SMTP_SSL="1", RELEASEDESK_SMTP_STARTTLS="1")
    )
    assert line.endswith("RELEASEDESK_SMTP_SSL and RELEASEDESK_SMTP_STARTTLS: set at most one")


def test_bad_log_format_lists_allowed_values(tmp_path: Path) -> None:
    line = _error_line(_import_settings(tmp_path, RELEASEDESK_LOG_FORMAT="xml"))
    assert line.endswith("RELEASEDESK_LOG_FORMAT: 'xml' is not allowed (allowed: json, text)")


def test_secret_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k" * 50 + "\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", "import releasedesk.settings as s; print(s.SECRET_KEY)"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("RELEASEDESK_")},
            "PYTHONPATH": str(SRC),
            "RELEASEDESK_DATA_DIR": str(tmp_path / "var"),
            "RELEASEDESK_DEBUG": "0",
            "RELEASEDESK_SECRET_KEY_FILE": str(key_file),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "k" * 50


# --- system checks (releasedesk.E0xx / W0xx) -------------------------------------------


PRODUCTION_KEY = "p" * 50


def _ids() -> list[str]:
    return [m.id or "" for m in check_configuration()]


@override_settings(SECRET_KEY=PRODUCTION_KEY)
def test_checks_pass_with_test_settings() -> None:
    assert _ids() == []


@override_settings(SECRET_KEY=PRODUCTION_KEY)
def test_e001_time_zone_must_be_utc() -> None:
    with override_settings(TIME_ZONE="Europe/Amsterdam"):
        messages = check_configuration()
    assert [m.id for m in messages] == ["releasedesk.E001"]
    assert isinstance(messages[0], Error)


@override_settings(SECRET_KEY=PRODUCTION_KEY)
def test_e002_use_tz_required() -> None:
    with override_settings(USE_TZ=False):
        assert _ids() == ["releasedesk.E002"]


@override_settings(SECRET_KEY=PRODUCTION_KEY)
def test_e003_sqlite_needs_immediate_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings

    default = settings.DATABASES["default"]
    monkeypatch.setitem(default, "ENGINE", "django.db.backends.sqlite3")
    monkeypatch.setitem(default, "OPTIONS", {"timeout": 20})
    assert _ids() == ["releasedesk.E003"]


def test_w001_development_secret_key_without_debug() -> None:
    with override_settings(DEBUG=False, SECRET_KEY="insecure-development-key"):
        messages = check_configuration()
    assert [m.id for m in messages] == ["releasedesk.W001"]
    assert isinstance(messages[0], Warning)


def test_w002_plain_http_base_url_without_debug() -> None:
    with override_settings(
        DEBUG=False, SECRET_KEY=PRODUCTION_KEY, BASE_URL="http://releases.example.com"
    ):
        assert _ids() == ["releasedesk.W002"]
