"""Django settings for Townhall.

Everything that differs between a laptop demo and a production city install comes from
environment variables. Without any, Townhall runs embedded: SQLite in ``data/``, tasks on
Huey's SQLite storage, the Cloud API pointed at the built-in simulator.
"""

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

from townhall.core import clock

# End-to-end test processes run on the test's clock (a no-op without the variable).
clock.follow_test_clock()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TOWNHALL_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _embedded_secret_key() -> str:
    """A per-install random key kept in the data folder, so the embedded mode is safe
    without configuration and sessions survive restarts."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = os.environ.get("TOWNHALL_SECRET_KEY") or _embedded_secret_key()
DEBUG = env_bool("TOWNHALL_DEBUG", False)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("TOWNHALL_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("TOWNHALL_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "huey.contrib.djhuey",
    "townhall.core",
    "townhall.whatsapp",
    "townhall.citizens",
    "townhall.inbox",
    "townhall.channel",
    "townhall.staff",
    "townhall.web",
    "townhall.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "townhall.urls"
WSGI_APPLICATION = "townhall.wsgi.application"

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
                "django.template.context_processors.i18n",
                "townhall.core.context_processors.city",
                "townhall.inbox.context_processors.inbox",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'townhall.sqlite3'}"),
        conn_max_age=int(os.environ.get("TOWNHALL_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and tests share one file: WAL lets readers run beside the single
    # writer, IMMEDIATE transactions avoid "database is locked" on lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {
        # A file, not memory: end-to-end tests run the web server and worker as separate
        # processes that must see the test database.
        "NAME": str(DATA_DIR / f"test_townhall{os.environ.get('PYTEST_XDIST_WORKER', '')}.sqlite3"),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task engine (Huey) ------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
TASKS_IMMEDIATE = env_bool("TOWNHALL_TASKS_IMMEDIATE", False)
HUEY_NAME = os.environ.get("TOWNHALL_HUEY_NAME", "townhall")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": HUEY_NAME,
        "url": REDIS_URL,
        "immediate": TASKS_IMMEDIATE,
        "consumer": {
            "workers": int(os.environ.get("TOWNHALL_WORKERS", "4")),
            "worker_type": "thread",
        },
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": HUEY_NAME,
        "filename": os.environ.get("TOWNHALL_HUEY_FILE", str(DATA_DIR / "huey.sqlite3")),
        "immediate": TASKS_IMMEDIATE,
        "consumer": {
            "workers": int(os.environ.get("TOWNHALL_WORKERS", "2")),
            "worker_type": "thread",
        },
    }

# --- WhatsApp Cloud API -------------------------------------------------------------------------
# The base URL points at Meta in production and at the simulator for demo, tests and benchmarks.
WHATSAPP: dict[str, Any] = {
    "API_BASE_URL": os.environ.get("WHATSAPP_API_BASE_URL", "http://127.0.0.1:8001").rstrip("/"),
    "API_VERSION": os.environ.get("WHATSAPP_API_VERSION", "v21.0"),
    "PHONE_NUMBER_ID": os.environ.get("WHATSAPP_PHONE_NUMBER_ID", "100000000000001"),
    "DISPLAY_PHONE_NUMBER": os.environ.get("WHATSAPP_DISPLAY_PHONE_NUMBER", "4929321000000"),
    "BUSINESS_ACCOUNT_ID": os.environ.get("WHATSAPP_BUSINESS_ACCOUNT_ID", "200000000000001"),
    "ACCESS_TOKEN": os.environ.get("WHATSAPP_ACCESS_TOKEN", "simulator-access-token"),
    "APP_SECRET": os.environ.get("WHATSAPP_APP_SECRET", "simulator-app-secret"),
    "VERIFY_TOKEN": os.environ.get("WHATSAPP_VERIFY_TOKEN", "simulator-verify-token"),
    "HTTP_TIMEOUT_SECONDS": float(os.environ.get("WHATSAPP_HTTP_TIMEOUT_SECONDS", "10")),
    # Meta documents webhook payloads of up to ~3 MB; anything far above is not Meta.
    "WEBHOOK_MAX_BODY_BYTES": int(
        os.environ.get("WHATSAPP_WEBHOOK_MAX_BODY_BYTES", str(4 * 1024 * 1024))
    ),
    # Raw webhook bodies hold personal data; processed ones are deleted after this many days.
    "WEBHOOK_RETENTION_DAYS": int(os.environ.get("WHATSAPP_WEBHOOK_RETENTION_DAYS", "14")),
    "SEND_MAX_ATTEMPTS": int(os.environ.get("WHATSAPP_SEND_MAX_ATTEMPTS", "6")),
    "SEND_RETRY_BASE_SECONDS": float(os.environ.get("WHATSAPP_SEND_RETRY_BASE_SECONDS", "2")),
    # Meta's throughput for the number's tier: 80/s by default, up to 1,000/s (see rate_limit).
    "SEND_RATE_PER_SECOND": float(os.environ.get("WHATSAPP_SEND_RATE_PER_SECOND", "80")),
    # After a 130429 (throughput exceeded) all dispatchers of the number pause this long.
    "THROUGHPUT_BACKOFF_SECONDS": float(os.environ.get("WHATSAPP_THROUGHPUT_BACKOFF", "1")),
    # Meta's pair limit: about one message per 6 s to one citizen, short bursts allowed.
    "PAIR_LIMIT_BURST": float(os.environ.get("WHATSAPP_PAIR_LIMIT_BURST", "6")),
    "PAIR_LIMIT_INTERVAL_SECONDS": float(os.environ.get("WHATSAPP_PAIR_LIMIT_INTERVAL", "6")),
    # Messages claimed and sent together by one dispatcher; each batch keeps this many
    # requests in flight and costs one claim, one consent query and one bulk update.
    "SEND_BATCH_SIZE": int(os.environ.get("WHATSAPP_SEND_BATCH_SIZE", "200")),
    # A send without an answer (timeout, reset, worker killed) waits this long for a status
    # webhook naming it before it is sent again (see docs/architecture.md, "Exactly once").
    "SEND_RECONCILE_SECONDS": float(os.environ.get("WHATSAPP_SEND_RECONCILE_SECONDS", "120")),
    # Handling an inbound message (bot, inbox) is tried this often; then it waits, visible in
    # the message log as "handling failed", until a staff member retries it.
    "INBOUND_MAX_ATTEMPTS": int(os.environ.get("WHATSAPP_INBOUND_MAX_ATTEMPTS", "5")),
    # Called by the worker for each newly stored inbound message, in order. whatsapp/ never
    # imports the apps that react to messages; they are named here.
    "INBOUND_HANDLERS": [
        "townhall.citizens.handlers.on_inbound_message",
        "townhall.inbox.handlers.on_inbound_message",
    ],
    # Decides whether a citizen may be sent a message (consent); see whatsapp/policy.py.
    "SEND_POLICY": "townhall.citizens.policy",
}
# The request body limit must admit Meta's largest webhooks; the webhook view enforces its own.
DATA_UPLOAD_MAX_MEMORY_SIZE = WHATSAPP["WEBHOOK_MAX_BODY_BYTES"]

# --- City ---------------------------------------------------------------------------------------
CITY = {
    "NAME": os.environ.get("TOWNHALL_CITY_NAME", "Musterstadt"),
    "STATE": os.environ.get("TOWNHALL_CITY_STATE", "NW"),
}
# Where citizens reach the public pages (subscribe, preferences, data export links).
PUBLIC_BASE_URL = os.environ.get("TOWNHALL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Uploads (post images and documents). Not served under MEDIA_URL: each file is served by
# the route of the thing it belongs to, which decides who may see it (channel.public_views).
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
# A message from a citizen who left the chat: False (default) answers with the subscription
# hint; True puts it in the inbox with a visible "not subscribed" flag.
INBOX_ACCEPT_UNSUBSCRIBED = env_bool("TOWNHALL_INBOX_ACCEPT_UNSUBSCRIBED", False)
# The office is closed on the public holidays of the city's state (CITY["STATE"]).
INBOX_OBSERVES_HOLIDAYS = env_bool("TOWNHALL_OFFICE_OBSERVES_HOLIDAYS", True)
# Added under every staff reply; {staff_name} is the replying staff member. Empty: none.
INBOX_SIGNATURE = os.environ.get("TOWNHALL_INBOX_SIGNATURE", "– Ihr Bürgermeisterbüro")
# The approved template that re-opens a conversation after the 24-hour window.
INBOX_REENGAGEMENT_TEMPLATE = {
    "NAME": os.environ.get("TOWNHALL_REENGAGEMENT_TEMPLATE", "wieder_erreichbar"),
    "LANGUAGE": os.environ.get("TOWNHALL_REENGAGEMENT_TEMPLATE_LANGUAGE", "de"),
}
# Called with (citizen, pseudonym) when a citizen's data is erased, in order; each app
# removes the personal data it holds.
CITIZEN_ERASURE_HANDLERS = ["townhall.inbox.actions.do_erase_conversation"]
# Seconds between a confirmed LÖSCHEN and the erasure, so the goodbye message is sent first.
ERASURE_DELAY_SECONDS = float(os.environ.get("TOWNHALL_ERASURE_DELAY_SECONDS", "30"))

# --- Info channel -------------------------------------------------------------------------------
CHANNEL: dict[str, Any] = {
    # Meta's messaging limit: unique citizens reached with templates in a rolling 24 hours,
    # per business portfolio since October 2025 (250, 2000, 10000, 100000 or "unlimited").
    # Townhall counts its own template sends against it; see channel/limits.py.
    "MESSAGING_LIMIT": os.environ.get("TOWNHALL_MESSAGING_LIMIT", "2000"),
    # Normal posts wait through these hours (city time, "HH:MM-HH:MM"; empty = none);
    # urgent alerts ignore them.
    "QUIET_HOURS": os.environ.get("TOWNHALL_CHANNEL_QUIET_HOURS", "21:00-07:00"),
    # The approved template for citizens whose 24-hour window is closed, when a post names
    # none (the publish_post command, official warnings).
    "DEFAULT_TEMPLATE": os.environ.get("TOWNHALL_CHANNEL_DEFAULT_TEMPLATE", "info_kanal_meldung"),
    # A post with a poll of N options reaches citizens whose window is closed with the
    # approved template of this name ({count} = N): its N quick-reply buttons are "1" … "N".
    "POLL_TEMPLATE": os.environ.get("TOWNHALL_CHANNEL_POLL_TEMPLATE", "info_kanal_umfrage_{count}"),
    # The poll's results to its participants whose window is closed.
    "POLL_RESULTS_TEMPLATE": os.environ.get(
        "TOWNHALL_CHANNEL_POLL_RESULTS_TEMPLATE", "info_kanal_umfrage_ergebnis"
    ),
}
# Handlers of tapped buttons and list rows whose id starts with "<kind>:", for kinds the bot
# does not own itself (citizens/ never imports the apps that send those buttons).
BOT_CHOICE_HANDLERS = {"poll": "townhall.channel.poll_actions.on_poll_choice"}

# --- Auth, i18n, static -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:message_log"
LOGOUT_REDIRECT_URL = "staff:login"

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "townhall" / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
# Static files are served from the apps (WHITENOISE_USE_FINDERS); the folder only has to exist.
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Logging ------------------------------------------------------------------------------------
# Phone numbers and message texts are personal data: code logs townhall.core.privacy.redact()
# of a wa_id, never the number or the text itself.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TOWNHALL_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
