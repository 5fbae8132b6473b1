"""Trigram indexes for substring search (``icontains``) on PostgreSQL.

``field__icontains`` compiles to ``UPPER(column) LIKE UPPER('%word%')``; a GIN index of
``upper(column)`` with ``gin_trgm_ops`` answers it without reading every row. These indexes
live outside Django's model state because SQLite has no such index type, so migrations
create them with ``RunPython`` through these functions. Where the database user may not
create the ``pg_trgm`` extension, the migration goes on without the index: search still
works, only slower, and the log says so.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)


def create_trigram_index(schema_editor: Any, *, table: str, column: str, name: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:  # e.g. no privilege: must not stop the install
        logger.warning("migration.no_trigram_index index=%s reason=%s", name, type(error).__name__)
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (upper({column}) gin_trgm_ops)"
    )


def drop_trigram_index(schema_editor: Any, *, name: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def estimated_rows(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` returns (from its statistics, no
    rows read; about a millisecond), or None where the database gives no estimate."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])
