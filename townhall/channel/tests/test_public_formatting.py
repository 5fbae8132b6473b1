"""WhatsApp formatting as HTML for the public pages: what the phone shows, never markup
from the text itself."""

from __future__ import annotations

import pytest

from townhall.channel.public_formatting import excerpt, whatsapp_to_html, whatsapp_to_plain


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "*fett* und _kursiv_ und ~durch~",
            "<p><strong>fett</strong> und <em>kursiv</em> und <del>durch</del></p>",
        ),
        ("*_beides_*", "<p><strong><em>beides</em></strong></p>"),
        ("snake_case_name und 2*3*4", "<p>snake_case_name und 2*3*4</p>"),
        ("* kein fett*", "<ul><li>kein fett*</li></ul>"),
        ("*über\nzwei Zeilen*", "<p>*über<br>zwei Zeilen*</p>"),
        ("Zeile 1\nZeile 2\n\nAbsatz", "<p>Zeile 1<br>Zeile 2</p><p>Absatz</p>"),
        (
            "- eins\n- zwei\n1. erstens\n2. zweitens",
            "<ul><li>eins</li><li>zwei</li></ul><ol><li>erstens</li><li>zweitens</li></ol>",
        ),
        ("> Zitat\nDanach", "<blockquote><p>Zitat</p></blockquote><p>Danach</p>"),
        ("```\n*roh* <b>\n```", "<pre><code>*roh* &lt;b&gt;</code></pre>"),
        ("Nimm `*so*` mit", "<p>Nimm <code>*so*</code> mit</p>"),
        (
            "Infos: https://musterstadt.de/a_b?x=1&y=2.",
            '<p>Infos: <a href="https://musterstadt.de/a_b?x=1&amp;y=2" rel="nofollow noopener noreferrer" target="_blank">https://musterstadt.de/a_b?x=1&amp;y=2</a>.</p>',
        ),
        (
            "www.musterstadt.de/_neu_",
            '<p><a href="https://www.musterstadt.de/_neu_" rel="nofollow noopener noreferrer" target="_blank">www.musterstadt.de/_neu_</a></p>',
        ),
    ],
)
def test_formatting(text: str, html: str) -> None:
    assert whatsapp_to_html(text) == html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "*<img src=x onerror=alert(1)>*",
        "javascript:alert(1)",
        'https://x.de/"><script>alert(1)</script>',
        "```<script>alert(1)</script>```",
        "> <iframe src=//evil>",
    ],
)
def test_markup_in_the_text_is_escaped(text: str) -> None:
    html = whatsapp_to_html(text)

    assert "<script" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert 'href="javascript' not in html


def test_control_characters_cannot_forge_placeholders() -> None:
    assert whatsapp_to_html("a\x000\x00 b\x01 c\x020\x02") == "<p>a0 b c0</p>"


def test_plain_text_and_excerpt() -> None:
    text = "*Achtung:* Die _Bahnhofstraße_ ist gesperrt.\n- Umleitung über die Ringstraße"

    assert whatsapp_to_plain(text) == (
        "Achtung: Die Bahnhofstraße ist gesperrt. Umleitung über die Ringstraße"
    )
    assert excerpt(text, 40) == "Achtung: Die Bahnhofstraße ist…"
    assert excerpt("kurz", 40) == "kurz"
