"""The message templates of the simulated WhatsApp Business Account.

Meta only delivers templates that are APPROVED for the exact name and language code; the
registry plays the role of WhatsApp Manager. Pre-approved defaults are shipped in
``message_templates.json``; templates submitted through the Graph API
(``POST /{WABA_ID}/message_templates``) start PENDING and are reviewed by
``template_review``.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

DEFAULT_TEMPLATES_FILE = Path(__file__).with_name("message_templates.json")

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
CATEGORIES = frozenset({"utility", "marketing", "authentication"})
STATUSES = frozenset({"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"})
# Only these can be sent; a PENDING or REJECTED one "does not exist in the translation".
SENDABLE_STATUSES = frozenset({"APPROVED", "PAUSED", "DISABLED"})
HEADER_FORMATS = frozenset({"text", "image", "document", "video"})
BUTTON_TYPES = frozenset({"quick_reply", "url", "phone_number"})


def placeholder_count(text: str) -> int:
    """How many ``{{n}}`` parameters a template text expects (Meta numbers them 1..n)."""
    indexes = [int(match) for match in PLACEHOLDER_RE.findall(text)]
    return max(indexes, default=0)


def substitute(text: str, values: list[str]) -> str:
    """Fill ``{{n}}`` with the n-th value; a missing value keeps the placeholder visible."""

    def replace(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return values[index] if 0 <= index < len(values) else match.group(0)

    return PLACEHOLDER_RE.sub(replace, text)


@dataclass(frozen=True)
class TemplateButton:
    """One button of a template; quick replies come back as ``type: button`` messages."""

    type: str
    text: str
    url: str = ""
    phone_number: str = ""
    # The full sample URL of a dynamic link (Meta's ``example``).
    example: str = ""


@dataclass(frozen=True)
class MessageTemplate:
    """An approved template: its texts with ``{{n}}`` placeholders, header and buttons."""

    name: str
    language: str
    body: str
    category: str = "utility"
    status: str = "APPROVED"
    header_format: str | None = None
    header_text: str = ""
    footer: str = ""
    buttons: tuple[TemplateButton, ...] = ()
    # Graph API id; derived from name and language when not given (stable across restarts).
    id: str = ""
    # Meta's rejected_reason ("NONE" unless REJECTED).
    rejected_reason: str = "NONE"
    message_send_ttl_seconds: int | None = None
    body_examples: tuple[str, ...] = ()
    header_example: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha256(f"{self.name}:{self.language}".encode()).hexdigest()
            object.__setattr__(self, "id", str(10**15 + int(digest[:12], 16) % (9 * 10**15)))
        if not re.fullmatch(r"[a-z0-9_]{1,512}", self.name):
            raise ValueError("template name must be lowercase letters, digits and underscores")
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", self.language):
            raise ValueError("template language must look like 'de' or 'en_US'")
        if not self.body or len(self.body) > 1024:
            raise ValueError("template body must have 1 to 1024 characters")
        if self.category not in CATEGORIES:
            raise ValueError(f"template category must be one of {sorted(CATEGORIES)}")
        if self.status not in STATUSES:
            raise ValueError(f"template status must be one of {sorted(STATUSES)}")
        if self.header_format is not None and self.header_format not in HEADER_FORMATS:
            raise ValueError(f"template header format must be one of {sorted(HEADER_FORMATS)}")
        if len(self.buttons) > 10:
            raise ValueError("a template has at most 10 buttons")
        for button in self.buttons:
            if button.type not in BUTTON_TYPES or not 1 <= len(button.text) <= 25:
                raise ValueError("template buttons need a known type and 1 to 25 characters")

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.language)

    @property
    def body_parameter_count(self) -> int:
        return placeholder_count(self.body)

    @property
    def header_parameter_count(self) -> int:
        if self.header_format == "text":
            return placeholder_count(self.header_text)
        # Media headers take exactly one media parameter.
        return 1 if self.header_format else 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MessageTemplate":
        """Build from the JSON shape used by the registry file and the control API."""
        header = data.get("header") or {}
        if not isinstance(header, Mapping):
            raise ValueError("template header must be an object")
        buttons = data.get("buttons") or []
        if not isinstance(buttons, list) or not all(isinstance(b, Mapping) for b in buttons):
            raise ValueError("template buttons must be a list of objects")
        try:
            return cls(
                name=str(data["name"]),
                language=str(data["language"]),
                body=str(data["body"]),
                category=str(data.get("category", "utility")),
                status=str(data.get("status", "APPROVED")),
                id=str(data.get("id", "")),
                message_send_ttl_seconds=(
                    int(data["message_send_ttl_seconds"])
                    if data.get("message_send_ttl_seconds") is not None
                    else None
                ),
                header_format=str(header["format"]) if header.get("format") else None,
                header_text=str(header.get("text", "")),
                header_example=str(header.get("example", "")),
                body_examples=tuple(str(value) for value in data.get("body_examples") or ()),
                footer=str(data.get("footer", "")),
                buttons=tuple(
                    TemplateButton(
                        type=str(button.get("type", "quick_reply")),
                        text=str(button.get("text", "")),
                        url=str(button.get("url", "")),
                        phone_number=str(button.get("phone_number", "")),
                        example=str(button.get("example", "")),
                    )
                    for button in buttons
                ),
            )
        except KeyError as error:
            raise ValueError(f"template needs the field {error.args[0]!r}") from error

    @property
    def is_sendable(self) -> bool:
        return self.status in SENDABLE_STATUSES

    def to_graph(self) -> dict[str, Any]:
        """The template as ``GET /{WABA_ID}/message_templates`` lists it."""
        components: list[dict[str, Any]] = []
        if self.header_format == "text":
            header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": self.header_text}
            if self.header_example:
                header["example"] = {"header_text": [self.header_example]}
            components.append(header)
        elif self.header_format:
            components.append({"type": "HEADER", "format": self.header_format.upper()})
        body: dict[str, Any] = {"type": "BODY", "text": self.body}
        if self.body_examples:
            body["example"] = {"body_text": [list(self.body_examples)]}
        components.append(body)
        if self.footer:
            components.append({"type": "FOOTER", "text": self.footer})
        if self.buttons:
            buttons = []
            for button in self.buttons:
                item: dict[str, Any] = {"type": button.type.upper(), "text": button.text}
                if button.type == "url":
                    item["url"] = button.url
                    if button.example:
                        item["example"] = [button.example]
                if button.type == "phone_number":
                    item["phone_number"] = button.phone_number
                buttons.append(item)
            components.append({"type": "BUTTONS", "buttons": buttons})
        graph: dict[str, Any] = {
            "name": self.name,
            "parameter_format": "POSITIONAL",
            "components": components,
            "language": self.language,
            "status": self.status,
            "category": self.category.upper(),
            "id": self.id,
        }
        if self.status == "REJECTED":
            graph["rejected_reason"] = self.rejected_reason
        if self.message_send_ttl_seconds is not None:
            graph["message_send_ttl_seconds"] = self.message_send_ttl_seconds
        return graph

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
            "header": (
                {"format": self.header_format, "text": self.header_text}
                if self.header_format
                else None
            ),
            "body": self.body,
            "footer": self.footer,
            "buttons": [
                {"type": button.type, "text": button.text, "url": button.url}
                for button in self.buttons
            ],
            "body_examples": list(self.body_examples),
            "rejected_reason": self.rejected_reason,
            "message_send_ttl_seconds": self.message_send_ttl_seconds,
        }


def load_templates(path: Path = DEFAULT_TEMPLATES_FILE) -> list[MessageTemplate]:
    """Read a JSON list of template definitions."""
    data = orjson.loads(path.read_bytes())
    return [MessageTemplate.from_dict(item) for item in data]


class TemplateRegistry:
    """Templates by (name, language). Not thread-safe: the simulator guards it with its lock."""

    def __init__(self, templates: Iterable[MessageTemplate] = ()) -> None:
        self._templates: dict[tuple[str, str], MessageTemplate] = {}
        for template in templates:
            self.register(template)

    def register(self, template: MessageTemplate) -> None:
        self._templates[template.key] = template

    def get(self, name: str, language: str) -> MessageTemplate | None:
        return self._templates.get((name, language))

    def by_id(self, template_id: str) -> MessageTemplate | None:
        return next((t for t in self._templates.values() if t.id == template_id), None)

    def all(self) -> list[MessageTemplate]:
        return sorted(self._templates.values(), key=lambda template: template.key)
