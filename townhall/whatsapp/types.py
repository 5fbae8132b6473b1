"""Typed, frozen view of what a WhatsApp Cloud API webhook POST carries.

The raw JSON is parsed once, here, into immutable dataclasses; no other code indexes into
``payload["entry"]``. Parsing is tolerant: one malformed message or status is skipped (with a
technical note in ``ParsedWebhook.skipped``) and never stops the others, because Meta retries a
webhook we reject for up to 7 days and one bad item must not block a whole batch.

Payload reference:
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "InboundMessage",
    "Location",
    "MalformedWebhook",
    "Media",
    "MessageContext",
    "Order",
    "ParsedWebhook",
    "Reaction",
    "Reply",
    "SharedContact",
    "StatusUpdate",
    "SystemEvent",
    "TemplateStatusUpdate",
    "WebhookError",
    "parse_webhook",
]

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
TEMPLATE_STATUS_FIELD = "message_template_status_update"
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
INTERACTIVE_REPLY_KINDS = frozenset({"button_reply", "list_reply", "nfm_reply"})

# Unix seconds up to the year 9999 have 12 digits; longer strings are garbage, and int() of a
# very long digit string would even raise (Python's int/str conversion limit).
_MAX_TIMESTAMP_DIGITS = 12
# Only identifier-like change field names are echoed into `skipped`, so arbitrary input can
# never smuggle personal data (or huge strings) into a log line.
_SAFE_TOKEN = re.compile(r"[a-z_]{1,64}")


class MalformedWebhook(ValueError):
    """The payload is not a WhatsApp Business Account webhook envelope at all.

    The message names the structural problem only, never any content of the payload.
    """


@dataclass(frozen=True, slots=True)
class WebhookError:
    """One of Meta's error objects, as found on failed statuses, messages and values."""

    code: int
    title: str
    message: str = ""
    details: str = ""
    href: str = ""


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Forwarding flags, or the message this one replies to."""

    forwarded: bool = False
    frequently_forwarded: bool = False
    replied_to_id: str = ""
    replied_to_from: str = ""


@dataclass(frozen=True, slots=True)
class Media:
    """An image, audio, video, document or sticker that can be downloaded by its id."""

    id: str
    mime_type: str
    sha256: str = ""
    caption: str = ""
    filename: str = ""
    is_voice: bool = False
    is_animated: bool = False
    url: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location pin."""

    latitude: float
    longitude: float
    name: str = ""
    address: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A contact card the citizen shared (only the parts we may need)."""

    formatted_name: str
    phones: tuple[str, ...]
    wa_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """A tapped reply button, a picked list row, a completed flow or a template quick reply."""

    kind: str  # "button_reply" | "list_reply" | "nfm_reply" | "button" (template quick reply)
    id: str  # button/row id; the flow name for "nfm_reply"; the payload for "button"
    title: str  # button/row title; the flow body for "nfm_reply"; the text for "button"
    description: str = ""
    response_json: str = ""  # nfm_reply only


@dataclass(frozen=True, slots=True)
class Reaction:
    """An emoji reaction to one of our messages; an empty emoji means it was removed."""

    message_id: str
    emoji: str

    @property
    def is_removed(self) -> bool:
        return not self.emoji


@dataclass(frozen=True, slots=True)
class Order:
    """A cart sent from a catalog; items are kept raw."""

    catalog_id: str
    text: str
    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class SystemEvent:
    """A system notice, e.g. the citizen changed their number or their identity key."""

    kind: str
    body: str
    new_wa_id: str = ""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a citizen sent to one of our numbers."""

    id: str
    from_wa_id: str
    profile_name: str
    phone_number_id: str
    timestamp: datetime
    type: str
    text: str
    content: dict[str, Any]
    context: MessageContext | None = None
    media: Media | None = None
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    reply: Reply | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: SystemEvent | None = None
    errors: tuple[WebhookError, ...] = ()
    referral: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status of a message we sent."""

    message_id: str
    status: str
    recipient_wa_id: str
    timestamp: datetime
    errors: tuple[WebhookError, ...] = ()
    conversation_id: str = ""
    conversation_origin: str = ""
    pricing: dict[str, Any] = field(default_factory=dict)
    biz_opaque_callback_data: str = ""


@dataclass(frozen=True, slots=True)
class TemplateStatusUpdate:
    """Meta's review decision on one of our templates (``message_template_status_update``):
    event APPROVED, REJECTED, PAUSED, DISABLED, … with Meta's reason (``NONE`` on approval).
    https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
    """

    event: str
    template_id: str
    name: str
    language: str
    reason: str = ""
    category: str = ""


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    """Everything one webhook POST carried, in payload order."""

    messages: tuple[InboundMessage, ...]
    statuses: tuple[StatusUpdate, ...]
    errors: tuple[WebhookError, ...]
    # Technical notes on what was not understood; never phone numbers, names or texts.
    skipped: tuple[str, ...]
    template_updates: tuple[TemplateStatusUpdate, ...] = ()


class _SkipItem(Exception):
    """One message or status cannot be used; the reason is technical, never personal data."""


def parse_webhook(payload: object) -> ParsedWebhook:
    """Parse a decoded webhook body; raise MalformedWebhook only for a wrong envelope."""
    if not isinstance(payload, dict):
        raise MalformedWebhook("payload is not a JSON object")
    if payload.get("object") != WHATSAPP_OBJECT:
        raise MalformedWebhook(f"payload object is not {WHATSAPP_OBJECT!r}")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhook("payload entry is not a list")

    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    errors: list[WebhookError] = []
    skipped: list[str] = []
    template_updates: list[TemplateStatusUpdate] = []
    for entry_index, entry in enumerate(entries):
        where = f"entry {entry_index}"
        if not isinstance(entry, dict):
            skipped.append(f"{where}: not an object")
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            skipped.append(f"{where}: changes is not a list")
            continue
        for change_index, change in enumerate(changes):
            if isinstance(change, dict) and change.get("field") == TEMPLATE_STATUS_FIELD:
                try:
                    template_updates.append(_parse_template_status(change.get("value")))
                except _SkipItem as reason:
                    skipped.append(f"{where} change {change_index}: {reason}")
                continue
            _parse_change(
                change,
                where=f"{where} change {change_index}",
                messages=messages,
                statuses=statuses,
                errors=errors,
                skipped=skipped,
            )
    return ParsedWebhook(
        messages=tuple(messages),
        statuses=tuple(statuses),
        errors=tuple(errors),
        skipped=tuple(skipped),
        template_updates=tuple(template_updates),
    )


def _parse_template_status(raw: object) -> TemplateStatusUpdate:
    value = _dict(raw)
    event = _str(value.get("event")).upper()
    name = _str(value.get("message_template_name"))
    language = _str(value.get("message_template_language"))
    if not event or not name or not language:
        raise _SkipItem("template status without event, name or language")
    return TemplateStatusUpdate(
        event=event,
        # Meta sends the id as a number; a string is accepted too.
        template_id=_id_text(value.get("message_template_id")),
        name=name,
        language=language,
        reason=_str(value.get("reason")),
        category=_str(value.get("message_template_category")),
    )


def _parse_change(
    change: object,
    *,
    where: str,
    messages: list[InboundMessage],
    statuses: list[StatusUpdate],
    errors: list[WebhookError],
    skipped: list[str],
) -> None:
    """Append what one `changes[]` item carries to the given lists."""
    if not isinstance(change, dict):
        skipped.append(f"{where}: not an object")
        return
    field_name = change.get("field")
    if field_name != MESSAGES_FIELD:
        skipped.append(f"{where}: field {_safe_token(field_name)!r} ignored")
        return
    value = change.get("value")
    if not isinstance(value, dict):
        skipped.append(f"{where}: value is not an object")
        return

    phone_number_id = _str(_dict(value.get("metadata")).get("phone_number_id"))
    profile_names = _profile_names(value.get("contacts"))

    raw_messages = _list(value, "messages", where=where, skipped=skipped)
    for index, raw_message in enumerate(raw_messages):
        notes: list[str] = []
        item_where = f"{where} message {index}"
        try:
            messages.append(
                _parse_message(
                    raw_message,
                    phone_number_id=phone_number_id,
                    profile_names=profile_names,
                    notes=notes,
                )
            )
        except _SkipItem as reason:
            skipped.append(f"{item_where}: {reason}")
        skipped.extend(f"{item_where}: {note}" for note in notes)

    raw_statuses = _list(value, "statuses", where=where, skipped=skipped)
    for index, raw_status in enumerate(raw_statuses):
        try:
            statuses.append(_parse_status(raw_status))
        except _SkipItem as reason:
            skipped.append(f"{where} status {index}: {reason}")

    errors.extend(_errors(value.get("errors")))


def _parse_message(
    raw: object,
    *,
    phone_number_id: str,
    profile_names: dict[str, str],
    notes: list[str],
) -> InboundMessage:
    """Build one InboundMessage; raise _SkipItem if it lacks what every message needs."""
    if not isinstance(raw, dict):
        raise _SkipItem("not an object")
    message_id = _required_str(raw, "id")
    from_wa_id = _required_str(raw, "from")
    timestamp = _required_timestamp(raw)
    message_type = _required_str(raw, "type")
    if not phone_number_id:
        # Without it we would not know which of our numbers must answer.
        raise _SkipItem("missing metadata.phone_number_id")

    raw_content = raw.get(message_type)
    content: dict[str, Any]
    if isinstance(raw_content, dict):
        content = raw_content
    elif isinstance(raw_content, list):
        # Only "contacts" carries a list; keep it under its type name so content stays a dict.
        content = {message_type: raw_content}
    else:
        content = {}

    parts = _TypeParts()
    parser = _TYPE_PARSERS.get(message_type)
    if parser is not None:
        if raw_content is None:
            notes.append("type object missing")
        else:
            parser(raw_content, parts, notes)

    return InboundMessage(
        id=message_id,
        from_wa_id=from_wa_id,
        profile_name=profile_names.get(from_wa_id, ""),
        phone_number_id=phone_number_id,
        timestamp=timestamp,
        type=message_type,
        text=parts.text,
        content=content,
        context=_context(raw.get("context")),
        media=parts.media,
        location=parts.location,
        contacts=parts.contacts,
        reply=parts.reply,
        reaction=parts.reaction,
        order=parts.order,
        system=parts.system,
        errors=_errors(raw.get("errors")),
        referral=raw["referral"] if isinstance(raw.get("referral"), dict) else None,
    )


@dataclass(slots=True)
class _TypeParts:
    """The type-specific fields of an InboundMessage, filled by one of _TYPE_PARSERS."""

    text: str = ""
    media: Media | None = None
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    reply: Reply | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: SystemEvent | None = None


def _parse_text(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    parts.text = _str(_dict(raw).get("body"))


def _parse_media(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    media_id = _str(content.get("id"))
    if not media_id:
        notes.append("media without id")
        return
    parts.media = Media(
        id=media_id,
        mime_type=_str(content.get("mime_type")),
        sha256=_str(content.get("sha256")),
        caption=_str(content.get("caption")),
        filename=_str(content.get("filename")),
        is_voice=content.get("voice") is True,
        is_animated=content.get("animated") is True,
        url=_str(content.get("url")),
    )
    parts.text = parts.media.caption


def _parse_location(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    latitude = _float(content.get("latitude"))
    longitude = _float(content.get("longitude"))
    if latitude is None or longitude is None:
        notes.append("location without coordinates")
        return
    parts.location = Location(
        latitude=latitude,
        longitude=longitude,
        name=_str(content.get("name")),
        address=_str(content.get("address")),
        url=_str(content.get("url")),
    )
    parts.text = parts.location.name or f"{latitude},{longitude}"


def _parse_contacts(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    if not isinstance(raw, list):
        notes.append("contacts is not a list")
        return
    shared: list[SharedContact] = []
    for card in raw:
        if not isinstance(card, dict):
            notes.append("shared contact is not an object")
            continue
        phones = [phone for phone in _list_of(card.get("phones")) if isinstance(phone, dict)]
        shared.append(
            SharedContact(
                formatted_name=_str(_dict(card.get("name")).get("formatted_name")),
                phones=_non_empty_strings(phone.get("phone") for phone in phones),
                wa_ids=_non_empty_strings(phone.get("wa_id") for phone in phones),
            )
        )
    parts.contacts = tuple(shared)
    parts.text = ", ".join(contact.formatted_name for contact in shared if contact.formatted_name)


def _parse_interactive(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in INTERACTIVE_REPLY_KINDS:
        notes.append("interactive of unknown kind")
        return
    answer = _dict(content.get(kind))
    if kind == "nfm_reply":
        # A completed WhatsApp Flow: https://developers.facebook.com/docs/whatsapp/flows
        parts.reply = Reply(
            kind=kind,
            id=_str(answer.get("name")),
            title=_str(answer.get("body")),
            response_json=_str(answer.get("response_json")),
        )
    else:
        parts.reply = Reply(
            kind=kind,
            id=_str(answer.get("id")),
            title=_str(answer.get("title")),
            description=_str(answer.get("description")),
        )
    parts.text = parts.reply.title


def _parse_button(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    parts.reply = Reply(
        kind="button", id=_str(content.get("payload")), title=_str(content.get("text"))
    )
    parts.text = parts.reply.title


def _parse_reaction(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    message_id = _str(content.get("message_id"))
    if not message_id:
        notes.append("reaction without message_id")
        return
    # Meta omits "emoji" (or sends "") when the citizen removes a reaction.
    parts.reaction = Reaction(message_id=message_id, emoji=_str(content.get("emoji")))
    parts.text = parts.reaction.emoji


def _parse_order(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    parts.order = Order(
        catalog_id=_str(content.get("catalog_id")),
        text=_str(content.get("text")),
        items=tuple(
            item for item in _list_of(content.get("product_items")) if isinstance(item, dict)
        ),
    )
    parts.text = parts.order.text


def _parse_system(raw: object, parts: _TypeParts, notes: list[str]) -> None:
    content = _dict(raw)
    parts.system = SystemEvent(
        kind=_str(content.get("type")),
        body=_str(content.get("body")),
        # Older API versions send "new_wa_id", newer ones "wa_id".
        new_wa_id=_str(content.get("new_wa_id")) or _str(content.get("wa_id")),
    )
    parts.text = parts.system.body


_TYPE_PARSERS: dict[str, Callable[[object, _TypeParts, list[str]], None]] = {
    "text": _parse_text,
    **dict.fromkeys(MEDIA_TYPES, _parse_media),
    "location": _parse_location,
    "contacts": _parse_contacts,
    "interactive": _parse_interactive,
    "button": _parse_button,
    "reaction": _parse_reaction,
    "order": _parse_order,
    "system": _parse_system,
}


def _parse_status(raw: object) -> StatusUpdate:
    """Build one StatusUpdate; raise _SkipItem if it cannot be matched to a sent message."""
    if not isinstance(raw, dict):
        raise _SkipItem("not an object")
    conversation = _dict(raw.get("conversation"))
    return StatusUpdate(
        message_id=_required_str(raw, "id"),
        status=_required_str(raw, "status"),
        recipient_wa_id=_str(raw.get("recipient_id")),
        timestamp=_required_timestamp(raw),
        errors=_errors(raw.get("errors")),
        conversation_id=_str(conversation.get("id")),
        conversation_origin=_str(_dict(conversation.get("origin")).get("type")),
        pricing=_dict(raw.get("pricing")),
        biz_opaque_callback_data=_str(raw.get("biz_opaque_callback_data")),
    )


def _context(raw: object) -> MessageContext | None:
    if not isinstance(raw, dict):
        return None
    return MessageContext(
        forwarded=raw.get("forwarded") is True,
        frequently_forwarded=raw.get("frequently_forwarded") is True,
        replied_to_id=_str(raw.get("id")),
        replied_to_from=_str(raw.get("from")),
    )


def _errors(raw: object) -> tuple[WebhookError, ...]:
    """Meta's error objects; malformed entries are dropped, an unreadable code becomes 0."""
    errors: list[WebhookError] = []
    for error in _list_of(raw):
        if not isinstance(error, dict):
            continue
        # Older payloads put "details" at the top level instead of in "error_data".
        details = _str(_dict(error.get("error_data")).get("details")) or _str(error.get("details"))
        errors.append(
            WebhookError(
                code=_int(error.get("code")),
                title=_str(error.get("title")),
                message=_str(error.get("message")),
                details=details,
                href=_str(error.get("href")),
            )
        )
    return tuple(errors)


def _profile_names(raw: object) -> dict[str, str]:
    """Map wa_id to WhatsApp profile name from a value's `contacts` array."""
    names: dict[str, str] = {}
    for contact in _list_of(raw):
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
            names[contact["wa_id"]] = _str(_dict(contact.get("profile")).get("name"))
    return names


def _required_str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        raise _SkipItem(f"missing {key}")
    if not isinstance(value, str) or not value:
        raise _SkipItem(f"invalid {key}")
    return value


def _required_timestamp(raw: dict[str, Any]) -> datetime:
    value = raw.get("timestamp")
    if value is None:
        raise _SkipItem("missing timestamp")
    timestamp = _timestamp(value)
    if timestamp is None:
        raise _SkipItem("invalid timestamp")
    return timestamp


def _timestamp(value: object) -> datetime | None:
    """Meta sends unix seconds as a string; accept an int too."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= _MAX_TIMESTAMP_DIGITS):
            return None
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value
    else:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _list(value: dict[str, Any], key: str, *, where: str, skipped: list[str]) -> list[Any]:
    """An optional list in a change value; anything else is noted and treated as empty."""
    raw = value.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        skipped.append(f"{where}: {key} is not a list")
        return []
    return raw


def _list_of(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _id_text(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value.isdigit() else ""


def _non_empty_strings(values: Iterable[object]) -> tuple[str, ...]:
    return tuple(value for value in values if isinstance(value, str) and value)


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return 0


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _safe_token(value: object) -> str:
    """Echo identifier-like strings only, so `skipped` never carries arbitrary input."""
    if isinstance(value, str) and _SAFE_TOKEN.fullmatch(value):
        return value
    return "?"


def webhook_envelope(value: dict[str, Any], *, waba_id: str = "") -> dict[str, Any]:
    """Wrap one change ``value`` in Meta's webhook envelope (for rebuilding stored messages,
    tests and benchmarks; the simulator builds its own)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}],
    }
