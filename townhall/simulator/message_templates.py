"""The message templates the simulated WhatsApp Business Account has "approved".

Meta only delivers templates that exist for the exact name and language code; the registry
plays the role of WhatsApp Manager. Defaults are shipped in ``message_templates.json``.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

DEFAULT_TEMPLATES_FILE = Path(__file__).with_name("message_templates.json")

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
CATEGORIES = frozenset({"utility", "marketing", "authentication"})
STATUSES = frozenset({"APPROVED", "PAUSED", "DISABLED"})
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

    def __post_init__(self) -> None:
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
                header_format=str(header["format"]) if header.get("format") else None,
                header_text=str(header.get("text", "")),
                footer=str(data.get("footer", "")),
                buttons=tuple(
                    TemplateButton(
                        type=str(button.get("type", "quick_reply")),
                        text=str(button.get("text", "")),
                        url=str(button.get("url", "")),
                    )
                    for button in buttons
                ),
            )
        except KeyError as error:
            raise ValueError(f"template needs the field {error.args[0]!r}") from error

    def to_dict(self) -> dict[str, Any]:
        return {
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

    def all(self) -> list[MessageTemplate]:
        return sorted(self._templates.values(), key=lambda template: template.key)
