"""Leaving no readable copy of deleted personal data in the database files.

SQLite: every connection runs with ``PRAGMA secure_delete=ON`` (settings), so deleted rows
and overwritten values are zeroed in the database file. The write-ahead log still holds the
pages as they were written until it is checkpointed and truncated; ``scrub_deleted_data``
does that after an erasure and in the nightly retention run.

PostgreSQL keeps dead row versions until VACUUM, and plain VACUUM only marks their space
reusable: ``scrub_deleted_data`` vacuums the tables that hold personal data every night
(retention task); physically removing the bytes needs ``VACUUM FULL`` of these tables in a
maintenance window (docs: README, "Personal data at rest"). WAL archives and backups keep
copies until they are rotated.
"""

from __future__ import annotations

import logging

from django.db import connection

logger = logging.getLogger(__name__)

# Tables whose rows hold phone numbers, names or message texts.
PERSONAL_DATA_TABLES = (
    "citizens_citizen",
    "citizens_botsession",
    "whatsapp_message",
    "whatsapp_messagestatusevent",
    "whatsapp_webhookevent",
    "inbox_conversation",
    "inbox_note",
    "django_session",
)


def scrub_deleted_data(*, vacuum_postgresql: bool = False) -> None:
    """Remove what deletes and updates left behind, as far as the database allows.

    Must run outside a transaction (VACUUM and a WAL checkpoint cannot run in one).
    """
    if connection.in_atomic_block:
        raise RuntimeError("scrub_deleted_data must run outside a transaction")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = cursor.fetchone()
            if busy:
                # A reader holds old pages; the next run (nightly) truncates the log.
                logger.info("storage.wal_checkpoint_busy")
        elif connection.vendor == "postgresql" and vacuum_postgresql:
            existing = set(connection.introspection.table_names(cursor))
            for table in PERSONAL_DATA_TABLES:
                if table in existing:
                    cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
