"""WhatsApp's text formatting as safe HTML, for the composer's phone preview.

WhatsApp renders ``*bold*``, ``_italic_``, ``~strike~`` and ````` ```monospace``` `````, and
turns web addresses into links. Markers only count at word boundaries (``snake_case_name``
and ``2*3*4`` stay as typed), must hug their text (``* not bold *``), stay on one line (except
monospace) and may nest (``*_bold italic_*``). Inside monospace and links nothing is
formatted. Everything that is not one of these becomes escaped text: the preview shows what
staff typed, never markup they typed.

https://faq.whatsapp.com/539178204879377
"""

from __future__ import annotations

import re

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

MONOSPACE_MARKER = "```"
INLINE_TAGS = {"*": "strong", "_": "em", "~": "s"}
# A web address as WhatsApp links it: with a scheme, or starting with "www.".
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Punctuation right after an address belongs to the sentence (or closes formatting around
# the address), not to the link.
URL_TRAILING_PUNCTUATION = ".,;:!?)]}'\"*_~"


def format_whatsapp(text: str) -> SafeString:
    """``text`` as WhatsApp would show it, as HTML that is safe to insert into a page."""
    return mark_safe(_render(text))  # noqa: S308 (every piece of text is escaped in _render)


def _render(text: str) -> str:
    parts: list[str] = []
    position = 0
    while position < len(text):
        monospace_end = _monospace_end(text, position)
        if monospace_end is not None:
            inner = text[position + len(MONOSPACE_MARKER) : monospace_end]
            parts.append(f"<code>{_escape_lines(inner)}</code>")
            position = monospace_end + len(MONOSPACE_MARKER)
            continue
        url_end = _url_end(text, position)
        if url_end is not None:
            parts.append(_link(text[position:url_end]))
            position = url_end
            continue
        character = text[position]
        closing = _closing_marker(text, position) if character in INLINE_TAGS else None
        if closing is not None:
            tag = INLINE_TAGS[character]
            parts.append(f"<{tag}>{_render(text[position + 1 : closing])}</{tag}>")
            position = closing + 1
            continue
        parts.append(_escape_lines(character))
        position += 1
    return "".join(parts)


def _escape_lines(text: str) -> str:
    return str(escape(text)).replace("\n", "<br>")


def _is_word_character(character: str) -> bool:
    return character.isalnum()


def _monospace_end(text: str, position: int) -> int | None:
    """Where the monospace block opened at ``position`` closes, if one opens there."""
    if not text.startswith(MONOSPACE_MARKER, position):
        return None
    end = text.find(MONOSPACE_MARKER, position + len(MONOSPACE_MARKER))
    # ``` followed directly by ``` is six backticks, not an empty block.
    if end <= position + len(MONOSPACE_MARKER):
        return None
    return end


def _url_end(text: str, position: int) -> int | None:
    """Where the web address starting at ``position`` ends, if one starts there."""
    if position > 0 and (_is_word_character(text[position - 1]) or text[position - 1] in "/.@"):
        return None
    match = URL_RE.match(text, position)
    if match is None:
        return None
    end = match.end()
    while end > position and text[end - 1] in URL_TRAILING_PUNCTUATION:
        end -= 1
    # "www." alone, or "https://" with nothing after it, is not an address.
    address = text[position:end]
    if address.lower() in ("www.", "http://", "https://") or end - position < 5:
        return None
    return end


def _link(address: str) -> str:
    href = address if "://" in address else f"https://{address}"
    return format_html(
        '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', href, address
    )


def _closing_marker(text: str, position: int) -> int | None:
    """The index of the marker that closes the one at ``position``, or None when the
    character there does not open formatting (inside a word, before a space, unclosed)."""
    marker = text[position]
    before = text[position - 1] if position > 0 else ""
    after = text[position + 1] if position + 1 < len(text) else ""
    if _is_word_character(before) or before == marker:
        return None
    if not after or after.isspace() or after == marker:
        return None
    search = position + 1
    while search < len(text):
        character = text[search]
        if character == "\n":
            return None
        # Markers inside an address or a monospace block belong to them.
        skip_to = _url_end(text, search) or _monospace_closing(text, search)
        if skip_to is not None:
            search = skip_to
            continue
        if character == marker and search > position + 1:
            previous = text[search - 1]
            following = text[search + 1] if search + 1 < len(text) else ""
            if not previous.isspace() and not _is_word_character(following) and following != marker:
                return search
        search += 1
    return None


def _monospace_closing(text: str, position: int) -> int | None:
    end = _monospace_end(text, position)
    return None if end is None else end + len(MONOSPACE_MARKER)
