"""Writing the audit log: ``do_audit`` is the one way in, called by the actions it records.

Details hold ids, counts, field and role names; a value that looks like a phone number is
refused, so a careless caller fails loudly in the tests instead of storing one in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.http import HttpRequest

from townhall.audit.models import AuditEntry
from townhall.core import clock

logger = logging.getLogger(__name__)

Action = AuditEntry.Action
# Seven or more digits in a row (spaces, dashes, slashes and a leading + between them):
# what a phone number looks like. Ids of our rows never get that long in a city's lifetime.
PHONE_LIKE = re.compile(r"\+?\d(?:[\s\-/()]*\d){6,}")


class PersonalDataInAuditDetails(ValueError):
    """A detail of an audit entry looked like a phone number."""


def pseudonym(value: str) -> str:
    """A keyed hash of ``value`` (e.g. a user name typed at a failed login): equal inputs
    give equal pseudonyms, so repeated attempts can be told apart, but it cannot be read."""
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).digest()
    # Letters only (one per half byte), so a pseudonym never looks like a phone number.
    return "".join(chr(ord("a") + (byte >> 4)) + chr(ord("a") + (byte & 15)) for byte in digest[:8])


def mask_number(number: str) -> str:
    """A number search query as the log keeps it: the last two digits, the rest hidden."""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def _check_details(value: Any, path: str = "details") -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_details(item, f"{path}.{key}")
    elif isinstance(value, list | tuple | set):
        for index, item in enumerate(value):
            _check_details(item, f"{path}[{index}]")
    elif isinstance(value, str) and PHONE_LIKE.search(value):
        raise PersonalDataInAuditDetails(f"{path} looks like a phone number")


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def do_audit(
    action: str,
    *,
    acting_user: Any = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: object = "",
    details: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_name: str = "",
) -> AuditEntry:
    """Append one entry: ``acting_user`` did ``action`` to ``target`` (or the named type and
    id). Runs in the caller's transaction, so an action that rolls back leaves no entry."""
    details = dict(details or {})
    _check_details(details)
    if target is not None:
        target_type = target._meta.model_name or ""
        target_id = target.pk
    user = acting_user if getattr(acting_user, "is_authenticated", False) else None
    entry = AuditEntry.objects.create(
        actor=user,
        actor_name=actor_name or (user.get_username() if user is not None else ""),
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        details=details,
        ip_address=client_ip(request),
    )
    logger.info(
        "audit %s by %s on %s %s", action, entry.actor_name or "-", target_type, entry.target_id
    )
    return entry


def do_purge_expired_audit_entries(now: datetime | None = None) -> int:
    """Delete the entries older than ``settings.RETENTION["AUDIT_DAYS"]`` (staff names and
    addresses are personal data too); returns how many. The one way entries leave the log:
    the ORM refuses every delete (``AuditEntryQuerySet``), so this is plain SQL."""
    cutoff = (now or clock.now()) - timedelta(days=settings.RETENTION["AUDIT_DAYS"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {AuditEntry._meta.db_table} WHERE created_at < %s",  # noqa: S608
            [connection.ops.adapt_datetimefield_value(cutoff)],
        )
        deleted = cursor.rowcount
    logger.info("audit.purged entries=%d", deleted)
    return deleted
