"""Django settings for Townhall.

Everything that differs between a laptop demo and a production city install comes from
environment variables. Without any, Townhall runs embedded: SQLite in ``data/``, tasks on
Huey's SQLite storage, the Cloud API pointed at the built-in simulator.
"""

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE
from django.utils.translation import gettext_lazy as _

from townhall.core import clock
from townhall.core.deployment import SIMULATOR_CREDENTIALS, is_loopback_url

# End-to-end test processes run on the test's clock (a no-op without the variable).
clock.follow_test_clock()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TOWNHALL_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _owner_only(path: Path, mode: int) -> None:
    """Personal data at rest: the data folder and its files are the service user's alone.
    A folder we do not own (shared by an administrator on purpose) is left as it is."""
    with contextlib.suppress(PermissionError):
        path.chmod(mode)


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 before SQLite opens it (SQLite gives its -wal and
    -shm files the database file's mode; an empty file is an empty database)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    _owner_only(path, 0o600)


_owner_only(DATA_DIR, 0o700)


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

# --- HTTPS (production, behind a TLS-terminating proxy) -------------------------------------------
# TOWNHALL_HTTPS=1 turns on everything a public install needs; each part can be tuned.
HTTPS = env_bool("TOWNHALL_HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("TOWNHALL_SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("TOWNHALL_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("TOWNHALL_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TOWNHALL_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("TOWNHALL_HSTS_PRELOAD", HTTPS)
# The header a trusted reverse proxy sets to say the client used HTTPS, e.g.
# "X-Forwarded-Proto" (the proxy must overwrite a client's own). Empty: no proxy header.
_PROXY_SSL_HEADER = os.environ.get("TOWNHALL_PROXY_SSL_HEADER", "").strip()
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
# Staff pages hold personal data: no referrer leaves the site, no framing.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# A strict Content-Security-Policy: scripts only from our static files (no inline scripts,
# no event handler attributes, no eval; htmx runs with allowEval off); styles from our static
# files and the <style> blocks that carry the response's nonce (request.csp_nonce), no style
# attributes (a page that needs a computed size or colour draws SVG or nonced rules).
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

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "huey.contrib.djhuey",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "townhall.core",
    "townhall.citysettings",
    "townhall.whatsapp",
    "townhall.citizens",
    "townhall.inbox",
    "townhall.channel",
    "townhall.audit",
    "townhall.staff",
    "townhall.web",
    "townhall.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After htmx (background polls do not count as activity) and OTP (who is verified).
    "townhall.staff.middleware.IdleSessionMiddleware",
    "townhall.staff.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: it turns a lockout during the login into its response.
    "axes.middleware.AxesMiddleware",
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
                "townhall.web.context_processors.navigation",
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
    # secure_delete: deleted and overwritten content is zeroed on disk, on every build of
    # SQLite (erasure must leave no readable copy; see core.storage for the WAL file).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
        ),
    }
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        _private_file(Path(DATABASES["default"]["NAME"]))
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
    HUEY_FILE = os.environ.get("TOWNHALL_HUEY_FILE", str(DATA_DIR / "huey.sqlite3"))
    _private_file(Path(HUEY_FILE))
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": HUEY_NAME,
        "filename": HUEY_FILE,
        "immediate": TASKS_IMMEDIATE,
        "consumer": {
            "workers": int(os.environ.get("TOWNHALL_WORKERS", "2")),
            "worker_type": "thread",
        },
    }

# --- WhatsApp Cloud API -------------------------------------------------------------------------
# The base URL points at Meta in production and at the simulator for demo, tests and benchmarks.
WHATSAPP_API_BASE_URL = os.environ.get("WHATSAPP_API_BASE_URL", "http://127.0.0.1:8001").rstrip("/")


def _credential(variable: str) -> str:
    """The simulator's public credential is a default only for the loopback simulator;
    anywhere else a missing variable stays empty (and core.checks refuses to start)."""
    default = SIMULATOR_CREDENTIALS[variable] if is_loopback_url(WHATSAPP_API_BASE_URL) else ""
    return os.environ.get(variable, default)


WHATSAPP: dict[str, Any] = {
    "API_BASE_URL": WHATSAPP_API_BASE_URL,
    "API_VERSION": os.environ.get("WHATSAPP_API_VERSION", "v21.0"),
    "PHONE_NUMBER_ID": os.environ.get("WHATSAPP_PHONE_NUMBER_ID", "100000000000001"),
    "DISPLAY_PHONE_NUMBER": os.environ.get("WHATSAPP_DISPLAY_PHONE_NUMBER", "4929321000000"),
    "BUSINESS_ACCOUNT_ID": os.environ.get("WHATSAPP_BUSINESS_ACCOUNT_ID", "200000000000001"),
    "ACCESS_TOKEN": _credential("WHATSAPP_ACCESS_TOKEN"),
    "APP_SECRET": _credential("WHATSAPP_APP_SECRET"),
    "VERIFY_TOKEN": _credential("WHATSAPP_VERIFY_TOKEN"),
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
    # After a 130429 (throughput exceeded) all dispatchers of the number pause this long,
    # twice as long after each further one of the same batch (see actions._send_paced).
    "THROUGHPUT_BACKOFF_SECONDS": float(os.environ.get("WHATSAPP_THROUGHPUT_BACKOFF", "0.25")),
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
# Unless set, the address the web server listens on (``./run.sh demo`` with TOWNHALL_HOST and
# TOWNHALL_PORT), so that a demo on another port sends links that work.
PUBLIC_BASE_URL = (
    os.environ.get("TOWNHALL_PUBLIC_URL")
    or "http://{host}:{port}".format(
        host=os.environ.get("TOWNHALL_HOST", "127.0.0.1"),
        port=os.environ.get("TOWNHALL_PORT", "8000"),
    )
).rstrip("/")
# Uploads (post images and documents). Not served under MEDIA_URL: each file is served by
# the route of the thing it belongs to, which decides who may see it (channel.public_views).
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
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
# Called with the citizen for their data export (DSGVO Art. 15); each returns its part as a
# dict of JSON-ready values, merged into citizens.queries.citizen_export.
CITIZEN_EXPORT_HANDLERS = [
    "townhall.inbox.queries.citizen_conversation_export",
    "townhall.channel.poll_queries.citizen_poll_export",
]
# Called with (citizen, stranger) when a citizen's WhatsApp number changed and another
# citizen row already had the new number (``stranger``, deleted afterwards; None if there was
# none): each app moves what it holds of the stranger to the citizen.
CITIZEN_NUMBER_CHANGE_HANDLERS = [
    "townhall.inbox.actions.do_merge_conversation",
    "townhall.channel.actions.do_merge_post_deliveries",
    "townhall.channel.poll_actions.do_merge_poll_answers",
]
# Seconds between a confirmed LÖSCHEN and the erasure, so the goodbye message is sent first.
ERASURE_DELAY_SECONDS = float(os.environ.get("TOWNHALL_ERASURE_DELAY_SECONDS", "30"))

# --- Retention ----------------------------------------------------------------------------------
# How long personal data is kept, in days (defaults documented in README, "Retention"). Nightly
# Huey tasks apply it; processed webhook bodies: WHATSAPP["WEBHOOK_RETENTION_DAYS"].
RETENTION = {
    # Signed webhook bodies we could not read or process (kept for inspection).
    "REJECTED_WEBHOOK_DAYS": int(os.environ.get("TOWNHALL_RETENTION_REJECTED_WEBHOOK_DAYS", "30")),
    # Message texts (and notes, preview) of conversations resolved this long ago; the rows
    # stay, empty, for the statistics.
    "RESOLVED_CONVERSATION_DAYS": int(
        os.environ.get("TOWNHALL_RETENTION_RESOLVED_CONVERSATION_DAYS", "90")
    ),
    # Message texts of citizens without an inbox conversation (bot dialogues, info-channel
    # deliveries, poll taps, reactions) this long after they were sent or received.
    "MESSAGE_DAYS": int(os.environ.get("TOWNHALL_RETENTION_MESSAGE_DAYS", "90")),
    # Citizens without an active subscription and without any contact (a message either
    # way, a consent record) for this long are erased as on request: the number becomes a
    # pseudonym, the consent records stay, anonymous. Three years: the regular limitation
    # period (BGB § 195), within which the city may have to prove a consent.
    "FORMER_CITIZEN_DAYS": int(os.environ.get("TOWNHALL_RETENTION_FORMER_CITIZEN_DAYS", "1095")),
    # Bot sessions (a pending confirmation, the answers of the sign-up dialogue) this long
    # after they expired.
    "BOT_SESSION_DAYS": int(os.environ.get("TOWNHALL_RETENTION_BOT_SESSION_DAYS", "1")),
    # Entries of the audit log of staff actions (audit.tasks).
    "AUDIT_DAYS": int(os.environ.get("TOWNHALL_RETENTION_AUDIT_DAYS", "365")),
}
# Staff logins expire after this many seconds (Django's default: two weeks); expired
# sessions are deleted nightly.
SESSION_COOKIE_AGE = int(os.environ.get("TOWNHALL_SESSION_AGE_SECONDS", str(14 * 24 * 3600)))

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
    # When citizens who chose the daily summary get it (city time, "HH:MM", wall clock).
    "DIGEST_TIME": os.environ.get("TOWNHALL_CHANNEL_DIGEST_TIME", "18:00"),
    # The approved template of the daily summary for citizens whose 24-hour window is closed.
    "DIGEST_TEMPLATE": os.environ.get("TOWNHALL_CHANNEL_DIGEST_TEMPLATE", "tageszusammenfassung"),
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
# The start page sends each role to the first page it may open (see web/navigation.py).
LOGIN_REDIRECT_URL = "staff:home"
LOGOUT_REDIRECT_URL = "staff:login"
AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: refuses locked-out users and IP addresses before any check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins: the 6th wrong password within the cool-off time is refused (per user name
# and, separately, per IP address), and so is every login after it until the time is over.
AXES_FAILURE_LIMIT = int(os.environ.get("TOWNHALL_LOGIN_FAILURE_LIMIT", "6"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("TOWNHALL_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "townhall.staff.views_auth.locked_out"
# Successful logins are in our audit log; axes keeps only what it needs to count failures.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# A staff session ends after this much inactivity (background polls of open pages do not
# count); see staff/middleware.py.
SESSION_IDLE_TIMEOUT = timedelta(
    minutes=float(os.environ.get("TOWNHALL_SESSION_IDLE_MINUTES", "30"))
)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
OTP_TOTP_ISSUER = f"Townhall {os.environ.get('TOWNHALL_CITY_NAME', 'Musterstadt')}"
# Password reset mails: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = os.environ.get(
    "TOWNHALL_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("TOWNHALL_EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("TOWNHALL_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("TOWNHALL_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("TOWNHALL_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("TOWNHALL_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("TOWNHALL_EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("TOWNHALL_EMAIL_FROM", "townhall@localhost")

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "townhall" / "locale"]
# Day first and a 24-hour clock in every language (Django's English is American).
FORMAT_MODULE_PATH = ["townhall.formats"]
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
    # Signed-link tokens are credentials: removed from request paths in log lines, on the
    # loggers that log paths and on the handler for anything else.
    "filters": {"redact_link_tokens": {"()": "townhall.core.logging.RedactLinkTokensFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_link_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("TOWNHALL_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"filters": ["redact_link_tokens"]},
        "django.server": {"filters": ["redact_link_tokens"]},
        "granian.access": {"filters": ["redact_link_tokens"]},
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
