"""WhatsApp's text formatting, rendered as the phone shows it: safe HTML or plain text.

The one implementation for every page that shows message text: the composer's phone preview,
the template check, the inbox bubbles, the public archive and its feeds.

WhatsApp's rules (https://faq.whatsapp.com/539178204879377):

- ``*bold*``, ``_italic_``, ``~strikethrough~``; they may nest (``*_bold italic_*``).
- A marker only counts at a word's edge (``snake_case_name`` and ``2*3*4`` stay as typed),
  must hug its text (``* not bold *``) and never spans a line break.
- ```` ```monospace``` ```` (may span lines; on lines of its own it is a block) and
  ```inline code```: nothing inside them is formatted.
- Lines starting with ``- `` or ``* `` are a bulleted list, ``1. `` a numbered list,
  ``> `` a quote.
- Web addresses (with ``http(s)://`` or starting with ``www.``) become links; nothing inside
  an address is formatted.

Everything that is not one of these is escaped: the HTML shows what was typed, never markup
that was typed. The module is pure (no models, no other apps), so every app may use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

MONOSPACE_MARKER = "```"
CODE_MARKER = "`"
INLINE_TAGS = {"*": "strong", "_": "em", "~": "del"}
LINK_REL = "nofollow noopener noreferrer"
# A web address as WhatsApp links it: with a scheme, or starting with "www.".
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Punctuation right after an address belongs to the sentence, not to the link.
URL_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
# Control characters never reach the page (they have no business in a message).
CONTROL_CHARACTERS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BULLET_RE = re.compile(r"[-*]\s+(.*)", re.DOTALL)
NUMBERED_RE = re.compile(r"\d{1,3}\.\s+(.*)", re.DOTALL)
QUOTE_RE = re.compile(r">(?:\s+(.*))?", re.DOTALL)


def to_html(text: str) -> SafeString:
    """``text`` as WhatsApp shows it, as HTML paragraphs, lists, quotes and code blocks."""
    html: list[str] = []
    kind = ""
    lines: list[str] = []

    def flush() -> None:
        nonlocal kind
        if kind == "p":
            html.append("<p>" + "<br>".join(lines) + "</p>")
        elif kind in ("ul", "ol"):
            items = "".join(f"<li>{item}</li>" for item in lines)
            html.append(f"<{kind}>{items}</{kind}>")
        elif kind == "quote":
            html.append("<blockquote><p>" + "<br>".join(lines) + "</p></blockquote>")
        kind = ""
        lines.clear()

    for line in _lines(text):
        if line.kind == "pre":
            flush()
            html.append(f"<pre><code>{escape(line.content)}</code></pre>")
            continue
        if line.kind == "blank":
            flush()
            continue
        if line.kind != kind:
            flush()
            kind = line.kind
        lines.append(_render(line.content, plain=False))
    flush()
    # Every piece above is escaped text or markup this module wrote.
    return mark_safe("".join(html))  # noqa: S308


def to_plain(text: str) -> str:
    """The text without formatting markers, on one line: for descriptions, excerpts and
    template parameters."""
    words: list[str] = []
    for line in _lines(text):
        if line.kind == "pre":
            words.extend(part.strip() for part in line.content.split("\n") if part.strip())
        elif line.kind != "blank":
            plain = _render(line.content, plain=True)
            words.extend(part.strip() for part in plain.split("\n") if part.strip())
    return " ".join(words)


def excerpt(text: str, max_chars: int = 200) -> str:
    """The plain text cut at a word boundary, with an ellipsis when shortened."""
    plain = to_plain(text)
    if len(plain) <= max_chars:
        return plain
    cut = plain[: max_chars - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-–") + "…"


@dataclass(frozen=True)
class _Line:
    kind: str  # "p", "ul", "ol", "quote", "pre" or "blank"
    content: str


def _lines(text: str) -> list[_Line]:
    """The text's lines, each with the block it belongs to. A monospace block that spans
    lines stays one line, so its line breaks are its own."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARACTERS_RE.sub("", text)
    result: list[_Line] = []
    for raw_line in _split_lines(text):
        line = raw_line.strip()
        if not line:
            result.append(_Line("blank", ""))
            continue
        monospace_end = _monospace_end(line, 0)
        if monospace_end is not None and monospace_end + len(MONOSPACE_MARKER) == len(line):
            result.append(_Line("pre", line[len(MONOSPACE_MARKER) : monospace_end].strip("\n")))
            continue
        for kind, pattern in (("quote", QUOTE_RE), ("ul", BULLET_RE), ("ol", NUMBERED_RE)):
            match = pattern.fullmatch(line)
            if match:
                result.append(_Line(kind, match.group(1) or ""))
                break
        else:
            result.append(_Line("p", line))
    return result


def _split_lines(text: str) -> list[str]:
    """``text`` split at line breaks, except those inside a monospace span or an address."""
    lines: list[str] = []
    start = position = 0
    while position < len(text):
        skip_to = _monospace_closing(text, position) or _url_end(text, position)
        if skip_to is not None:
            position = skip_to
        elif text[position] == "\n":
            lines.append(text[start:position])
            start = position = position + 1
        else:
            position += 1
    lines.append(text[start:])
    return lines


def _render(text: str, *, plain: bool) -> str:
    """One line's inline formatting: HTML (escaped), or the plain text without markers."""
    parts: list[str] = []
    closers: dict[str, list[int | None]] = {}
    position = 0
    while position < len(text):
        monospace_end = _monospace_end(text, position)
        if monospace_end is not None:
            inner = text[position + len(MONOSPACE_MARKER) : monospace_end]
            parts.append(inner if plain else f"<code>{_escape_lines(inner)}</code>")
            position = monospace_end + len(MONOSPACE_MARKER)
            continue
        url_end = _url_end(text, position)
        if url_end is not None:
            address = text[position:url_end]
            parts.append(address if plain else _link(address))
            position = url_end
            continue
        code_end = _code_end(text, position)
        if code_end is not None:
            inner = text[position + 1 : code_end]
            parts.append(inner if plain else f"<code>{escape(inner)}</code>")
            position = code_end + 1
            continue
        character = text[position]
        closing = None
        if character in INLINE_TAGS and _opens_formatting(text, position):
            if character not in closers:
                closers[character] = _closing_markers(text, character)
            # The marker right after the opener is the opener's own "after": never a closer.
            closing = closers[character][position + 1]
        if closing is not None:
            inner = _render(text[position + 1 : closing], plain=plain)
            tag = INLINE_TAGS[character]
            parts.append(inner if plain else f"<{tag}>{inner}</{tag}>")
            position = closing + 1
            continue
        parts.append(character if plain else _escape_lines(character))
        position += 1
    return "".join(parts)


def _escape_lines(text: str) -> str:
    return str(escape(text)).replace("\n", "<br>")


def _is_word_character(character: str) -> bool:
    return character.isalnum()


def _monospace_end(text: str, position: int) -> int | None:
    """Where the monospace span opened at ``position`` closes, if one opens there."""
    if not text.startswith(MONOSPACE_MARKER, position):
        return None
    end = text.find(MONOSPACE_MARKER, position + len(MONOSPACE_MARKER))
    # ``` followed directly by ``` is six backticks, not an empty span.
    if end <= position + len(MONOSPACE_MARKER):
        return None
    return end


def _monospace_closing(text: str, position: int) -> int | None:
    end = _monospace_end(text, position)
    return None if end is None else end + len(MONOSPACE_MARKER)


def _code_end(text: str, position: int) -> int | None:
    """Where the inline code opened at ``position`` closes: `` `code` `` on one line, at
    word edges, hugging its text."""
    if text[position] != CODE_MARKER or text.startswith(MONOSPACE_MARKER, position):
        return None
    before = text[position - 1] if position > 0 else ""
    after = text[position + 1] if position + 1 < len(text) else ""
    if _is_word_character(before) or before == CODE_MARKER:
        return None
    if not after or after.isspace() or after == CODE_MARKER:
        return None
    end = position + 1
    while end < len(text) and text[end] not in "`\n":
        end += 1
    if end >= len(text) or text[end] != CODE_MARKER or text[end - 1].isspace():
        return None
    following = text[end + 1] if end + 1 < len(text) else ""
    if _is_word_character(following):
        return None
    return end


def _url_end(text: str, position: int, closing_marker: str = "") -> int | None:
    """Where the web address starting at ``position`` ends, if one starts there.
    ``closing_marker`` is the formatting around the address: it closes after the address
    (``*see https://x.de/a*``), not inside it."""
    if position > 0 and (_is_word_character(text[position - 1]) or text[position - 1] in "/.@"):
        return None
    match = URL_RE.match(text, position)
    if match is None:
        return None
    end = match.end()
    while end > position and text[end - 1] in URL_TRAILING_PUNCTUATION + closing_marker:
        end -= 1
    # "www." alone, or "https://" with nothing after it, is not an address.
    address = text[position:end]
    if address.lower() in ("www.", "http://", "https://") or end - position < 5:
        return None
    return end


def _link(address: str) -> str:
    href = address if "://" in address else f"https://{address}"
    return format_html('<a href="{}" rel="{}" target="_blank">{}</a>', href, LINK_REL, address)


def _closing_markers(text: str, marker: str) -> list[int | None]:
    """For every position, the index of the first ``marker`` at or after it that can close
    formatting on the same line (skipping addresses, monospace and inline code, whose
    markers belong to them). Computed once per text, from its end: nested scans would take
    quadratic time on a long line full of unclosed markers."""
    closers: list[int | None] = [None] * (len(text) + 1)
    for search in range(len(text) - 1, -1, -1):
        character = text[search]
        if character == "\n":
            continue
        code_end = _code_end(text, search)
        skip_to = (
            _url_end(text, search, marker)
            or _monospace_closing(text, search)
            or (None if code_end is None else code_end + 1)
        )
        if skip_to is not None:
            closers[search] = closers[skip_to]
            continue
        if character == marker:
            previous = text[search - 1] if search > 0 else ""
            following = text[search + 1] if search + 1 < len(text) else ""
            hugs_text = bool(previous) and not previous.isspace()
            if hugs_text and not _is_word_character(following) and following != marker:
                closers[search] = search
                continue
        closers[search] = closers[search + 1]
    return closers


def _opens_formatting(text: str, position: int) -> bool:
    """Whether the marker at ``position`` can open formatting: at a word's edge, before text."""
    marker = text[position]
    before = text[position - 1] if position > 0 else ""
    after = text[position + 1] if position + 1 < len(text) else ""
    if _is_word_character(before) or before == marker:
        return False
    return bool(after) and not after.isspace() and after != marker
