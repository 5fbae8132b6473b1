"""Message templates: Meta's rules for writing them and for sending them.

Pure functions, no database writes: ``check_template`` lists every rule a draft breaks
before it is submitted (the staff form shows them live), ``build_outbound`` turns an
approved template and a send's values into a validated ``outbound.Template``.
Writes (submit, sync, status webhooks) are in ``template_actions.py``.

Meta's rules: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates
and https://developers.facebook.com/docs/whatsapp/message-templates/guidelines
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from townhall.whatsapp import outbound

if TYPE_CHECKING:
    from townhall.whatsapp.models import MessageTemplate

NAME_MAX_CHARS = 512
BODY_MAX_CHARS = 1024
HEADER_TEXT_MAX_CHARS = 60
FOOTER_MAX_CHARS = 60
BUTTON_TEXT_MAX_CHARS = 25
URL_MAX_CHARS = 2000
# Meta: "Templates are composed of up to 10 buttons total, including up to 2 URL buttons and
# 1 phone number button"; quick replies count towards the 10 (Message templates > Components
# > Buttons, checked December 2026). More than 3 buttons show as a list on the phone.
BUTTONS_MAX = 10
URL_BUTTONS_MAX = 2
PHONE_BUTTONS_MAX = 1

# Meta's message_send_ttl_seconds per category (Templates > Time-to-live, May 2026):
# authentication 30 s to 15 min, utility 30 s to 12 h, marketing 12 h to 30 days (the latter
# only through the Marketing Messages API). Empty means Meta's default (30 days; 10 min for
# authentication).
TTL_RANGE_SECONDS: dict[str, tuple[int, int]] = {
    "authentication": (30, 15 * 60),
    "utility": (30, 12 * 3600),
    "marketing": (12 * 3600, 30 * 86400),
}

NAME_RE = re.compile(r"[a-z0-9_]+")
PARAMETER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
# A send's parameter text: Meta refuses new lines, tabs and more than 4 spaces in a row.
_FORBIDDEN_IN_PARAMETER = re.compile(r"[\n\t]| {5,}")


class TemplateNotSendable(outbound.InvalidOutboundMessage):
    """The template cannot be sent with these values; the text says why, for staff."""


class TemplateNotApproved(TemplateNotSendable):
    """Meta has not approved the template (draft, in review, rejected, paused, disabled)."""


class TemplateParametersMismatch(TemplateNotSendable):
    """The send's values do not fit the template's parameters, header or buttons."""


# --- reading a template ----------------------------------------------------------------------


def parameter_numbers(text: str) -> list[str]:
    """The contents of every ``{{…}}`` in order, as written (``["1", "2"]``)."""
    return PARAMETER_RE.findall(text)


def parameter_count(text: str) -> int:
    """How many values a text with Meta's numbered parameters ``{{1}}``…``{{n}}`` takes."""
    numbers = [int(number) for number in parameter_numbers(text) if number.isdigit()]
    return max(numbers, default=0)


def fill_parameters(text: str, values: Sequence[str]) -> str:
    """The text with ``{{n}}`` replaced by the n-th value (for previews)."""

    def replace(match: re.Match[str]) -> str:
        number = match.group(1)
        if number.isdigit() and 0 < int(number) <= len(values):
            return values[int(number) - 1]
        return match.group(0)

    return PARAMETER_RE.sub(replace, text)


def parameter_text(text: str) -> str:
    """A text made fit to be a template parameter: Meta refuses new lines, tabs and more
    than four spaces in a row in a parameter, so paragraphs become one line."""
    lines = [line.strip() for line in text.replace("\t", " ").splitlines()]
    flattened = " ".join(line for line in lines if line)
    return re.sub(r" {2,}", " ", flattened)


def url_button_is_dynamic(button: Mapping[str, Any]) -> bool:
    return button.get("type") == "url" and "{{" in str(button.get("url", ""))


# --- sending ---------------------------------------------------------------------------------


def approved_template(name: str, language: str) -> MessageTemplate | None:
    """The approved template of that name and language, or None."""
    from townhall.whatsapp.models import MessageTemplate

    return MessageTemplate.objects.filter(
        name=name, language=language, status=MessageTemplate.Status.APPROVED
    ).first()


def build_outbound(
    template: MessageTemplate,
    *,
    body_parameters: Sequence[str] = (),
    header_parameters: Sequence[str] = (),
    url_suffix: str = "",
    header_link: str = "",
    quick_reply_payloads: Sequence[str] = (),
) -> outbound.Template:
    """The send of an approved template with these values, checked against its definition
    so a wrong send is refused here and not by Meta after it was queued.

    ``url_suffix`` fills the ``{{1}}`` at the end of the template's dynamic URL button(s);
    ``header_link`` is the image or document of a media header (default: the template's
    ``header_media_link``); ``quick_reply_payloads`` go to its quick-reply buttons in order.
    """
    if template.status != template.Status.APPROVED:
        raise TemplateNotApproved(
            _(
                "The template “%(name)s” (%(language)s) cannot be sent: Meta has not approved "
                "it (status: %(status)s)."
            )
            % {
                "name": template.name,
                "language": template.language,
                "status": template.get_status_display(),
            }
        )
    expected = parameter_count(template.body)
    if len(body_parameters) != expected:
        raise TemplateParametersMismatch(
            _("The template “%(name)s” takes %(expected)d text values, not %(given)d.")
            % {"name": template.name, "expected": expected, "given": len(body_parameters)}
        )
    for value in (*body_parameters, *header_parameters):
        if not value.strip():
            raise TemplateParametersMismatch(_("A template value must not be empty."))
        if _FORBIDDEN_IN_PARAMETER.search(value):
            raise TemplateParametersMismatch(
                _(
                    "A template value must not contain line breaks, tabs or more than four "
                    "spaces in a row (Meta's rule)."
                )
            )

    filled = fill_parameters(template.body, body_parameters)
    if len(filled) > BODY_MAX_CHARS:
        # Meta refuses the send (132005) when the filled-in body exceeds the limit.
        raise TemplateParametersMismatch(
            _(
                "With these values the text of “%(name)s” has %(count)d characters; Meta allows "
                "at most %(limit)d. Shorten the text."
            )
            % {"name": template.name, "count": len(filled), "limit": BODY_MAX_CHARS}
        )
    header_media = None
    header_format = template.header_format
    if header_format == template.HeaderFormat.TEXT:
        expected_header = parameter_count(template.header_text)
        if len(header_parameters) != expected_header:
            raise TemplateParametersMismatch(
                _("The header of “%(name)s” takes %(expected)d values, not %(given)d.")
                % {
                    "name": template.name,
                    "expected": expected_header,
                    "given": len(header_parameters),
                }
            )
    elif header_parameters:
        raise TemplateParametersMismatch(
            _("The template “%(name)s” has no text header.") % {"name": template.name}
        )
    if header_format in (template.HeaderFormat.IMAGE, template.HeaderFormat.DOCUMENT):
        link = header_link or template.header_media_link
        if not link:
            raise TemplateParametersMismatch(
                _("The template “%(name)s” needs an image or document for its header.")
                % {"name": template.name}
            )
        header_media = outbound.TemplateHeaderMedia(header_format, link)
    elif header_link:
        raise TemplateParametersMismatch(
            _("The template “%(name)s” has no image or document header.") % {"name": template.name}
        )

    buttons: list[outbound.TemplateButtonParameter] = []
    dynamic_url_indexes = [
        index for index, button in enumerate(template.buttons) if url_button_is_dynamic(button)
    ]
    if dynamic_url_indexes and not url_suffix:
        raise TemplateParametersMismatch(
            _("The link button of “%(name)s” needs its end (for example the post's number).")
            % {"name": template.name}
        )
    if url_suffix and not dynamic_url_indexes:
        raise TemplateParametersMismatch(
            _("The template “%(name)s” has no link button with a variable end.")
            % {"name": template.name}
        )
    buttons.extend(
        outbound.TemplateButtonParameter(index, "url", url_suffix) for index in dynamic_url_indexes
    )
    quick_reply_indexes = [
        index
        for index, button in enumerate(template.buttons)
        if button.get("type") == "quick_reply"
    ]
    if len(quick_reply_payloads) > len(quick_reply_indexes):
        raise TemplateParametersMismatch(
            _("The template “%(name)s” has %(count)d quick-reply buttons.")
            % {"name": template.name, "count": len(quick_reply_indexes)}
        )
    buttons.extend(
        outbound.TemplateButtonParameter(index, "quick_reply", payload)
        for index, payload in zip(quick_reply_indexes, quick_reply_payloads, strict=False)
    )
    return outbound.Template(
        template.name,
        template.language,
        body_parameters=tuple(body_parameters),
        header_parameters=tuple(header_parameters),
        header_media=header_media,
        button_parameters=tuple(buttons),
    )


# --- Meta's rules for writing a template -----------------------------------------------------

TEMPLATE_CATEGORIES = ("utility", "marketing")
BUTTON_TYPES = ("quick_reply", "url", "phone_number")


def check_template(template: MessageTemplate) -> list[str]:
    """Every rule of Meta's the template breaks, as sentences for staff; empty = may be
    submitted. Pure: reads the (possibly unsaved) instance, writes nothing."""
    problems: list[str] = []
    problems += _check_name(template.name, template.language)
    problems += _check_category(template.category, template.message_send_ttl_seconds)
    problems += _check_body(template.body, list(template.body_examples or []))
    problems += _check_header(template)
    problems += _check_footer(template.footer)
    problems += _check_buttons(list(template.buttons or []))
    return problems


def _check_name(name: str, language: str) -> list[str]:
    problems = []
    if not name:
        problems.append(_("The name is missing."))
    elif not NAME_RE.fullmatch(name):
        problems.append(
            _("The name may only contain lowercase letters, digits and underscores (no spaces).")
        )
    if len(name) > NAME_MAX_CHARS:
        problems.append(
            _("The name has %(count)d characters; Meta allows at most %(limit)d.")
            % {"count": len(name), "limit": NAME_MAX_CHARS}
        )
    if not LANGUAGE_RE.fullmatch(language or ""):
        problems.append(_("The language must be a code like “de” or “en_US”."))
    return problems


def _check_category(category: str, ttl_seconds: int | None) -> list[str]:
    if category not in TEMPLATE_CATEGORIES:
        # Authentication templates are one-time codes with Meta's fixed texts; a city has none.
        return [_("The category must be utility or marketing.")]
    if ttl_seconds is None:
        return []
    low, high = TTL_RANGE_SECONDS[category]
    if not low <= ttl_seconds <= high:
        return [
            _(
                "The time to live of a %(category)s template must be between %(low)s and "
                "%(high)s seconds."
            )
            % {"category": category, "low": low, "high": high}
        ]
    return []


def _check_parameters(text: str, part: str) -> tuple[list[str], int]:
    """Meta's parameter format: ``{{1}}``…``{{n}}``, each number used, none skipped."""
    problems = []
    written = parameter_numbers(text)
    if any(not number.isdigit() for number in written):
        problems.append(
            _("Parameters in the %(part)s must be numbered like {{1}}, {{2}}.") % {"part": part}
        )
    numbers = sorted({int(number) for number in written if number.isdigit()})
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        problems.append(
            _(
                "The parameters in the %(part)s must be numbered {{1}} to {{%(count)d}} without gaps."
            )
            % {"part": part, "count": len(numbers)}
        )
    if text.count("{{") != len(written) or text.count("}}") != len(written):
        problems.append(
            _("The %(part)s has unbalanced braces; a parameter is written {{1}}.") % {"part": part}
        )
    return problems, len(numbers)


def _check_body(body: str, examples: list[Any]) -> list[str]:
    part = _("body")
    if not body.strip():
        return [_("The body is missing.")]
    problems = []
    if len(body) > BODY_MAX_CHARS:
        problems.append(
            _("The body has %(count)d characters; Meta allows at most %(limit)d.")
            % {"count": len(body), "limit": BODY_MAX_CHARS}
        )
    parameter_problems, count = _check_parameters(body, part)
    problems += parameter_problems
    stripped = body.strip()
    if stripped.startswith("{{"):
        problems.append(_("The body must not begin with a parameter; put some text before it."))
    if stripped.endswith("}}"):
        problems.append(_("The body must not end with a parameter; put some text after it."))
    if re.search(r"\}\}\s*\{\{", body):
        problems.append(_("Two parameters must not follow each other without text between them."))
    if len(examples) != count or any(not str(example).strip() for example in examples):
        problems.append(
            _("Meta needs an example for each of the %(count)d parameters of the body.")
            % {"count": count}
        )
    return problems


def _check_header(template: MessageTemplate) -> list[str]:
    header_format = template.header_format
    if header_format == "text":
        text = template.header_text
        part = _("header")
        if not text.strip():
            return [_("The text header is empty.")]
        problems = []
        if len(text) > HEADER_TEXT_MAX_CHARS:
            problems.append(
                _("The header has %(count)d characters; Meta allows at most %(limit)d.")
                % {"count": len(text), "limit": HEADER_TEXT_MAX_CHARS}
            )
        parameter_problems, count = _check_parameters(text, part)
        problems += parameter_problems
        if count > 1:
            problems.append(_("The header may have at most one parameter."))
        elif count == 1 and not template.header_example.strip():
            problems.append(_("Meta needs an example for the parameter of the header."))
        return problems
    if header_format in ("image", "document"):
        if not _is_https_url(template.header_media_link):
            return [_("An image or document header needs a sample as an https link.")]
        return []
    if header_format:
        return [_("The header must be text, an image or a document.")]
    return []


def _check_footer(footer: str) -> list[str]:
    problems = []
    if len(footer) > FOOTER_MAX_CHARS:
        problems.append(
            _("The footer has %(count)d characters; Meta allows at most %(limit)d.")
            % {"count": len(footer), "limit": FOOTER_MAX_CHARS}
        )
    if "{{" in footer or "}}" in footer:
        problems.append(_("The footer must not contain parameters."))
    return problems


def _check_buttons(buttons: list[Any]) -> list[str]:
    problems: list[str] = []
    if len(buttons) > BUTTONS_MAX:
        problems.append(_("A template has at most %(limit)d buttons.") % {"limit": BUTTONS_MAX})
    kinds = [button.get("type") if isinstance(button, Mapping) else None for button in buttons]
    if any(kind not in BUTTON_TYPES for kind in kinds):
        problems.append(_("A button must be a quick reply, a link or a phone number."))
        return problems
    if kinds.count("url") > URL_BUTTONS_MAX:
        problems.append(
            _("A template has at most %(limit)d link buttons.") % {"limit": URL_BUTTONS_MAX}
        )
    if kinds.count("phone_number") > PHONE_BUTTONS_MAX:
        problems.append(_("A template has at most one phone number button."))
    # Meta: quick replies and the other buttons form two groups, not interleaved.
    groups = [kind == "quick_reply" for kind in kinds]
    if sum(1 for a, b in itertools.pairwise(groups) if a != b) > 1:
        problems.append(
            _("Quick replies and the other buttons must each stand together, not mixed.")
        )
    texts = [str(button.get("text", "")) for button in buttons]
    for text in texts:
        if not text.strip() or len(text) > BUTTON_TEXT_MAX_CHARS:
            problems.append(
                _("The button “%(text)s” needs 1 to %(limit)d characters.")
                % {"text": text, "limit": BUTTON_TEXT_MAX_CHARS}
            )
    if len(set(texts)) != len(texts):
        problems.append(_("Two buttons must not have the same text."))
    for button in buttons:
        if button["type"] == "url":
            problems += _check_url_button(button)
        elif button["type"] == "phone_number" and not re.fullmatch(
            r"\+?[0-9]{6,20}", str(button.get("phone_number", ""))
        ):
            problems.append(_("A phone number button needs a number like +4929321000000."))
    return problems


def _check_url_button(button: Mapping[str, Any]) -> list[str]:
    url = str(button.get("url", ""))
    text = str(button.get("text", ""))
    numbers = parameter_numbers(url)
    base = url.removesuffix("{{1}}") if url.endswith("{{1}}") else url
    if numbers and (numbers != ["1"] or not url.endswith("{{1}}")):
        return [_("The link of “%(text)s” may only end with {{1}}, nowhere else.") % {"text": text}]
    if not _is_https_url(base) or len(url) > URL_MAX_CHARS:
        return [_("The link of “%(text)s” must be a valid https address.") % {"text": text}]
    if numbers and not str(button.get("example", "")).strip():
        return [
            _("Meta needs an example for the variable end of the link of “%(text)s”.")
            % {"text": text}
        ]
    return []


def _is_https_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and "." in parts.netloc and " " not in url


# --- Meta's representation -------------------------------------------------------------------

# Meta's template status (GET) or status webhook event → ours. Events not listed (FLAGGED,
# a quality warning; category changes) do not change whether the template may be sent.
STATUS_FROM_META = {
    "APPROVED": "approved",
    "REINSTATED": "approved",
    "PENDING": "pending",
    "IN_APPEAL": "pending",
    "REJECTED": "rejected",
    "PAUSED": "paused",
    "DISABLED": "disabled",
    "PENDING_DELETION": "disabled",
    "DELETED": "disabled",
    "ARCHIVED": "disabled",
}

# Meta's rejection reasons, explained for staff.
REJECTION_REASONS = {
    "INVALID_FORMAT": gettext_lazy(
        "Invalid format: check the parameters (not at the start or end, numbered, with "
        "examples) and the buttons."
    ),
    "TAG_CONTENT_MISMATCH": gettext_lazy("The content does not fit the chosen category."),
    "INCORRECT_CATEGORY": gettext_lazy("Meta considers the category wrong."),
    "PROMOTIONAL": gettext_lazy("Meta considers the content advertising (use marketing)."),
    "ABUSIVE_CONTENT": gettext_lazy("Meta considers the content abusive."),
    "SCAM": gettext_lazy("Meta considers the content misleading."),
}


def explain_reason(reason: str) -> str:
    """Meta's reason code with an explanation, or the text as it came."""
    explanation = REJECTION_REASONS.get(reason)
    return f"{reason}: {explanation}" if explanation else reason


def submission_payload(template: MessageTemplate) -> dict[str, Any]:
    """The body of ``POST /{WABA_ID}/message_templates`` for a template that passed
    ``check_template`` (Meta's component format, examples included)."""
    components: list[dict[str, Any]] = []
    if template.header_format == "text":
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": template.header_text}
        if parameter_count(template.header_text):
            header["example"] = {"header_text": [template.header_example]}
        components.append(header)
    elif template.header_format in ("image", "document"):
        # Meta reviews the sample media; the link stands for the upload handle here.
        components.append(
            {
                "type": "HEADER",
                "format": template.header_format.upper(),
                "example": {"header_handle": [template.header_media_link]},
            }
        )
    body: dict[str, Any] = {"type": "BODY", "text": template.body}
    if template.body_examples:
        body["example"] = {"body_text": [[str(value) for value in template.body_examples]]}
    components.append(body)
    if template.footer:
        components.append({"type": "FOOTER", "text": template.footer})
    if template.buttons:
        components.append(
            {"type": "BUTTONS", "buttons": [_button_payload(b) for b in template.buttons]}
        )
    payload: dict[str, Any] = {
        "name": template.name,
        "language": template.language,
        "category": template.category.upper(),
        "components": components,
    }
    if template.message_send_ttl_seconds is not None:
        payload["message_send_ttl_seconds"] = template.message_send_ttl_seconds
    return payload


def _button_payload(button: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(button["type"])
    payload: dict[str, Any] = {"type": kind.upper(), "text": button["text"]}
    if kind == "url":
        payload["url"] = button["url"]
        if url_button_is_dynamic(button):
            example = str(button["url"]).replace("{{1}}", str(button.get("example", "")))
            payload["example"] = [example]
    elif kind == "phone_number":
        payload["phone_number"] = button["phone_number"]
    return payload


def fields_from_meta(item: Mapping[str, Any]) -> dict[str, Any]:
    """A template as ``GET /{WABA_ID}/message_templates`` lists it → MessageTemplate fields
    (to import templates written in WhatsApp Manager)."""
    fields: dict[str, Any] = {
        "name": str(item.get("name", "")),
        "language": str(item.get("language", "")),
        "category": str(item.get("category", "utility")).lower(),
        "provider_id": str(item.get("id", "")),
        "header_format": "",
        "header_text": "",
        "header_example": "",
        "header_media_link": "",
        "body": "",
        "body_examples": [],
        "footer": "",
        "buttons": [],
        "message_send_ttl_seconds": item.get("message_send_ttl_seconds"),
    }
    for component in item.get("components") or []:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).upper()
        raw_example = component.get("example")
        example: Mapping[str, Any] = raw_example if isinstance(raw_example, Mapping) else {}
        if kind == "HEADER":
            fields["header_format"] = str(component.get("format", "")).lower()
            fields["header_text"] = str(component.get("text", ""))
            fields["header_example"] = str((example.get("header_text") or [""])[0])
            if fields["header_format"] in ("image", "document"):
                fields["header_media_link"] = str((example.get("header_handle") or [""])[0])
        elif kind == "BODY":
            fields["body"] = str(component.get("text", ""))
            rows = example.get("body_text") or [[]]
            fields["body_examples"] = [str(value) for value in rows[0]] if rows else []
        elif kind == "FOOTER":
            fields["footer"] = str(component.get("text", ""))
        elif kind == "BUTTONS":
            fields["buttons"] = [
                _button_from_meta(button)
                for button in component.get("buttons") or []
                if isinstance(button, Mapping)
            ]
    return fields


def _button_from_meta(button: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(button.get("type", "")).lower()
    result: dict[str, Any] = {"type": kind, "text": str(button.get("text", ""))}
    if kind == "url":
        url = str(button.get("url", ""))
        result["url"] = url
        examples = button.get("example") or []
        if "{{1}}" in url and examples:
            prefix = url.removesuffix("{{1}}")
            result["example"] = str(examples[0]).removeprefix(prefix)
    elif kind == "phone_number":
        result["phone_number"] = str(button.get("phone_number", ""))
    return result
