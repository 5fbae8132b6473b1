"""The audit log's nightly retention."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from townhall.audit.actions import do_purge_expired_audit_entries


@db_periodic_task(crontab(minute="42", hour="3"))
def purge_expired_audit_entries() -> None:
    """Before the night's scrub of deleted data (04:07 UTC)."""
    do_purge_expired_audit_entries()
