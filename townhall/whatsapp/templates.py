"""Message templates: Meta's rules for writing them and for sending them.

Pure functions, no database writes: ``check_template`` lists every rule a draft breaks
before it is submitted (the staff form shows them live), ``build_outbound`` turns an
approved template and a send's values into a validated ``outbound.Template``.
Writes (submit, sync, status webhooks) are in ``template_actions.py``.

Meta's rules: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates
and https://developers.facebook.com/docs/whatsapp/message-templates/guidelines
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

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
