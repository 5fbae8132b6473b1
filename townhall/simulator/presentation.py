"""Turns thread messages into what the simulated phone shows: bubbles with safe HTML."""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from townhall.simulator.engine import ThreadMessage

URL_SPLIT_RE = re.compile(r"(https?://[^\s<>\"']+)", re.IGNORECASE)
# WhatsApp's inline formatting; markers must hug non-space text and not sit inside words.
FORMATTING_RULES = (
    (re.compile(r"```(.+?)```"), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), r"<s>\1</s>"),
)
REACTION_EMOJIS = ("👍", "❤️", "😂", "😮", "😢", "🙏")


def format_whatsapp(text: str) -> SafeString:
    """Render *bold*, _italic_, ~strike~, ```mono``` and links; everything else is escaped."""
    parts: list[str] = []
    for index, segment in enumerate(URL_SPLIT_RE.split(text)):
        if index % 2:
            url = segment.rstrip(".,;:!?)")
            parts.append(
                format_html(
                    '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', url, url
                )
            )
            parts.append(escape(segment[len(url) :]))
        else:
            escaped = str(escape(segment))
            # Safe: the markers only wrap already-escaped text in fixed tags.
            for pattern, replacement in FORMATTING_RULES:
                escaped = pattern.sub(replacement, escaped)
            parts.append(escaped)
    return mark_safe("".join(parts).replace("\n", "<br>"))  # noqa: S308


@dataclass(frozen=True)
class BubbleButton:
    """A tappable answer under a bubble. ``action`` says which webhook a tap produces."""

    label: str
    action: str
    value: str
    url: str = ""
    is_chosen: bool = False


@dataclass(frozen=True)
class ListRow:
    row_id: str
    title: str
    description: str
    is_chosen: bool


@dataclass(frozen=True)
class ListSection:
    title: str
    rows: tuple[ListRow, ...]


@dataclass(frozen=True)
class MediaView:
    kind: str
    url: str
    mime_type: str
    filename: str


@dataclass(frozen=True)
class Bubble:
    """One chat bubble. ``is_from_city`` bubbles are white and left, the citizen's green."""

    id: str
    is_from_city: bool
    kind: str
    time_label: str
    header: SafeString | str = ""
    header_media: MediaView | None = None
    body: SafeString | str = ""
    footer: str = ""
    buttons: tuple[BubbleButton, ...] = ()
    is_answered: bool = False
    list_label: str = ""
    list_sections: tuple[ListSection, ...] = ()
    media: MediaView | None = None
    location_label: str = ""
    location_url: str = ""
    status: str | None = None
    status_label: str = ""
    status_icon: str = ""
    error_label: str = ""
    citizen_reaction: str = ""
    business_reaction: str = ""
    quoted: str = ""
    is_read_by_business: bool = False

    @property
    def dom_id(self) -> str:
        """A stable HTML id (wamids contain characters ids should not)."""
        return "m" + hashlib.sha256(self.id.encode()).hexdigest()[:12]


def status_display(status: str | None) -> tuple[str, str]:
    """Label and tick symbol for a business message's delivery state."""
    return {
        "accepted": (_("Angenommen"), "🕓"),
        "sent": (_("Gesendet"), "✓"),
        "delivered": (_("Zugestellt"), "✓✓"),
        "read": (_("Gelesen"), "✓✓"),
        "failed": (_("Nicht zugestellt"), "⚠"),
    }.get(status or "", ("", ""))


def _time_label(timestamp: float) -> str:
    return timezone.localtime(datetime.fromtimestamp(timestamp, tz=UTC)).strftime("%H:%M")


def build_bubbles(
    messages: list[ThreadMessage], *, media_url: Callable[[str], str]
) -> list[Bubble]:
    """Bubbles for a thread, oldest first. Reactions attach to their message, not a bubble."""
    by_id = {message.id: message for message in messages}
    bubbles = []
    for message in messages:
        if message.type == "reaction":
            continue
        if message.direction == "out":
            bubble = _city_bubble(message, media_url)
        else:
            bubble = _citizen_bubble(message, media_url)
        quoted = by_id.get(message.context_message_id or "")
        # Replies from buttons and lists are already tied to their message; no quote needed.
        if quoted is not None and message.type == "text":
            bubble = replace(bubble, quoted=quoted.summary[:80])
        bubbles.append(bubble)
    return bubbles


def _media_view(kind: str, content: dict[str, Any], media_url: Callable[[str], str]) -> MediaView:
    url = media_url(str(content["id"])) if content.get("id") else str(content.get("link", ""))
    return MediaView(
        kind=kind,
        url=url,
        mime_type=str(content.get("mime_type", "")),
        filename=str(content.get("filename", "")) or _("Dokument"),
    )


def _city_bubble(message: ThreadMessage, media_url: Callable[[str], str]) -> Bubble:
    label, icon = status_display(message.status)
    error_label = ""
    if message.error:
        error_label = f"{message.error['code']} {message.error['title']}"
    common: dict[str, Any] = {
        "id": message.id,
        "is_from_city": True,
        "time_label": _time_label(message.timestamp),
        "status": message.status,
        "status_label": label,
        "status_icon": icon,
        "error_label": error_label,
        "citizen_reaction": message.citizen_reaction,
        "business_reaction": message.business_reaction,
    }
    content = message.content
    if message.type == "text":
        return Bubble(kind="text", body=format_whatsapp(str(content.get("body", ""))), **common)
    if message.type == "template" and message.template is not None:
        template = message.template
        header_media = None
        if template.header_media:
            header_media = _media_view(
                str(template.header_media["type"]), template.header_media, media_url
            )
        buttons = tuple(
            BubbleButton(
                label=button.text,
                action="button" if button.type == "quick_reply" else "url",
                value=str(index),
                url=button.url,
                is_chosen=button.type == "quick_reply"
                and message.answered_option == button.payload,
            )
            for index, button in enumerate(template.buttons)
        )
        return Bubble(
            kind="template",
            header=template.header_text,
            header_media=header_media,
            body=format_whatsapp(template.body),
            footer=template.footer,
            buttons=buttons,
            is_answered=message.answered_option is not None,
            **common,
        )
    if message.type == "interactive":
        return _interactive_bubble(message, media_url, common)
    if message.type in ("image", "video", "audio", "document", "sticker"):
        return Bubble(
            kind="media",
            media=_media_view(message.type, content, media_url),
            body=format_whatsapp(str(content.get("caption", ""))),
            **common,
        )
    if message.type == "location":
        return _location_bubble("location", content, common)
    return Bubble(kind="unsupported", body=escape(message.summary), **common)


def _interactive_bubble(
    message: ThreadMessage, media_url: Callable[[str], str], common: dict[str, Any]
) -> Bubble:
    content = message.content
    header = content.get("header") or {}
    header_text = str(header.get("text", "")) if header.get("type") == "text" else ""
    header_media = None
    if header.get("type") in ("image", "video", "document"):
        header_media = _media_view(str(header["type"]), header[header["type"]], media_url)
    parts: dict[str, Any] = {
        "header": header_text,
        "header_media": header_media,
        "body": format_whatsapp(str(content.get("body", {}).get("text", ""))),
        "footer": str(content.get("footer", {}).get("text", "")),
        "is_answered": message.answered_option is not None,
    }
    action = content.get("action", {})
    if content.get("type") == "button":
        parts["buttons"] = tuple(
            BubbleButton(
                label=title,
                action="button_reply",
                value=option_id,
                is_chosen=option_id == message.answered_option,
            )
            for option_id, title in message.reply_options
        )
        return Bubble(kind="buttons", **parts, **common)
    if content.get("type") == "list":
        parts["list_label"] = str(action.get("button", ""))
        parts["list_sections"] = tuple(
            ListSection(
                title=str(section.get("title", "")),
                rows=tuple(
                    ListRow(
                        row_id=str(row["id"]),
                        title=str(row["title"]),
                        description=str(row.get("description", "")),
                        is_chosen=str(row["id"]) == message.answered_option,
                    )
                    for row in section.get("rows", [])
                ),
            )
            for section in action.get("sections", [])
        )
        return Bubble(kind="list", **parts, **common)
    parameters = action.get("parameters", {})
    parts["buttons"] = (
        BubbleButton(
            label=str(parameters.get("display_text", "")),
            action="url",
            value="",
            url=str(parameters.get("url", "")),
        ),
    )
    return Bubble(kind="cta_url", **parts, **common)


def _location_bubble(kind: str, content: dict[str, Any], common: dict[str, Any]) -> Bubble:
    latitude, longitude = content.get("latitude"), content.get("longitude")
    label = " · ".join(
        part for part in (str(content.get("name", "")), str(content.get("address", ""))) if part
    )
    return Bubble(
        kind=kind,
        location_label=label or f"{latitude}, {longitude}",
        location_url=f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}",
        **common,
    )


def _citizen_bubble(message: ThreadMessage, media_url: Callable[[str], str]) -> Bubble:
    common: dict[str, Any] = {
        "id": message.id,
        "is_from_city": False,
        "time_label": _time_label(message.timestamp),
        "business_reaction": message.business_reaction,
        "is_read_by_business": message.is_read_by_business,
    }
    meta_message = message.content
    content = meta_message.get(message.type, {})
    if message.type == "text":
        return Bubble(kind="text", body=format_whatsapp(str(content.get("body", ""))), **common)
    if message.type in ("image", "video", "audio", "document", "sticker"):
        return Bubble(
            kind="media",
            media=_media_view(message.type, content, media_url),
            body=format_whatsapp(str(content.get("caption", ""))),
            **common,
        )
    if message.type == "location":
        return _location_bubble("location", content, common)
    # Button, list and template answers show the chosen title, like WhatsApp does.
    return Bubble(kind="reply", body=escape(message.summary), **common)
