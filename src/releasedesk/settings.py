"""ReleaseDesk settings: everything comes from environment variables (see docs/configuration.md)."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from releasedesk.core.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_prefixed,
    env_str,
)

# Pin the zone data to the tzdata package so every machine computes the same instants.
zoneinfo.reset_tzpath([])

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("RELEASEDESK_DATA_DIR", str(Path.cwd() / "var"))).resolve()
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as _exc:
    raise ImproperlyConfigured(f"RELEASEDESK_DATA_DIR: cannot create {DATA_DIR}: {_exc}") from _exc

DEBUG = env_bool("RELEASEDESK_DEBUG", False)
SECRET_KEY = env_str("RELEASEDESK_SECRET_KEY", "insecure-development-key" if DEBUG else "")
if not SECRET_KEY:
    # Without DEBUG a key is mandatory; the demo and test commands set one.
    raise ImproperlyConfigured("RELEASEDESK_SECRET_KEY: required unless RELEASEDESK_DEBUG=1")
ALLOWED_HOSTS = env_list(
    "RELEASEDESK_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("RELEASEDESK_CSRF_TRUSTED_ORIGINS", [])
BASE_URL = env_str("RELEASEDESK_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if not BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"RELEASEDESK_BASE_URL: {BASE_URL!r} must start with http:// or https://"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "releasedesk.core",
    "releasedesk.accounts",
    "releasedesk.audit",
    "releasedesk.catalog",
    "releasedesk.policies",
    "releasedesk.releases",
    "releasedesk.timeline",
    "releasedesk.notes",
    "releasedesk.calendars",
    "releasedesk.portal",
    "releasedesk.outbox",
    "releasedesk.tasks",
    "releasedesk.consent",
    "releasedesk.web",
]

MIDDLEWARE = [
    "releasedesk.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "releasedesk.urls"
WSGI_APPLICATION = "releasedesk.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "web:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("RELEASEDESK_DB_CONN_MAX_AGE", 60, minimum=0)
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from exc
    if _db["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured(
            f"DATABASE_URL: engine {_db['ENGINE']!r} is not supported (allowed: postgres://, sqlite://)"
        )
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "releasedesk.sqlite3"),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of
        # failing half-way through a transaction with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    DATABASES["default"].setdefault("TEST", {})
    # Tests run against a file (not :memory:) so several connections and processes share it.
    DATABASES["default"]["TEST"].setdefault("NAME", str(DATA_DIR / "test-releasedesk.sqlite3"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("de", "Deutsch")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("RELEASEDESK_MAX_BODY_BYTES", 1_048_576, minimum=1024)

# Mail (Django 6.1 MAILERS): SMTP by default; RELEASEDESK_EMAIL_BACKEND may name an anymail backend.
_smtp_ssl = env_bool("RELEASEDESK_SMTP_SSL", False)
_smtp_starttls = env_bool("RELEASEDESK_SMTP_STARTTLS", False)
if _smtp_ssl and _smtp_starttls:
    raise ImproperlyConfigured(
        "RELEASEDESK_SMTP_SSL and RELEASEDESK_SMTP_STARTTLS: set at most one"
    )
MAILERS = {
    "default": {
        "BACKEND": env_str(
            "RELEASEDESK_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
        ),
        "OPTIONS": {
            "host": env_str("RELEASEDESK_SMTP_HOST", "127.0.0.1"),
            "port": env_int("RELEASEDESK_SMTP_PORT", 25, minimum=1, maximum=65535),
            "username": env_str("RELEASEDESK_SMTP_USER", ""),
            "password": env_str("RELEASEDESK_SMTP_PASSWORD", ""),
            "use_tls": _smtp_starttls,
            "use_ssl": _smtp_ssl,
            "timeout": env_int("RELEASEDESK_SMTP_TIMEOUT", 20, minimum=1),
        },
    }
}
DEFAULT_FROM_EMAIL = env_str("RELEASEDESK_FROM_EMAIL", "ReleaseDesk <releases@localhost>")
# Signed bounce/complaint tracking webhook (/outbox/tracking/); empty disables it.
OUTBOX_TRACKING_SECRET = env_str("RELEASEDESK_TRACKING_WEBHOOK_SECRET", "")
# django-anymail (ESP backends and their tracking webhooks at /outbox/anymail/<esp>/tracking/):
# RELEASEDESK_ANYMAIL_<SETTING> becomes ANYMAIL["<SETTING>"], e.g.
# RELEASEDESK_ANYMAIL_POSTMARK_SERVER_TOKEN; the webhooks need RELEASEDESK_ANYMAIL_WEBHOOK_SECRET.
ANYMAIL = env_prefixed("RELEASEDESK_ANYMAIL_")

# Customer sign-in links and other signed links.
PORTAL_LINK_MAX_AGE = env_int("RELEASEDESK_PORTAL_LINK_MAX_AGE", 3600, minimum=60)
LOGIN_THROTTLE_LIMIT = env_int("RELEASEDESK_LOGIN_THROTTLE_LIMIT", 5, minimum=1)
LOGIN_THROTTLE_WINDOW = env_int("RELEASEDESK_LOGIN_THROTTLE_WINDOW", 900, minimum=1)

# Release notes (notes app): docs-portal export directory, knowledge-base webhook, sign-off roles.
NOTES_EXPORT_DIR = Path(
    env_str("RELEASEDESK_DOCS_EXPORT_DIR", str(DATA_DIR / "docs-export"))
).resolve()
NOTES_KB_WEBHOOK_URL = env_str("RELEASEDESK_KB_WEBHOOK_URL", "")
NOTES_KB_WEBHOOK_SECRET = env_str("RELEASEDESK_KB_WEBHOOK_SECRET", "")
NOTES_SIGNOFF_ROLES = env_list(
    "RELEASEDESK_NOTES_SIGNOFF_ROLES", ["product_manager", "customer_success_lead", "docs"]
)

# The embedded worker thread inside `releasedesk serve`.
EMBEDDED_WORKER = env_bool("RELEASEDESK_EMBEDDED_WORKER", True)

LOG_FORMAT = env_choice("RELEASEDESK_LOG_FORMAT", "json" if not DEBUG else "text", ("json", "text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "releasedesk.core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("RELEASEDESK_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}

NINJA_PAGINATION_MAX_LIMIT = 200
