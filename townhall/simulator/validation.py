"""Validation of ``POST /{version}/{phone_number_id}/messages`` bodies, like the Graph API.

Limits are Meta's (Cloud API "Messages" reference): text body 4,096 characters; interactive
body 1,024; at most 3 reply buttons with titles of at most 20 characters; a list of at most
10 rows with row titles of at most 24. Structural problems answer #100 "Invalid parameter",
values that break a rule answer #131009 "Parameter value is not valid", template problems
132000/132001.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from townhall.simulator import errors
from townhall.simulator.errors import GraphError
from townhall.simulator.message_templates import MessageTemplate, substitute

SUPPORTED_TYPES = (
    "text",
    "template",
    "interactive",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "location",
    "reaction",
)
MEDIA_TYPES = frozenset({"image", "document", "audio", "video", "sticker"})
CAPTION_TYPES = frozenset({"image", "video", "document"})
INTERACTIVE_TYPES = ("button", "list", "cta_url")

TEXT_BODY_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_TEXT_MAX = 60
CAPTION_MAX = 1024
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
LIST_SECTIONS_MAX = 10
LIST_ROWS_MAX = 10
SECTION_TITLE_MAX = 24
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
BIZ_OPAQUE_MAX = 512

PHONE_RE = re.compile(r"\+?(\d{6,15})")
URL_RE = re.compile(r"https?://[^\s]+", re.IGNORECASE)

TemplateLookup = Callable[[str, str], MessageTemplate | None]
MediaExists = Callable[[str], bool]


@dataclass(frozen=True)
class RenderedButton:
    """A template button as the recipient sees it, with the payload the send attached."""

    type: str
    text: str
    payload: str = ""
    url: str = ""


@dataclass(frozen=True)
class RenderedTemplate:
    """A template send with its parameters substituted, as shown on the phone."""

    name: str
    language: str
    category: str
    header_text: str
    header_media: dict[str, Any] | None
    body: str
    footer: str
    buttons: tuple[RenderedButton, ...] = ()
    # How long Meta tries to deliver it (the template's TTL); None = the default.
    message_send_ttl_seconds: int | None = None


@dataclass(frozen=True)
class OutboundSend:
    """A valid business message request, normalised."""

    to: str
    wa_id: str
    type: str
    content: dict[str, Any]
    summary: str
    context_message_id: str | None = None
    biz_opaque_callback_data: str | None = None
    template: RenderedTemplate | None = None
    reply_options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MarkAsRead:
    """A ``status: read`` request marking a citizen's message as read."""

    message_id: str
    show_typing: bool


def validate_request(
    payload: object, *, template_lookup: TemplateLookup, media_exists: MediaExists
) -> OutboundSend | MarkAsRead:
    """Check a messages-endpoint body; raise GraphError with Meta's code when it is invalid."""
    if not isinstance(payload, Mapping):
        raise errors.invalid_parameter("The request body must be a JSON object.")
    if payload.get("messaging_product") != "whatsapp":
        raise errors.invalid_parameter("The parameter messaging_product is required.")
    if "status" in payload:
        return _validate_mark_as_read(payload)
    recipient_type = payload.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise errors.invalid_parameter("Param recipient_type must be 'individual'.")
    to = payload.get("to")
    if not isinstance(to, str) or not to:
        raise errors.invalid_parameter("The parameter to is required.")
    phone_match = PHONE_RE.fullmatch(to.strip())
    if phone_match is None:
        raise errors.invalid_parameter("Param to must be a phone number of 6 to 15 digits.")
    message_type = payload.get("type", "text")
    if message_type not in SUPPORTED_TYPES:
        raise errors.invalid_parameter(
            f"Param type must be one of {{{', '.join(t.upper() for t in SUPPORTED_TYPES)}}}."
        )
    content = _required_object(payload, message_type, message_type)
    context_message_id = _validate_context(payload.get("context"))
    biz_opaque = payload.get("biz_opaque_callback_data")
    if biz_opaque is not None and (
        not isinstance(biz_opaque, str) or len(biz_opaque) > BIZ_OPAQUE_MAX
    ):
        raise errors.invalid_parameter(
            f"Param biz_opaque_callback_data must be a string of at most {BIZ_OPAQUE_MAX} characters."
        )

    template: RenderedTemplate | None = None
    reply_options: tuple[tuple[str, str], ...] = ()
    if message_type == "text":
        summary = _validate_text(content)
    elif message_type == "interactive":
        summary, reply_options = _validate_interactive(content, media_exists)
    elif message_type == "template":
        template = _validate_template(content, template_lookup, media_exists)
        summary = template.body
    elif message_type in MEDIA_TYPES:
        summary = _validate_media(message_type, content, media_exists)
    elif message_type == "location":
        summary = _validate_location(content)
    else:
        summary = _validate_reaction(content)
    return OutboundSend(
        to=to,
        wa_id=phone_match.group(1),
        type=message_type,
        content=dict(content),
        summary=summary,
        context_message_id=context_message_id,
        biz_opaque_callback_data=biz_opaque,
        template=template,
        reply_options=reply_options,
    )


# --- helpers ------------------------------------------------------------------------------------


def _required_object(container: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = container.get(key)
    if not isinstance(value, Mapping):
        raise errors.invalid_parameter(f"The parameter {path} is required.")
    return value


def _required_string(
    container: Mapping[str, Any], key: str, path: str, *, max_length: int, value_error: bool = False
) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise errors.invalid_parameter(f"The parameter {path} is required.")
    _check_length(value, path, max_length=max_length, value_error=value_error)
    return value


def _optional_string(
    container: Mapping[str, Any], key: str, path: str, *, max_length: int, value_error: bool = False
) -> str:
    value = container.get(key, "")
    if not isinstance(value, str):
        raise errors.invalid_parameter(f"Param {path} must be a string.")
    _check_length(value, path, max_length=max_length, value_error=value_error)
    return value


def _check_length(value: str, path: str, *, max_length: int, value_error: bool) -> None:
    if len(value) <= max_length:
        return
    details = f"Param {path} must be at most {max_length} characters long."
    raise errors.invalid_value(details) if value_error else errors.invalid_parameter(details)


def _validate_context(context: object) -> str | None:
    if context is None:
        return None
    if not isinstance(context, Mapping) or not isinstance(context.get("message_id"), str):
        raise errors.invalid_parameter("The parameter context['message_id'] is required.")
    return str(context["message_id"])


def _validate_mark_as_read(payload: Mapping[str, Any]) -> MarkAsRead:
    if payload.get("status") != "read":
        raise errors.invalid_parameter("Param status must be 'read'.")
    message_id = payload.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise errors.invalid_parameter("The parameter message_id is required.")
    typing = payload.get("typing_indicator")
    if typing is not None and (not isinstance(typing, Mapping) or typing.get("type") != "text"):
        raise errors.invalid_parameter("Param typing_indicator['type'] must be 'text'.")
    return MarkAsRead(message_id=message_id, show_typing=typing is not None)


def _validate_text(content: Mapping[str, Any]) -> str:
    body = _required_string(content, "body", "text['body']", max_length=TEXT_BODY_MAX)
    preview_url = content.get("preview_url", False)
    if not isinstance(preview_url, bool):
        raise errors.invalid_parameter("Param text['preview_url'] must be a boolean.")
    return body


def _validate_media_object(
    media_type: str, content: Mapping[str, Any], path: str, media_exists: MediaExists
) -> None:
    has_id = "id" in content
    has_link = "link" in content
    if has_id == has_link:
        raise errors.invalid_parameter(f"Param {path} must have exactly one of 'id' or 'link'.")
    if has_id:
        media_id = content["id"]
        if not isinstance(media_id, str) or not media_exists(media_id):
            raise GraphError(
                errors.MEDIA_ERROR, f"Param {path}['id'] is not a valid {media_type} media id."
            )
    else:
        link = content["link"]
        if not isinstance(link, str) or not URL_RE.fullmatch(link):
            raise errors.invalid_parameter(f"Param {path}['link'] must be an http(s) URL.")


def _validate_media(media_type: str, content: Mapping[str, Any], media_exists: MediaExists) -> str:
    _validate_media_object(media_type, content, media_type, media_exists)
    caption = ""
    if media_type in CAPTION_TYPES:
        caption = _optional_string(
            content, "caption", f"{media_type}['caption']", max_length=CAPTION_MAX
        )
    elif "caption" in content:
        raise errors.invalid_parameter(f"Param {media_type}['caption'] is not supported.")
    if media_type == "document":
        _optional_string(content, "filename", "document['filename']", max_length=240)
    return caption or f"[{media_type}]"


def _validate_location(content: Mapping[str, Any]) -> str:
    coordinates = []
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = content.get(key)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > bound:
            raise errors.invalid_parameter(f"Param location['{key}'] must be a number.")
        coordinates.append(float(value))
    name = _optional_string(content, "name", "location['name']", max_length=1000)
    _optional_string(content, "address", "location['address']", max_length=1000)
    return name or f"{coordinates[0]:.5f}, {coordinates[1]:.5f}"


def _validate_reaction(content: Mapping[str, Any]) -> str:
    _required_string(content, "message_id", "reaction['message_id']", max_length=512)
    if "emoji" not in content:
        raise errors.invalid_parameter("The parameter reaction['emoji'] is required.")
    emoji = content["emoji"]
    # An empty emoji removes the reaction; anything else must be one emoji (a few code points).
    if not isinstance(emoji, str) or len(emoji) > 16 or (emoji and emoji.isalnum()):
        raise errors.invalid_value("Param reaction['emoji'] must be a single emoji.")
    return emoji


# --- interactive --------------------------------------------------------------------------------


def _validate_interactive(
    content: Mapping[str, Any], media_exists: MediaExists
) -> tuple[str, tuple[tuple[str, str], ...]]:
    interactive_type = content.get("type")
    if interactive_type not in INTERACTIVE_TYPES:
        raise errors.invalid_parameter(
            "Param interactive['type'] must be one of {BUTTON, LIST, CTA_URL}."
        )
    body = _required_object(content, "body", "interactive['body']")
    body_text = _required_string(
        body,
        "text",
        "interactive['body']['text']",
        max_length=INTERACTIVE_BODY_MAX,
        value_error=True,
    )
    if "header" in content:
        _validate_interactive_header(
            _required_object(content, "header", "interactive['header']"),
            allow_media=interactive_type != "list",
            media_exists=media_exists,
        )
    if "footer" in content:
        footer = _required_object(content, "footer", "interactive['footer']")
        _required_string(
            footer,
            "text",
            "interactive['footer']['text']",
            max_length=FOOTER_TEXT_MAX,
            value_error=True,
        )
    action = _required_object(content, "action", "interactive['action']")
    if interactive_type == "button":
        options = _validate_reply_buttons(action)
    elif interactive_type == "list":
        options = _validate_list(action)
    else:
        _validate_cta_url(action)
        options = ()
    return body_text, options


def _validate_interactive_header(
    header: Mapping[str, Any], *, allow_media: bool, media_exists: MediaExists
) -> None:
    header_type = header.get("type")
    if header_type == "text":
        _required_string(
            header,
            "text",
            "interactive['header']['text']",
            max_length=HEADER_TEXT_MAX,
            value_error=True,
        )
    elif allow_media and header_type in ("image", "video", "document"):
        media = _required_object(header, header_type, f"interactive['header']['{header_type}']")
        _validate_media_object(
            header_type, media, f"interactive['header']['{header_type}']", media_exists
        )
    else:
        raise errors.invalid_parameter("Param interactive['header']['type'] is not valid here.")


def _validate_reply_buttons(action: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise errors.invalid_parameter(
            "The parameter interactive['action']['buttons'] is required."
        )
    if len(buttons) > BUTTONS_MAX:
        raise errors.invalid_value(f"buttons: Too many elements. Max {BUTTONS_MAX}.")
    options: list[tuple[str, str]] = []
    for index, button in enumerate(buttons):
        path = f"interactive['action']['buttons'][{index}]"
        if not isinstance(button, Mapping) or button.get("type") != "reply":
            raise errors.invalid_parameter(f"Param {path}['type'] must be 'reply'.")
        reply = _required_object(button, "reply", f"{path}['reply']")
        button_id = _required_string(
            reply, "id", f"{path}['reply']['id']", max_length=BUTTON_ID_MAX, value_error=True
        )
        title = _required_string(
            reply,
            "title",
            f"{path}['reply']['title']",
            max_length=BUTTON_TITLE_MAX,
            value_error=True,
        )
        options.append((button_id, title))
    if len({button_id for button_id, _ in options}) != len(options):
        raise errors.invalid_value("Button IDs must be unique.")
    if len({title for _, title in options}) != len(options):
        raise errors.invalid_value("Button titles must be unique.")
    return tuple(options)


def _validate_list(action: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    _required_string(
        action,
        "button",
        "interactive['action']['button']",
        max_length=LIST_BUTTON_MAX,
        value_error=True,
    )
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        raise errors.invalid_parameter(
            "The parameter interactive['action']['sections'] is required."
        )
    if len(sections) > LIST_SECTIONS_MAX:
        raise errors.invalid_value(f"sections: Too many elements. Max {LIST_SECTIONS_MAX}.")
    options: list[tuple[str, str]] = []
    for section_index, section in enumerate(sections):
        path = f"interactive['action']['sections'][{section_index}]"
        if not isinstance(section, Mapping):
            raise errors.invalid_parameter(f"Param {path} must be an object.")
        if len(sections) > 1:
            # Meta requires section titles as soon as there is more than one section.
            _required_string(
                section, "title", f"{path}['title']", max_length=SECTION_TITLE_MAX, value_error=True
            )
        else:
            _optional_string(
                section, "title", f"{path}['title']", max_length=SECTION_TITLE_MAX, value_error=True
            )
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise errors.invalid_parameter(f"The parameter {path}['rows'] is required.")
        for row_index, row in enumerate(rows):
            row_path = f"{path}['rows'][{row_index}]"
            if not isinstance(row, Mapping):
                raise errors.invalid_parameter(f"Param {row_path} must be an object.")
            row_id = _required_string(
                row, "id", f"{row_path}['id']", max_length=ROW_ID_MAX, value_error=True
            )
            title = _required_string(
                row, "title", f"{row_path}['title']", max_length=ROW_TITLE_MAX, value_error=True
            )
            _optional_string(
                row,
                "description",
                f"{row_path}['description']",
                max_length=ROW_DESCRIPTION_MAX,
                value_error=True,
            )
            options.append((row_id, title))
    if len(options) > LIST_ROWS_MAX:
        raise errors.invalid_value(f"rows: Too many elements. Max {LIST_ROWS_MAX} rows in total.")
    if len({row_id for row_id, _ in options}) != len(options):
        raise errors.invalid_value("Row IDs must be unique.")
    return tuple(options)


def _validate_cta_url(action: Mapping[str, Any]) -> None:
    if action.get("name") != "cta_url":
        raise errors.invalid_parameter("Param interactive['action']['name'] must be 'cta_url'.")
    parameters = _required_object(action, "parameters", "interactive['action']['parameters']")
    _required_string(
        parameters,
        "display_text",
        "interactive['action']['parameters']['display_text']",
        max_length=BUTTON_TITLE_MAX,
        value_error=True,
    )
    url = parameters.get("url")
    if not isinstance(url, str) or not URL_RE.fullmatch(url):
        raise errors.invalid_parameter(
            "Param interactive['action']['parameters']['url'] must be an http(s) URL."
        )


# --- templates ----------------------------------------------------------------------------------


def _parameter_text(parameter: object) -> str:
    """The text a body/header parameter shows; currency and dates show their fallback."""
    if not isinstance(parameter, Mapping):
        raise errors.invalid_parameter("Template parameters must be objects.")
    parameter_type = parameter.get("type")
    if parameter_type == "text":
        text = parameter.get("text")
        if not isinstance(text, str) or not text:
            raise errors.invalid_parameter("Param text of a template parameter is required.")
        if "\n" in text or "    " in text:
            # Meta refuses new lines, tabs and more than 4 consecutive spaces in parameters.
            raise errors.invalid_value(
                "Param text cannot have new-line/tab characters or more than 4 consecutive spaces."
            )
        return text
    if parameter_type in ("currency", "date_time"):
        value = parameter.get(parameter_type)
        if not isinstance(value, Mapping) or not isinstance(value.get("fallback_value"), str):
            raise errors.invalid_parameter(
                f"The parameter {parameter_type}['fallback_value'] is required."
            )
        return str(value["fallback_value"])
    raise errors.invalid_parameter(f"Param type {parameter_type!r} is not valid here.")


def _validate_template(
    content: Mapping[str, Any], template_lookup: TemplateLookup, media_exists: MediaExists
) -> RenderedTemplate:
    name = _required_string(content, "name", "template['name']", max_length=512)
    language = _required_object(content, "language", "template['language']")
    code = _required_string(language, "code", "template['language']['code']", max_length=16)
    template = template_lookup(name, code)
    # Meta treats a template still in review, or rejected, like one that does not exist.
    if template is None or not template.is_sendable:
        raise GraphError(
            errors.TEMPLATE_NOT_FOUND, f"template name ({name}) does not exist in {code}"
        )
    if template.status == "PAUSED":
        raise GraphError(errors.TEMPLATE_PAUSED, f"Template {name} is paused.")
    if template.status == "DISABLED":
        raise GraphError(errors.TEMPLATE_DISABLED, f"Template {name} is disabled.")

    components = content.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, Mapping) for c in components):
        raise errors.invalid_parameter("Param template['components'] must be a list of objects.")
    body_values: list[str] = []
    header_values: list[str] = []
    header_media: dict[str, Any] | None = None
    header_parameter_count = 0
    payloads: dict[int, str] = {}
    url_suffixes: dict[int, str] = {}
    for component in components:
        component_type = component.get("type")
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise errors.invalid_parameter("Param parameters of a component must be a list.")
        if component_type == "body":
            body_values = [_parameter_text(parameter) for parameter in parameters]
        elif component_type == "header":
            header_parameter_count = len(parameters)
            if template.header_format == "text":
                header_values = [_parameter_text(parameter) for parameter in parameters]
            elif template.header_format and len(parameters) == 1:
                header_media = _template_header_media(
                    template.header_format, parameters[0], media_exists
                )
        elif component_type == "button":
            _template_button_parameters(template, component, payloads, url_suffixes)
        else:
            raise errors.invalid_parameter(f"Param component type {component_type!r} is not valid.")

    for part, given, expected in (
        ("header", header_parameter_count, template.header_parameter_count),
        ("body", len(body_values), template.body_parameter_count),
    ):
        if given != expected:
            raise GraphError(
                errors.TEMPLATE_PARAMETER_COUNT,
                f"{part}: number of localizable_params ({given}) does not match the expected "
                f"number of params ({expected})",
            )
    return RenderedTemplate(
        name=template.name,
        language=template.language,
        category=template.category,
        header_text=(
            substitute(template.header_text, header_values)
            if template.header_format == "text"
            else ""
        ),
        header_media=header_media,
        body=substitute(template.body, body_values),
        footer=template.footer,
        message_send_ttl_seconds=template.message_send_ttl_seconds,
        buttons=tuple(
            RenderedButton(
                type=button.type,
                text=button.text,
                # Without a payload in the send, Meta reports the button text as the payload.
                payload=payloads.get(index, button.text),
                # Meta's dynamic URL ends with {{1}}, which the send's suffix replaces.
                url=(
                    button.url.replace("{{1}}", url_suffixes.get(index, ""))
                    if "{{1}}" in button.url
                    else button.url + url_suffixes.get(index, "")
                ),
            )
            for index, button in enumerate(template.buttons)
        ),
    )


def _template_header_media(
    header_format: str, parameter: object, media_exists: MediaExists
) -> dict[str, Any]:
    if not isinstance(parameter, Mapping) or parameter.get("type") != header_format:
        raise errors.invalid_parameter(f"Param header parameter must be of type {header_format}.")
    media = _required_object(parameter, header_format, f"header['{header_format}']")
    _validate_media_object(header_format, media, f"header['{header_format}']", media_exists)
    return {"type": header_format, **dict(media)}


def _template_button_parameters(
    template: MessageTemplate,
    component: Mapping[str, Any],
    payloads: dict[int, str],
    url_suffixes: dict[int, str],
) -> None:
    try:
        index = int(component.get("index", -1))
    except (TypeError, ValueError):
        index = -1
    sub_type = component.get("sub_type")
    expected_type = {"quick_reply": "quick_reply", "url": "url"}.get(str(sub_type))
    if (
        expected_type is None
        or not 0 <= index < len(template.buttons)
        or template.buttons[index].type != expected_type
    ):
        raise errors.invalid_value(
            f"buttons: index {component.get('index')!r} is not a {sub_type} button of the template."
        )
    for parameter in component.get("parameters", []):
        if not isinstance(parameter, Mapping):
            raise errors.invalid_parameter("Template button parameters must be objects.")
        if expected_type == "quick_reply" and parameter.get("type") == "payload":
            payload = parameter.get("payload")
            if not isinstance(payload, str) or not payload or len(payload) > 1000:
                raise errors.invalid_parameter("Param payload must be 1 to 1000 characters.")
            payloads[index] = payload
        elif expected_type == "url" and parameter.get("type") == "text":
            url_suffixes[index] = _parameter_text(parameter)
        else:
            raise errors.invalid_parameter("Param type of a button parameter is not valid.")
