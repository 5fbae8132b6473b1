"""Django settings of the standalone simulator process (``python -m townhall.simulator``).

No database: the simulator keeps its state in memory (see ``engine``). It is a development
and test tool that stands in for Meta; do not expose it on public networks.
"""

import os
import secrets
from pathlib import Path

from csp.constants import NONCE

from townhall.core import clock

# In end-to-end tests the simulator runs on the test's clock (a no-op without the variable).
clock.follow_test_clock()

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("SIMULATOR_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("SIMULATOR_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "townhall.simulator",
]

MIDDLEWARE = [
    # First: a foreign Host header (DNS rebinding of the demo's loopback port) gets 400.
    "townhall.simulator.middleware.AllowedHostsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# The same strict policy as Townhall's pages (see townhall/settings.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

ROOT_URLCONF = "townhall.simulator.urls"
WSGI_APPLICATION = "townhall.simulator.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES: dict[str, dict[str, str]] = {}

LANGUAGE_CODE = "de"
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"

# Control API requests may carry base64 media; Meta's own media limit is 100 MB for documents.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

# Phone numbers and message texts never appear in log lines: code logs ids and counts, the
# access log is off and a filter masks numbers in framework messages (URLs of phone pages).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_numbers": {"()": "townhall.simulator.log_filters.RedactNumbersFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_numbers"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("SIMULATOR_LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
