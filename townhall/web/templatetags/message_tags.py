"""Display helpers for messages, statuses and phone numbers in staff templates."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from townhall.core.phone_numbers import format_wa_id, mask_wa_id

register = template.Library()

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})

TYPE_LABELS = {
    "text": _("Text"),
    "image": _("Image"),
    "video": _("Video"),
    "audio": _("Audio"),
    "voice": _("Voice message"),
    "document": _("Document"),
    "sticker": _("Sticker"),
    "location": _("Location"),
    "contacts": _("Contact"),
    "interactive": _("Interactive message"),
    "button_reply": _("Button reply"),
    "list_reply": _("List selection"),
    "nfm_reply": _("Form reply"),
    "buttons": _("Buttons"),
    "list": _("List"),
    "reaction": _("Reaction"),
    "template": _("Template"),
    "order": _("Order"),
    "system": _("System message"),
    "unsupported": _("Unsupported message"),
    "unknown": _("Unsupported message"),
}

STATUS_LABELS = {
    "queued": _("Queued"),
    "sending": _("Sending"),
    "accepted": _("Accepted by WhatsApp"),
    "sent": _("Sent"),
    "delivered": _("Delivered"),
    "read": _("Read"),
    "played": _("Played"),
    "failed": _("Failed"),
    "received": _("Received"),
    "deleted": _("Deleted"),
}


def _kind(message_type: str, payload: Any, direction: str) -> str:
    """The most specific kind of a message: "button_reply" rather than "interactive".

    Both inbound and outbound payloads keep the type's object under the type's key.
    """
    content = payload.get(message_type) if isinstance(payload, dict) else None
    if message_type == "interactive" and isinstance(content, dict):
        interactive_kind = content.get("type")
        if direction == "out":
            return {"button": "buttons", "list": "list"}.get(str(interactive_kind), message_type)
        if interactive_kind in ("button_reply", "list_reply", "nfm_reply"):
            return str(interactive_kind)
    if message_type == "button" and direction == "in":
        # The quick-reply button of a template message.
        return "button_reply"
    if message_type == "audio" and isinstance(content, dict) and content.get("voice") is True:
        return "voice"
    return message_type


@register.filter
def message_kind(message: Any) -> str:
    """The kind of a ``Message`` as a key of ``TYPE_LABELS`` (or its raw type)."""
    return _kind(message.type, message.payload, message.direction)


@register.filter
def type_label(kind: str) -> str:
    """The label of a message kind; an empty string for plain text, which needs none."""
    if kind == "text":
        return ""
    return str(TYPE_LABELS.get(kind, kind))


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def masked_number(wa_id: str) -> str:
    return mask_wa_id(wa_id)


@register.filter
def full_number(wa_id: str) -> str:
    return format_wa_id(wa_id)


@register.inclusion_tag("web/_status_ticks.html")
def status_ticks(status: str, error_code: int | None = None, error_title: str = "") -> dict:
    """WhatsApp-like ticks for an outbound status: clock, ✓, ✓✓, blue ✓✓ or a warning."""
    if status in ("queued", "sending", "accepted"):
        ticks = "pending"
    elif status == "sent":
        ticks = "sent"
    elif status == "delivered":
        ticks = "delivered"
    elif status in ("read", "played"):
        ticks = "read"
    elif status == "failed":
        ticks = "failed"
    else:
        ticks = ""
    return {
        "ticks": ticks,
        "label": status_label(status),
        "error_code": error_code,
        "error_title": error_title,
    }


@register.filter
def error_items(errors: Any) -> list[dict]:
    """The ``errors`` list of a status event, reduced to entries with a code or title."""
    if not isinstance(errors, list | tuple):
        return []
    return [
        {"code": error.get("code"), "title": error.get("title") or error.get("message") or ""}
        for error in errors
        if isinstance(error, dict) and (error.get("code") or error.get("title"))
    ]


@register.filter
def payload_content(message: Any) -> dict:
    """The type's object of a message payload, e.g. ``payload["location"]``."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    content = payload.get(message.type)
    return content if isinstance(content, dict) else {}


@register.filter
def is_media(message: Any) -> bool:
    return message.type in MEDIA_TYPES


@register.filter
def interactive_choices(message: Any) -> list[str]:
    """The titles of the reply buttons or list rows of an interactive message we sent."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    interactive = payload.get("interactive")
    if not isinstance(interactive, dict):
        return []
    found = interactive.get("action")
    action: dict[str, Any] = found if isinstance(found, dict) else {}
    titles = [
        str(button.get("reply", {}).get("title", ""))
        for button in action.get("buttons", [])
        if isinstance(button, dict)
    ]
    for section in action.get("sections", []):
        if isinstance(section, dict):
            titles.extend(
                str(row.get("title", ""))
                for row in section.get("rows", [])
                if isinstance(row, dict)
            )
    return [title for title in titles if title]
