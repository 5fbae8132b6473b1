"""Worker housekeeping that belongs to no single app: nightly jobs and a start-up hook."""

import gc
import logging

from django.contrib.sessions.backends.db import SessionStore
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from townhall.core import collector
from townhall.core.storage import scrub_deleted_data

logger = logging.getLogger(__name__)


@HUEY.on_startup()
def freeze_start_up_objects() -> None:
    """Once per worker process (Huey calls this in each worker thread as it starts): full
    collections stop walking Django and the libraries (50-100 ms each during a broadcast,
    long enough to miss send slots). Later threads would only pay another full collection
    and freeze what the first ones' tasks made meanwhile."""
    if gc.get_freeze_count() == 0:
        collector.freeze_start_up_objects()


@db_periodic_task(crontab(minute="47", hour="3"))
def clear_expired_sessions() -> None:
    """Django's ``clearsessions``: staff logins past SESSION_COOKIE_AGE leave the database
    (the audit log's entries: ``audit.tasks``)."""
    SessionStore.clear_expired()


@db_periodic_task(crontab(minute="7", hour="4"))
def scrub_database() -> None:
    """After the night's deletions (03:17-03:52): SQLite's write-ahead log truncated,
    PostgreSQL's tables with personal data vacuumed (see core.storage)."""
    scrub_deleted_data(vacuum_postgresql=True)
