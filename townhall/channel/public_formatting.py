"""A post's WhatsApp formatting as safe HTML (public page, feed) and as plain text (previews).

WhatsApp's rules (https://faq.whatsapp.com/539178204879377): ``*bold*``, ``_italic_``,
``~strikethrough~``, ```` ```monospace``` ````, ```inline code```, lines starting with
``- `` or ``* `` (bulleted list), ``1. `` (numbered list) and ``> `` (quote). A marker only
counts at a word's edge and never spans a line break. Links are recognised by their scheme.

Everything is escaped first and markup is added around escaped text only, so a post can never
inject HTML, whatever staff typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# http(s) links and bare www. addresses; a trailing full stop or bracket ends the sentence,
# not the link.
_LINK = re.compile(r"""\b(?:https?://|www\.)[^\s<>"']+[^\s<>"'.,;:!?)\]]""", re.IGNORECASE)
# Placeholders for links while inline markers are replaced (so "_" in a URL stays a "_").
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def _inline_rule(marker: str) -> re.Pattern[str]:
    """``marker``text``marker`` at word edges: no space inside the markers, not in a word."""
    m = re.escape(marker)
    return re.compile(rf"(?<![\w{m}]){m}(?=\S)([^\n]*?\S){m}(?![\w{m}])")


_CODE_SPAN = re.compile(r"(?<!\w)`(?=\S)([^`\n]*?\S)`(?!\w)")
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_inline_rule("*"), "strong"),
    (_inline_rule("_"), "em"),
    (_inline_rule("~"), "del"),
)
_MONOSPACE = re.compile(r"```(.+?)```", re.DOTALL)
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d{1,3}\.\s+(.*)$")
_QUOTE = re.compile(r"^>\s?(.*)$")


def _link_html(url: str) -> str:
    href = url if "://" in url else f"https://{url}"
    return (
        f'<a href="{escape(href)}" rel="nofollow noopener noreferrer" '
        f'target="_blank">{escape(url)}</a>'
    )


def _inline(escaped_line: str, links: list[str]) -> str:
    """Bold, italic, strike and code on one escaped line; links put back last."""
    code_spans: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        code_spans.append(f"<code>{match.group(1)}</code>")
        return f"\x01{len(code_spans) - 1}\x01"

    line = _CODE_SPAN.sub(keep_code, escaped_line)
    for pattern, tag in _INLINE_RULES:
        line = pattern.sub(rf"<{tag}>\1</{tag}>", line)
    line = re.sub("\x01(\\d+)\x01", lambda match: code_spans[int(match.group(1))], line)
    return _PLACEHOLDER.sub(lambda match: _link_html(links[int(match.group(1))]), line)


def whatsapp_to_html(text: str) -> SafeString:
    """The post's text as the phone shows it, in HTML paragraphs, lists and quotes."""
    for control in "\x00\x01\x02":
        text = text.replace(control, "")
    text = text.replace("\r\n", "\n")
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        links.append(match.group(0))
        return f"\x00{len(links) - 1}\x00"

    # Monospace blocks may span lines: cut them out before the line-by-line pass.
    blocks: list[str] = []

    def keep_block(match: re.Match[str]) -> str:
        blocks.append(match.group(1).strip("\n"))
        return f"\x02{len(blocks) - 1}\x02"

    text = _MONOSPACE.sub(keep_block, text)
    escaped = escape(_LINK.sub(keep_link, text))

    html: list[str] = []
    # The block being built: its kind ("p", "ul", "ol", "quote") and its lines.
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

    def add(line_kind: str, content: str) -> None:
        nonlocal kind
        if line_kind != kind:
            flush()
            kind = line_kind
        # Inline monospace goes back in after the markers, so "*" inside it stays a "*".
        lines.append(
            re.sub(
                "\x02(\\d+)\x02",
                lambda match: f"<code>{escape(blocks[int(match.group(1))])}</code>",
                _inline(content, links),
            )
        )

    for raw_line in escaped.split("\n"):
        line = raw_line.strip()
        block = re.fullmatch("\x02(\\d+)\x02", line)
        if block:
            flush()
            html.append(f"<pre><code>{escape(blocks[int(block.group(1))])}</code></pre>")
            continue
        if not line:
            flush()
            continue
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        if line.startswith("&gt;"):
            # ">" is escaped by now.
            add("quote", line.removeprefix("&gt;").lstrip())
        elif bullet:
            add("ul", bullet.group(1))
        elif numbered:
            add("ol", numbered.group(1))
        else:
            add("p", line)
    flush()
    # Every piece above is escaped text or markup this function wrote.
    return mark_safe("".join(html))  # noqa: S308


_STRIP_MARKERS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_MONOSPACE, r"\1"),
    (_CODE_SPAN, r"\1"),
    *((pattern, r"\1") for pattern, _tag in _INLINE_RULES),
)


def whatsapp_to_plain(text: str) -> str:
    """The text without formatting markers, on one line: for descriptions and excerpts."""
    for pattern, replacement in _STRIP_MARKERS:
        text = pattern.sub(replacement, text)
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        for prefix in (_BULLET, _NUMBERED, _QUOTE):
            match = prefix.match(line)
            if match:
                line = match.group(1)
                break
        if line:
            lines.append(line)
    return " ".join(lines)


def excerpt(text: str, max_chars: int = 200) -> str:
    """The plain text cut at a word boundary, with an ellipsis when shortened."""
    plain = whatsapp_to_plain(text)
    if len(plain) <= max_chars:
        return plain
    cut = plain[: max_chars - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-–") + "…"
