"""Django settings, derived from the validated environment (see ``pagedesk.config``)."""

from __future__ import annotations

import hashlib
import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

from pagedesk.config import ConfigError, get_config

if "pytest" in sys.modules:
    # The test suite never touches the developer's own data (demo database, queue).
    os.environ.setdefault("PAGEDESK_DATA_DIR", os.path.join(".pagedesk", "test"))
    os.environ.setdefault("PAGEDESK_SECRET_KEY", "test-secret-key-not-for-production")

try:
    CONFIG = get_config()
except ConfigError as exc:  # a clear message beats a traceback at start-up
    sys.stderr.write(f"pagedesk: {exc}\n")
    raise SystemExit(2) from None

DATA_DIR: Path = CONFIG.data_dir.resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = CONFIG.resolved_secret_key()
DEBUG = CONFIG.debug
ALLOWED_HOSTS = [h.strip() for h in CONFIG.allowed_hosts.split(",") if h.strip()]
if DEBUG:
    ALLOWED_HOSTS.append("*")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "axes",
    "django_htmx",
    "pagedesk.core",
    "pagedesk.inbox",
    "pagedesk.live",
    "pagedesk.delivery",
    "pagedesk.web",
    "pagedesk.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the ASGI app: no separate server, no collectstatic.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside the middlewares that set cookies: marks them Secure on HTTPS requests.
    "pagedesk.web.https.SecureCookiesOverHttpsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Lets admin actions record who did them, from which address (pagedesk.audit).
    "pagedesk.audit.context.AuditContextMiddleware",
    "pagedesk.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it turns a lockout found during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pagedesk.urls"
ASGI_APPLICATION = "pagedesk.asgi.application"

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
                "pagedesk.web.context.links",
                "pagedesk.web.context.workspace",
            ],
        },
    },
]

if CONFIG.database_url:
    DATABASES = {
        "default": dj_database_url.parse(
            CONFIG.database_url, conn_max_age=60, conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "pagedesk.sqlite3",
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write
        # lock up front so concurrent writers queue (busy_timeout) instead of failing.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
if "pytest" in sys.modules:
    # Tests open connections from server threads; close them after each use so the
    # test database can be dropped at the end.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql") and CONFIG.db_pool_size:
    # A pool per process. The ASGI server runs each request on a thread of its own
    # and Django's connections belong to a thread, so without one every page opened
    # a new PostgreSQL connection: a server process forked, its caches cold, about
    # 20 ms of a search page (bench/inbox_scale.py). Health checks stay on: the pool
    # then checks a connection before handing it out (a restarted server).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": CONFIG.db_pool_size,
        # Seconds a thread waits for a connection (all busy, or the server down)
        # before its request fails: under Meta's 5 s for answering a webhook.
        "timeout": 4,
    }
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # One test database per data dir, so two test runs never drop each other's.
    suffix = hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:8]
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{suffix}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if CONFIG.redis_url:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "pagedesk",
        "url": CONFIG.redis_url,
        "immediate": False,
    }
else:
    HUEY = {
        "huey_class": "pagedesk.queue.EmbeddedHuey",
        "name": "pagedesk",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": False,
    }
HUEY["consumer"] = {
    "workers": 2,
    "worker_type": "thread",
    # An idle worker checks the queue at least twice a second (Huey's default backs off
    # to 10 s, which a customer would feel as a 10-second delay after a quiet spell).
    "initial_delay": 0.02,
    "backoff": 1.15,
    "max_delay": 0.5,
}

PAGEDESK_GRAPH_URL = CONFIG.graph_url
if "pytest" in sys.modules and "PAGEDESK_GRAPH_URL" not in os.environ:
    # Tests never reach Meta: anything not pointed at a sandbox fails fast on loopback.
    PAGEDESK_GRAPH_URL = "http://127.0.0.1:9"
PAGEDESK_GRAPH_VERSION = CONFIG.graph_version
PAGEDESK_MAX_WEBHOOK_BYTES = CONFIG.max_webhook_bytes

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses locked-out username + address pairs.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/sign-in/"
LOGIN_REDIRECT_URL = "/inbox/"

# Login throttling: 5 failures for one username from one address lock that pair for
# 15 minutes; the sign-in page explains it (pagedesk.web.views_account.locked_out).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "pagedesk.web.views_account.locked_out"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Pages carry the CSRF token themselves (forms, hx-headers); scripts never need the cookie.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
PAGEDESK_ENCRYPTION_KEY = CONFIG.encryption_key or None
PAGEDESK_INGEST_MAX_ATTEMPTS = 5

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing one
# WhiteNoise serves the apps' static folders directly (no collectstatic step).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A database or Redis outage: one traceback every 30 s, not one per failed job.
    "filters": {"outage": {"()": "pagedesk.ops.outage_log.OutageFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["outage"]}
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # httpx logs every request URL at INFO, and Graph URLs carry access tokens.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "huey": {"level": "WARNING"},
    },
}
