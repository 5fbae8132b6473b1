"""A trigram index for the inbox search on PostgreSQL.

``text__icontains`` compiles to ``UPPER(text) LIKE UPPER('%word%')``; a GIN index of
``upper(text)`` with ``gin_trgm_ops`` answers it without reading every message. The index
lives outside Django's model state because SQLite has no such index type. Where the
database user may not create the ``pg_trgm`` extension, the migration goes on without the
index: search still works, only slower (the log says so).
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

INDEX_NAME = "whatsapp_message_text_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # noqa: BLE001 - a missing privilege must not stop the install
        logger.warning("migration.no_trigram_index reason=%s", type(error).__name__)
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON whatsapp_message "
        "USING gin (upper(text) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    dependencies = [("whatsapp", "0002_message_purpose")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
