"""WhatsApp's text formatting rendered as HTML, for previews of what a phone will show."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# WhatsApp: *bold*, _italic_, ~strikethrough~, ```monospace```; markers hug the text.
_RULES = (
    (re.compile(r"```(.+?)```", re.DOTALL), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?=\S)(.+?)(?<=\S)~(?![\w~])"), r"<del>\1</del>"),
)


@register.filter
def whatsapp_format(text: str) -> SafeString:
    """Escape the text, then apply WhatsApp's markers and keep line breaks."""
    html = str(escape(text))
    for pattern, replacement in _RULES:
        html = pattern.sub(replacement, html)
    return mark_safe(html.replace("\n", "<br>"))  # noqa: S308 - escaped above
