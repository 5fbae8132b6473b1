"""Meta's side of template management: reading a submission and reviewing it.

``POST /{WABA_ID}/message_templates`` bodies become registry templates (PENDING); the review
approves them or rejects them with Meta's reason codes. An independent implementation of
Meta's published rules (it does not share code with Townhall's checks), so the end-to-end
tests catch a rule Townhall forgot.
https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates
"""

import re
from collections.abc import Mapping
from typing import Any

from townhall.simulator import errors
from townhall.simulator.message_templates import (
    CATEGORIES,
    MessageTemplate,
    TemplateButton,
)

PARAMETER_RE = re.compile(r"\{\{([^{}]*)\}\}")
# Meta's message_send_ttl_seconds ranges per category (templates > time-to-live).
TTL_RANGES = {"authentication": (30, 900), "utility": (30, 43200), "marketing": (43200, 2592000)}

INVALID_FORMAT = "INVALID_FORMAT"


def parse_submission(payload: object) -> MessageTemplate:
    """A submission as a PENDING template; malformed requests raise Graph's #100 at once,
    as Meta does (rule violations of a well-formed template are found by ``review``)."""
    if not isinstance(payload, Mapping):
        raise errors.invalid_parameter("The request body must be a JSON object.")
    name = payload.get("name")
    language = payload.get("language")
    category = str(payload.get("category", "")).lower()
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,512}", name):
        raise errors.invalid_parameter(
            "Param name must be lowercase letters, numbers and underscores."
        )
    if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", language):
        raise errors.invalid_parameter("Param language is not a supported language code.")
    if category not in CATEGORIES:
        raise errors.invalid_parameter(
            "Param category must be UTILITY, MARKETING or AUTHENTICATION."
        )
    ttl = payload.get("message_send_ttl_seconds")
    if ttl is not None:
        low, high = TTL_RANGES[category]
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not low <= ttl <= high:
            raise errors.invalid_parameter(
                f"Param message_send_ttl_seconds must be between {low} and {high} for "
                f"{category.upper()} templates."
            )
    components = payload.get("components")
    if not isinstance(components, list) or not all(isinstance(c, Mapping) for c in components):
        raise errors.invalid_parameter("Param components must be a list of objects.")
    fields: dict[str, Any] = {"header_format": None, "header_text": "", "footer": "", "body": ""}
    buttons: list[TemplateButton] = []
    for component in components:
        kind = str(component.get("type", "")).upper()
        example = component.get("example") if isinstance(component.get("example"), Mapping) else {}
        if kind == "HEADER":
            fields["header_format"] = str(component.get("format", "TEXT")).lower()
            fields["header_text"] = str(component.get("text", ""))
            fields["header_example"] = str((example.get("header_text") or [""])[0])
        elif kind == "BODY":
            fields["body"] = str(component.get("text", ""))
            rows = example.get("body_text") or [[]]
            first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], list) else []
            fields["body_examples"] = tuple(str(value) for value in first)
        elif kind == "FOOTER":
            fields["footer"] = str(component.get("text", ""))
        elif kind == "BUTTONS":
            for button in component.get("buttons") or []:
                if not isinstance(button, Mapping):
                    raise errors.invalid_parameter("Template buttons must be objects.")
                examples = button.get("example") or []
                buttons.append(
                    TemplateButton(
                        type=str(button.get("type", "")).lower(),
                        text=str(button.get("text", "")),
                        url=str(button.get("url", "")),
                        phone_number=str(button.get("phone_number", "")),
                        example=str(examples[0]) if isinstance(examples, list) and examples else "",
                    )
                )
        else:
            raise errors.invalid_parameter(f"Param component type {kind!r} is not valid.")
    if not fields["body"]:
        raise errors.invalid_parameter("A template needs a BODY component with text.")
    try:
        return MessageTemplate(
            name=name,
            language=language,
            category=category,
            status="PENDING",
            message_send_ttl_seconds=ttl,
            buttons=tuple(buttons),
            # The registry caps the body; an over-long one is kept (shortened) for the review.
            **{**fields, "body": fields["body"][:1024], "header_text": fields["header_text"][:60]},
        )
    except ValueError as error:
        raise errors.invalid_parameter(f"Invalid template: {error}") from error


def review(template: MessageTemplate, submission: Mapping[str, Any]) -> str | None:
    """Meta's decision: None to approve, or the rejection reason (``INVALID_FORMAT``)."""
    body = _body_text(submission)
    if len(body) > 1024:
        return INVALID_FORMAT
    problems = [
        _parameter_problems(body, len(template.body_examples), allow_at_edges=False),
        _header_problems(template),
        len(template.footer) > 60 or "{{" in template.footer,
        _button_problems(template.buttons),
    ]
    return INVALID_FORMAT if any(problems) else None


def _body_text(submission: Mapping[str, Any]) -> str:
    for component in submission.get("components") or []:
        if isinstance(component, Mapping) and str(component.get("type", "")).upper() == "BODY":
            return str(component.get("text", ""))
    return ""


def _parameter_problems(text: str, example_count: int, *, allow_at_edges: bool) -> bool:
    names = PARAMETER_RE.findall(text)
    if not names:
        return False
    if not all(name.strip().isdigit() for name in names):
        return True
    numbers = sorted({int(name) for name in names})
    if numbers != list(range(1, len(numbers) + 1)) or example_count < len(numbers):
        return True
    stripped = text.strip()
    if not allow_at_edges and (stripped.startswith("{{") or stripped.endswith("}}")):
        return True
    # Parameters side by side, with nothing but spaces or line breaks between them.
    return bool(re.search(r"\}\}\s*\{\{", text))


def _header_problems(template: MessageTemplate) -> bool:
    if template.header_format != "text":
        return False
    count = len(PARAMETER_RE.findall(template.header_text))
    return count > 1 or (count == 1 and not template.header_example)


def _button_problems(buttons: tuple[TemplateButton, ...]) -> bool:
    kinds = [button.type for button in buttons]
    if kinds.count("url") > 2 or kinds.count("phone_number") > 1:
        return True
    for button in buttons:
        if button.type == "url":
            names = PARAMETER_RE.findall(button.url)
            if not button.url.startswith("https://"):
                return True
            if names and (names != ["1"] or not button.url.endswith("{{1}}") or not button.example):
                return True
    return False
