"""What Townhall can send, as validated, immutable values.

Each class checks Meta's documented limits when it is built, so an invalid message is
refused where it is written (in the composer, the bot) and never reaches the queue.
``to_payload()`` gives the type-specific part of the Graph API request body.

Limits: https://developers.facebook.com/docs/whatsapp/cloud-api/messages
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT_MAX_CHARS = 4096
INTERACTIVE_BODY_MAX_CHARS = 1024
BUTTON_MAX_COUNT = 3
BUTTON_TITLE_MAX_CHARS = 20
LIST_MAX_ROWS = 10
LIST_MAX_SECTIONS = 10
LIST_BUTTON_MAX_CHARS = 20
ROW_TITLE_MAX_CHARS = 24
ROW_DESCRIPTION_MAX_CHARS = 72
ID_MAX_CHARS = 256
HEADER_MAX_CHARS = 60
FOOTER_MAX_CHARS = 60
CAPTION_MAX_CHARS = 1024
MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
CAPTION_KINDS = ("image", "document", "video")


class InvalidOutboundMessage(ValueError):
    """The message breaks a Cloud API rule; the text says which, in plain words."""


def _require_text(value: str, what: str, max_chars: int) -> None:
    if not value or not value.strip():
        raise InvalidOutboundMessage(f"{what} must not be empty")
    if len(value) > max_chars:
        raise InvalidOutboundMessage(f"{what} has {len(value)} characters, at most {max_chars}")


def _optional_text(value: str, what: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise InvalidOutboundMessage(f"{what} has {len(value)} characters, at most {max_chars}")


@dataclass(frozen=True, slots=True)
class Text:
    body: str
    preview_url: bool = False
    type = "text"

    def __post_init__(self) -> None:
        _require_text(self.body, "Text", TEXT_MAX_CHARS)

    def to_payload(self) -> dict[str, Any]:
        return {"type": "text", "text": {"body": self.body, "preview_url": self.preview_url}}

    def summary(self) -> str:
        return self.body


TEMPLATE_HEADER_MEDIA_KINDS = ("image", "document", "video")
TEMPLATE_BUTTON_MAX_COUNT = 10
# Meta limits a quick-reply payload to 1,000 characters; a URL as a whole to 2,000.
TEMPLATE_PAYLOAD_MAX_CHARS = 1000
TEMPLATE_URL_SUFFIX_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class TemplateHeaderMedia:
    """The image, video or document of a template's media header, by public link."""

    kind: str
    link: str
    filename: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TEMPLATE_HEADER_MEDIA_KINDS:
            raise InvalidOutboundMessage(f"A template header cannot be a {self.kind!r}")
        if not self.link.startswith("https://") and not self.link.startswith("http://"):
            raise InvalidOutboundMessage("A header media link must be an http(s) URL")
        if self.filename and self.kind != "document":
            raise InvalidOutboundMessage("Only a document header has a filename")

    def to_parameter(self) -> dict[str, Any]:
        media: dict[str, Any] = {"link": self.link}
        if self.filename:
            media["filename"] = self.filename
        return {"type": self.kind, self.kind: media}


@dataclass(frozen=True, slots=True)
class TemplateButtonParameter:
    """The value a send gives one button of the template, by the button's position:
    a quick reply's payload (comes back on the tap) or a URL button's dynamic suffix
    (replaces ``{{1}}`` at the end of the button's URL)."""

    index: int
    sub_type: str
    value: str

    def __post_init__(self) -> None:
        if self.sub_type not in ("quick_reply", "url"):
            raise InvalidOutboundMessage(f"Unknown template button type {self.sub_type!r}")
        if not 0 <= self.index < TEMPLATE_BUTTON_MAX_COUNT:
            raise InvalidOutboundMessage(
                f"A template button index is 0 to {TEMPLATE_BUTTON_MAX_COUNT - 1}"
            )
        limit = (
            TEMPLATE_PAYLOAD_MAX_CHARS
            if self.sub_type == "quick_reply"
            else TEMPLATE_URL_SUFFIX_MAX_CHARS
        )
        _require_text(self.value, "Template button parameter", limit)

    def to_component(self) -> dict[str, Any]:
        parameter = (
            {"type": "payload", "payload": self.value}
            if self.sub_type == "quick_reply"
            else {"type": "text", "text": self.value}
        )
        return {
            "type": "button",
            "sub_type": self.sub_type,
            "index": str(self.index),
            "parameters": [parameter],
        }


@dataclass(frozen=True, slots=True)
class Template:
    """An approved template; the only kind of message allowed outside the 24-h window.

    Build it from a stored template with ``MessageTemplate.to_outbound()``, which checks the
    values against the template's definition. Payload format:
    https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
    """

    name: str
    language: str
    body_parameters: tuple[str, ...] = ()
    header_parameters: tuple[str, ...] = ()
    # Payloads of quick-reply buttons at positions 0, 1, …; they come back on the citizen's tap.
    quick_reply_payloads: tuple[str, ...] = ()
    header_media: TemplateHeaderMedia | None = None
    # Parameters of buttons by position (URL suffixes, quick replies after a URL button).
    button_parameters: tuple[TemplateButtonParameter, ...] = ()
    type = "template"

    def __post_init__(self) -> None:
        _require_text(self.name, "Template name", 512)
        _require_text(self.language, "Template language", 15)
        for parameter in (*self.body_parameters, *self.header_parameters):
            _require_text(parameter, "Template parameter", TEXT_MAX_CHARS)
        if self.header_media is not None and self.header_parameters:
            raise InvalidOutboundMessage("A template header is either text or media")
        for payload in self.quick_reply_payloads:
            _require_text(payload, "Quick-reply payload", TEMPLATE_PAYLOAD_MAX_CHARS)
        indexes = [button.index for button in self._buttons()]
        if len(set(indexes)) != len(indexes):
            raise InvalidOutboundMessage("Each template button gets at most one parameter")

    def _buttons(self) -> list[TemplateButtonParameter]:
        quick_replies = [
            TemplateButtonParameter(index, "quick_reply", payload)
            for index, payload in enumerate(self.quick_reply_payloads)
        ]
        return sorted([*quick_replies, *self.button_parameters], key=lambda b: b.index)

    def to_payload(self) -> dict[str, Any]:
        components: list[dict[str, Any]] = []
        if self.header_media is not None:
            components.append({"type": "header", "parameters": [self.header_media.to_parameter()]})
        elif self.header_parameters:
            components.append(
                {
                    "type": "header",
                    "parameters": [{"type": "text", "text": p} for p in self.header_parameters],
                }
            )
        if self.body_parameters:
            components.append(
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in self.body_parameters],
                }
            )
        components.extend(button.to_component() for button in self._buttons())
        template: dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if components:
            template["components"] = components
        return {"type": "template", "template": template}

    def summary(self) -> str:
        return f"[{self.name}] " + " | ".join(self.body_parameters)


def _check_header_footer(header: str, footer: str) -> None:
    _optional_text(header, "Header", HEADER_MAX_CHARS)
    _optional_text(footer, "Footer", FOOTER_MAX_CHARS)


def _interactive(kind: str, body: str, header: str, footer: str, action: dict) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind, "body": {"text": body}, "action": action}
    if header:
        interactive["header"] = {"type": "text", "text": header}
    if footer:
        interactive["footer"] = {"text": footer}
    return {"type": "interactive", "interactive": interactive}


@dataclass(frozen=True, slots=True)
class ReplyButtons:
    """Up to three tappable buttons under a text; each is (id, title)."""

    body: str
    buttons: tuple[tuple[str, str], ...]
    header: str = ""
    footer: str = ""
    type = "interactive"

    def __post_init__(self) -> None:
        _require_text(self.body, "Body", INTERACTIVE_BODY_MAX_CHARS)
        _check_header_footer(self.header, self.footer)
        if not 1 <= len(self.buttons) <= BUTTON_MAX_COUNT:
            raise InvalidOutboundMessage(f"A message has 1 to {BUTTON_MAX_COUNT} reply buttons")
        for button_id, title in self.buttons:
            _require_text(button_id, "Button id", ID_MAX_CHARS)
            _require_text(title, "Button title", BUTTON_TITLE_MAX_CHARS)
        if len({button_id for button_id, _ in self.buttons}) != len(self.buttons):
            raise InvalidOutboundMessage("Button ids must be unique")
        if len({title for _, title in self.buttons}) != len(self.buttons):
            raise InvalidOutboundMessage("Button titles must be unique")

    def to_payload(self) -> dict[str, Any]:
        action = {
            "buttons": [
                {"type": "reply", "reply": {"id": button_id, "title": title}}
                for button_id, title in self.buttons
            ]
        }
        return _interactive("button", self.body, self.header, self.footer, action)

    def summary(self) -> str:
        return self.body


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    title: str
    description: str = ""

    def __post_init__(self) -> None:
        _require_text(self.id, "Row id", 200)
        _require_text(self.title, "Row title", ROW_TITLE_MAX_CHARS)
        _optional_text(self.description, "Row description", ROW_DESCRIPTION_MAX_CHARS)


@dataclass(frozen=True, slots=True)
class ListSection:
    title: str
    rows: tuple[ListRow, ...]

    def __post_init__(self) -> None:
        _optional_text(self.title, "Section title", ROW_TITLE_MAX_CHARS)
        if not self.rows:
            raise InvalidOutboundMessage("A list section needs at least one row")


@dataclass(frozen=True, slots=True)
class ListMessage:
    """A text with a button that opens a list of up to ten rows."""

    body: str
    button: str
    sections: tuple[ListSection, ...]
    header: str = ""
    footer: str = ""
    type = "interactive"

    def __post_init__(self) -> None:
        _require_text(self.body, "Body", INTERACTIVE_BODY_MAX_CHARS)
        _require_text(self.button, "List button", LIST_BUTTON_MAX_CHARS)
        _check_header_footer(self.header, self.footer)
        if not 1 <= len(self.sections) <= LIST_MAX_SECTIONS:
            raise InvalidOutboundMessage(f"A list has 1 to {LIST_MAX_SECTIONS} sections")
        rows = [row for section in self.sections for row in section.rows]
        if len(rows) > LIST_MAX_ROWS:
            raise InvalidOutboundMessage(f"A list has at most {LIST_MAX_ROWS} rows")
        if len({row.id for row in rows}) != len(rows):
            raise InvalidOutboundMessage("Row ids must be unique")
        if len(self.sections) > 1 and not all(section.title for section in self.sections):
            raise InvalidOutboundMessage("Sections need titles when there are several")

    def to_payload(self) -> dict[str, Any]:
        sections = []
        for section in self.sections:
            rows = []
            for row in section.rows:
                item = {"id": row.id, "title": row.title}
                if row.description:
                    item["description"] = row.description
                rows.append(item)
            entry: dict[str, Any] = {"rows": rows}
            if section.title:
                entry["title"] = section.title
            sections.append(entry)
        action = {"button": self.button, "sections": sections}
        return _interactive("list", self.body, self.header, self.footer, action)

    def summary(self) -> str:
        return self.body


@dataclass(frozen=True, slots=True)
class Media:
    """An image, document, audio, video or sticker, by public link or uploaded media id."""

    kind: str
    link: str = ""
    media_id: str = ""
    caption: str = ""
    filename: str = ""
    type: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise InvalidOutboundMessage(f"Unknown media kind {self.kind!r}")
        if bool(self.link) == bool(self.media_id):
            raise InvalidOutboundMessage("Give either a link or a media id")
        if self.link and not self.link.startswith(("https://", "http://")):
            raise InvalidOutboundMessage("A media link must be an http(s) URL")
        if self.caption and self.kind not in CAPTION_KINDS:
            raise InvalidOutboundMessage(f"A {self.kind} cannot have a caption")
        if self.filename and self.kind != "document":
            raise InvalidOutboundMessage("Only documents have a filename")
        _optional_text(self.caption, "Caption", CAPTION_MAX_CHARS)
        object.__setattr__(self, "type", self.kind)

    def to_payload(self) -> dict[str, Any]:
        media: dict[str, Any] = {"link": self.link} if self.link else {"id": self.media_id}
        if self.caption:
            media["caption"] = self.caption
        if self.filename:
            media["filename"] = self.filename
        return {"type": self.kind, self.kind: media}

    def summary(self) -> str:
        return self.caption or self.filename


@dataclass(frozen=True, slots=True)
class Reaction:
    """An emoji on a citizen's message; an empty emoji removes our reaction."""

    message_id: str
    emoji: str
    type = "reaction"

    def __post_init__(self) -> None:
        _require_text(self.message_id, "Message id", ID_MAX_CHARS)
        _optional_text(self.emoji, "Emoji", 16)

    def to_payload(self) -> dict[str, Any]:
        return {
            "type": "reaction",
            "reaction": {"message_id": self.message_id, "emoji": self.emoji},
        }

    def summary(self) -> str:
        return self.emoji


OutboundMessage = Text | Template | ReplyButtons | ListMessage | Media | Reaction
