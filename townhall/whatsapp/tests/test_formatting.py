"""WhatsApp's formatting as the phone shows it: rendered like WhatsApp, and always safe.

One implementation serves the composer's preview, the template check, the inbox bubbles and
the public archive; these cases come from all of them."""

from __future__ import annotations

import time

import pytest
from django.template import Context, Template

from townhall.whatsapp.formatting import excerpt, to_html, to_plain

LINK = '<a href="{href}" rel="nofollow noopener noreferrer" target="_blank">{text}</a>'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*fett* _kursiv_ ~weg~", "<p><strong>fett</strong> <em>kursiv</em> <del>weg</del></p>"),
        ("*_fett und kursiv_*", "<p><strong><em>fett und kursiv</em></strong></p>"),
        (
            "_*kursiv und fett*_ ~*beides*~",
            "<p><em><strong>kursiv und fett</strong></em> <del><strong>beides</strong></del></p>",
        ),
        ("*fett mit ```code``` drin*", "<p><strong>fett mit <code>code</code> drin</strong></p>"),
        # Markers inside words and around spaces are plain characters.
        ("snake_case_name und 2*3*4", "<p>snake_case_name und 2*3*4</p>"),
        ("a*b*c und x_y_z", "<p>a*b*c und x_y_z</p>"),
        ("nicht * fett *", "<p>nicht * fett *</p>"),
        ("*offen", "<p>*offen</p>"),
        ("**", "<p>**</p>"),
        ("``````", "<p>``````</p>"),
        ("*fett*.", "<p><strong>fett</strong>.</p>"),
        ("(*fett*)", "<p>(<strong>fett</strong>)</p>"),
        # A marker does not reach over a line break; monospace does.
        ("*eins\nzwei*", "<p>*eins<br>zwei*</p>"),
        ("*über\nzwei Zeilen*", "<p>*über<br>zwei Zeilen*</p>"),
        ("Zeile 1\nZeile 2", "<p>Zeile 1<br>Zeile 2</p>"),
        ("Zeile 1\r\nZeile 2\n\nAbsatz", "<p>Zeile 1<br>Zeile 2</p><p>Absatz</p>"),
        ("Vorher ```eins\nzwei``` nachher", "<p>Vorher <code>eins<br>zwei</code> nachher</p>"),
        # Monospace on lines of its own is a block; nothing in it is formatted.
        ("```a *b* <c>```", "<pre><code>a *b* &lt;c&gt;</code></pre>"),
        ("```eins\nzwei```", "<pre><code>eins\nzwei</code></pre>"),
        ("```\n*roh* <b>\n```", "<pre><code>*roh* &lt;b&gt;</code></pre>"),
        ("Nimm `*so*` mit", "<p>Nimm <code>*so*</code> mit</p>"),
        ("a`b`c und ` nicht `", "<p>a`b`c und ` nicht `</p>"),
        # Lists ("- ", "* ", "1. ") and quotes ("> ") at the start of a line.
        (
            "- eins\n- zwei\n1. erstens\n2. zweitens",
            "<ul><li>eins</li><li>zwei</li></ul><ol><li>erstens</li><li>zweitens</li></ol>",
        ),
        ("* kein fett*", "<ul><li>kein fett*</li></ul>"),
        ("* *fett* im Punkt", "<ul><li><strong>fett</strong> im Punkt</li></ul>"),
        ("> Zitat\nDanach", "<blockquote><p>Zitat</p></blockquote><p>Danach</p>"),
        ("> _Zitat_\n> weiter", "<blockquote><p><em>Zitat</em><br>weiter</p></blockquote>"),
    ],
)
def test_formatting_is_rendered_like_whatsapp(text: str, html: str) -> None:
    assert to_html(text) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "Siehe https://musterstadt.de/termine.",
            "<p>Siehe "
            + LINK.format(
                href="https://musterstadt.de/termine", text="https://musterstadt.de/termine"
            )
            + ".</p>",
        ),
        (
            "Infos: https://musterstadt.de/a_b?x=1&y=2.",
            "<p>Infos: "
            + LINK.format(
                href="https://musterstadt.de/a_b?x=1&amp;y=2",
                text="https://musterstadt.de/a_b?x=1&amp;y=2",
            )
            + ".</p>",
        ),
        (
            "www.musterstadt.de/sperrung_a_b_c",
            "<p>"
            + LINK.format(
                href="https://www.musterstadt.de/sperrung_a_b_c",
                text="www.musterstadt.de/sperrung_a_b_c",
            )
            + "</p>",
        ),
        (
            "www.musterstadt.de/_neu_",
            "<p>"
            + LINK.format(href="https://www.musterstadt.de/_neu_", text="www.musterstadt.de/_neu_")
            + "</p>",
        ),
        (
            "*Mehr: https://musterstadt.de/a*b*",
            "<p><strong>Mehr: "
            + LINK.format(href="https://musterstadt.de/a*b", text="https://musterstadt.de/a*b")
            + "</strong></p>",
        ),
        (
            "https://musterstadt.de/?a=1&b=<2>",
            "<p>"
            + LINK.format(
                href="https://musterstadt.de/?a=1&amp;b=", text="https://musterstadt.de/?a=1&amp;b="
            )
            + "&lt;2&gt;</p>",
        ),
        ("javascript:alert(1)", "<p>javascript:alert(1)</p>"),
        (
            "mailto-https://x.de",
            "<p>mailto-" + LINK.format(href="https://x.de", text="https://x.de") + "</p>",
        ),
    ],
)
def test_links(text: str, html: str) -> None:
    assert to_html(text) == html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "*<script>alert(1)</script>*",
        "_<img src=x onerror=alert(1)>_",
        '"><img src=x onerror=alert(1)>',
        "```<script>alert(1)</script>```",
        "Text ```<script>alert(1)</script>``` Text",
        "`<script>alert(1)</script>`",
        'https://x.de/"><script>alert(1)</script>',
        "https://x.de/<script>alert(1)</script>",
        "~<svg onload=alert(1)>~ *_<iframe>_*",
        "> <iframe src=//evil>",
        "- <script>alert(1)</script>",
    ],
)
def test_markup_in_the_text_never_survives(text: str) -> None:
    html = to_html(text)

    for dangerous in ("<script", "<img", "<svg", "<iframe", '"><'):
        assert dangerous not in html
    assert "&lt;" in html


def test_a_javascript_address_is_no_link() -> None:
    assert 'href="javascript' not in to_html("javascript:alert(1)")


def test_a_quote_ends_an_address() -> None:
    assert to_html('https://x.de/"onmouseover="alert(1)') == (
        "<p>"
        + LINK.format(href="https://x.de/", text="https://x.de/")
        + "&quot;onmouseover=&quot;alert(1)</p>"
    )


def test_quotes_and_ampersands_are_escaped() -> None:
    assert to_html('Tom & Jerry\'s "Fest"') == "<p>Tom &amp; Jerry&#x27;s &quot;Fest&quot;</p>"


def test_control_characters_are_dropped() -> None:
    assert to_html("a\x000\x00 b\x01 c\x020\x02") == "<p>a0 b c0</p>"


def test_a_long_line_of_unclosed_markers_renders_quickly() -> None:
    # A citizen's message is rendered in the inbox: 4096 characters must not stall the page.
    text = "*a _b ~c `d " * 340

    started = time.perf_counter()
    html = to_html(text)

    assert time.perf_counter() - started < 1
    assert "<strong>" not in html


def test_plain_text_and_excerpt() -> None:
    text = "*Achtung:* Die _Bahnhofstraße_ ist gesperrt.\n- Umleitung über die Ringstraße"

    assert to_plain(text) == (
        "Achtung: Die Bahnhofstraße ist gesperrt. Umleitung über die Ringstraße"
    )
    assert excerpt(text, 40) == "Achtung: Die Bahnhofstraße ist…"
    assert excerpt("kurz", 40) == "kurz"


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("```\nroh *x*\n```\n> _Zitat_", "roh *x* Zitat"),
        ("1. Nimm `a_b` mit https://x.de/_a_", "Nimm a_b mit https://x.de/_a_"),
        ("snake_case_name <b>", "snake_case_name <b>"),
    ],
)
def test_plain_text_keeps_what_formatting_protects(text: str, plain: str) -> None:
    assert to_plain(text) == plain


def test_the_template_filter_renders_and_escapes() -> None:
    template = Template("{% load whatsapp_formatting %}<div>{{ text|whatsapp_format }}</div>")

    html = template.render(Context({"text": "*Achtung* <b>x</b>"}))

    assert html == "<div><p><strong>Achtung</strong> &lt;b&gt;x&lt;/b&gt;</p></div>"
    assert template.render(Context({"text": None})) == "<div></div>"
