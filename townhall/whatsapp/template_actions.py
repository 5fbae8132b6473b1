"""Every write to message templates: drafts, submission to Meta, review statuses.

The lifecycle: a draft is written in Townhall (``do_save_template_draft``), checked against
Meta's rules and submitted (``do_submit_template`` → ``POST /{WABA_ID}/message_templates``,
status ``pending``); Meta's decision arrives by the ``message_template_status_update``
webhook (``do_apply_template_statuses``, called by the webhook processing) and by the
periodic ``GET /{WABA_ID}/message_templates`` (``do_sync_templates``), which also imports
templates written in WhatsApp Manager. Rules and Meta's formats live in ``templates.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from townhall.core import clock
from townhall.whatsapp import client as client_module
from townhall.whatsapp.errors import CloudAPIError
from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.templates import (
    STATUS_FROM_META,
    check_template,
    fields_from_meta,
    submission_payload,
)
from townhall.whatsapp.types import TemplateStatusUpdate

logger = logging.getLogger(__name__)

# What staff may write; status, Meta's id and the review fields are set by the lifecycle.
EDITABLE_FIELDS = (
    "name",
    "language",
    "category",
    "header_format",
    "header_text",
    "header_example",
    "header_media_link",
    "body",
    "body_examples",
    "footer",
    "buttons",
    "message_send_ttl_seconds",
)
# Meta lets a template be changed while it is not in review or approved.
EDITABLE_STATUSES = (MessageTemplate.Status.DRAFT, MessageTemplate.Status.REJECTED)


class TemplateNotEditable(ValueError):
    """The template is in review or approved at Meta; the text says so, for staff."""


class TemplateInvalid(ValueError):
    """The template breaks Meta's rules; ``problems`` lists them for staff."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def do_save_template_draft(
    template: MessageTemplate | None, values: Mapping[str, Any], *, actor: Any
) -> MessageTemplate:
    """Create a draft (``template`` None) or change a draft or rejected template; a changed
    rejected template becomes a draft again. Rule violations do not stop saving a draft:
    they are shown, and stop the submission."""
    with transaction.atomic():
        if template is None:
            template = MessageTemplate(created_by=actor if getattr(actor, "pk", None) else None)
        else:
            template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
            if template.status not in EDITABLE_STATUSES:
                raise TemplateNotEditable(
                    _("The template is %(status)s at Meta and cannot be changed.")
                    % {"status": template.get_status_display()}
                )
        for field_name in EDITABLE_FIELDS:
            if field_name in values:
                setattr(template, field_name, values[field_name])
        if template.status == MessageTemplate.Status.REJECTED:
            template.status = MessageTemplate.Status.DRAFT
            template.status_updated_at = clock.now()
        template.save()
    logger.info("whatsapp.template_saved id=%s name=%s", template.pk, template.name)
    return template


def do_submit_template(template: MessageTemplate, *, actor: Any) -> MessageTemplate:
    """Check the template against Meta's rules and submit it for review.

    Raises ``TemplateInvalid`` (nothing sent) or ``TemplateNotEditable``. A refusal by Meta
    keeps it a draft with Meta's message as the reason and re-raises the ``CloudAPIError``.
    A template Meta rejected before is submitted as a change of the same template.
    """
    template = MessageTemplate.objects.get(pk=template.pk)
    if template.status not in EDITABLE_STATUSES:
        raise TemplateNotEditable(
            _("The template is %(status)s at Meta and cannot be submitted again.")
            % {"status": template.get_status_display()}
        )
    problems = check_template(template)
    if problems:
        raise TemplateInvalid(problems)
    api = client_module.get_client()
    # No lock is held during the request: Meta refuses a second template with the same name
    # and language, so a double click cannot create two.
    try:
        if template.provider_id:
            answer = api.edit_template(template.provider_id, submission_payload(template))
            answer.setdefault("id", template.provider_id)
            answer.setdefault("status", "PENDING")
        else:
            answer = api.create_template(submission_payload(template))
    except CloudAPIError as error:
        reason = (error.details or error.message or type(error).__name__)[:500]
        MessageTemplate.objects.filter(pk=template.pk, status__in=EDITABLE_STATUSES).update(
            status=MessageTemplate.Status.DRAFT,
            status_reason=reason,
            status_updated_at=clock.now(),
        )
        logger.warning(
            "whatsapp.template_submission_refused id=%s class=%s code=%s",
            template.pk,
            type(error).__name__,
            error.code,
        )
        raise
    now = clock.now()
    status = STATUS_FROM_META.get(str(answer.get("status", "")).upper(), "pending")
    # A webhook about this template may already have arrived and been applied; it wins.
    MessageTemplate.objects.filter(pk=template.pk, status__in=EDITABLE_STATUSES).update(
        status=status,
        status_reason="",
        provider_id=str(answer["id"]),
        submitted_at=now,
        status_updated_at=now,
    )
    MessageTemplate.objects.filter(pk=template.pk, provider_id="").update(
        provider_id=str(answer["id"]), submitted_at=now
    )
    logger.info(
        "whatsapp.template_submitted id=%s by=%s status=%s",
        template.pk,
        getattr(actor, "pk", None),
        status,
    )
    template.refresh_from_db()
    return template


def do_apply_template_statuses(updates: Iterable[TemplateStatusUpdate]) -> int:
    """Apply Meta's review decisions (status webhooks); returns how many templates changed.
    Caller may hold a transaction (the webhook processing does)."""
    changed = 0
    now = clock.now()
    for update in updates:
        status = STATUS_FROM_META.get(update.event)
        if status is None:
            logger.info("whatsapp.template_event_ignored event=%s", update.event[:32])
            continue
        reason = "" if update.reason.upper() in ("", "NONE") else update.reason
        values: dict[str, Any] = {
            "status": status,
            "status_reason": reason[:500],
            "status_updated_at": now,
        }
        if update.template_id:
            values["provider_id"] = update.template_id
        if update.category.lower() in MessageTemplate.Category.values:
            values["category"] = update.category.lower()
        count = MessageTemplate.objects.filter(name=update.name, language=update.language).update(
            **values
        )
        if not count:
            # Written in WhatsApp Manager: the next sync imports it with its content.
            logger.info("whatsapp.template_event_unknown_template event=%s", update.event)
        changed += count
        logger.info(
            "whatsapp.template_status event=%s template=%s:%s",
            update.event,
            update.name,
            update.language,
        )
    return changed


def do_sync_templates() -> dict[str, int]:
    """Bring every template's status in line with Meta's list and import templates that
    exist only at Meta. Raises ``CloudAPIError`` when Meta cannot be asked."""
    items = client_module.get_client().list_templates()
    now = clock.now()
    counts = {"updated": 0, "imported": 0, "unchanged": 0, "gone": 0}
    seen_provider_ids: set[str] = set()
    with transaction.atomic():
        existing = {
            (template.name, template.language): template
            for template in MessageTemplate.objects.select_for_update()
        }
        for item in items:
            status = STATUS_FROM_META.get(str(item.get("status", "")).upper())
            name, language = str(item.get("name", "")), str(item.get("language", ""))
            if status is None or not name or not language:
                continue
            seen_provider_ids.add(str(item.get("id", "")))
            reason = str(item.get("rejected_reason", "") or "")
            reason = "" if reason.upper() == "NONE" else reason
            template = existing.get((name, language))
            if template is None:
                _create_from_meta(item, status, reason)
                counts["imported"] += 1
                continue
            if (
                template.status == status
                and template.status_reason == reason
                and template.provider_id == str(item.get("id", ""))
            ):
                counts["unchanged"] += 1
                continue
            template.status = status
            template.status_reason = reason[:500]
            template.provider_id = str(item.get("id", "")) or template.provider_id
            template.status_updated_at = now
            template.save(
                update_fields=["status", "status_reason", "provider_id", "status_updated_at"]
            )
            counts["updated"] += 1
        # Submitted here but no longer at Meta (deleted in WhatsApp Manager): not sendable.
        for template in existing.values():
            if (
                template.provider_id
                and template.provider_id not in seen_provider_ids
                and template.status != MessageTemplate.Status.DISABLED
            ):
                template.status = MessageTemplate.Status.DISABLED
                template.status_reason = _("No longer exists at Meta.")
                template.status_updated_at = now
                template.save(update_fields=["status", "status_reason", "status_updated_at"])
                counts["gone"] += 1
    logger.info("whatsapp.templates_synced %s", counts)
    return counts


def do_import_templates(items: Iterable[Mapping[str, Any]]) -> int:
    """Create the templates of Meta's list (``GET /{WABA_ID}/message_templates`` shape) that
    Townhall does not know yet, with their status at Meta; returns how many. For the demo
    seeding (the simulator's pre-approved templates) and for the sync."""
    created = 0
    with transaction.atomic():
        for item in items:
            status = STATUS_FROM_META.get(str(item.get("status", "")).upper())
            name, language = str(item.get("name", "")), str(item.get("language", ""))
            if status is None or not name or not language:
                continue
            if MessageTemplate.objects.filter(name=name, language=language).exists():
                continue
            _create_from_meta(item, status, str(item.get("rejected_reason", "") or ""))
            created += 1
    return created


def _create_from_meta(item: Mapping[str, Any], status: str, reason: str) -> MessageTemplate:
    reason = "" if reason.upper() == "NONE" else reason
    now = clock.now()
    return MessageTemplate.objects.create(
        **fields_from_meta(item),
        status=status,
        status_reason=reason[:500],
        status_updated_at=now,
        submitted_at=now,
    )
