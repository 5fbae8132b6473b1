"""``{{ text|whatsapp_format }}``: message text as the phone shows it, in every template."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from townhall.whatsapp import formatting

register = template.Library()


@register.filter
def whatsapp_format(text: str | None) -> SafeString:
    """WhatsApp's formatting (bold, italic, strike, monospace, lists, quotes, links) as safe
    HTML block elements (paragraphs, lists, quotes): wrap it in a ``<div>``, not a ``<p>``."""
    return formatting.to_html(text or "")


@register.filter
def whatsapp_plain(text: str | None) -> str:
    """The text without formatting markers, on one line: for quotes of a message and lists."""
    return formatting.to_plain(text or "")
