"""WhatsApp formatting in the composer's preview: rendered like the phone, and safe."""

from __future__ import annotations

import pytest

from townhall.channel.formatting import format_whatsapp

LINK = '<a href="{href}" rel="noopener noreferrer" target="_blank">{text}</a>'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*fett* _kursiv_ ~weg~", "<strong>fett</strong> <em>kursiv</em> <s>weg</s>"),
        ("```a *b* <c>```", "<code>a *b* &lt;c&gt;</code>"),
        ("*_fett und kursiv_*", "<strong><em>fett und kursiv</em></strong>"),
        (
            "_*kursiv und fett*_ ~*beides*~",
            "<em><strong>kursiv und fett</strong></em> <s><strong>beides</strong></s>",
        ),
        ("*fett mit ```code``` drin*", "<strong>fett mit <code>code</code> drin</strong>"),
        # Markers inside words and around spaces are plain characters.
        ("snake_case_name und 2*3*4", "snake_case_name und 2*3*4"),
        ("* nicht fett *", "* nicht fett *"),
        ("*offen", "*offen"),
        ("**", "**"),
        ("``````", "``````"),
        ("*fett*.", "<strong>fett</strong>."),
        ("(*fett*)", "(<strong>fett</strong>)"),
        # A marker does not reach over a line break; monospace does.
        ("*eins\nzwei*", "*eins<br>zwei*"),
        ("```eins\nzwei```", "<code>eins<br>zwei</code>"),
        ("Zeile 1\nZeile 2", "Zeile 1<br>Zeile 2"),
    ],
)
def test_formatting_is_rendered_like_whatsapp(text: str, html: str) -> None:
    assert format_whatsapp(text) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "Siehe https://musterstadt.de/termine.",
            "Siehe "
            + LINK.format(
                href="https://musterstadt.de/termine", text="https://musterstadt.de/termine"
            )
            + ".",
        ),
        (
            "www.musterstadt.de/sperrung_a_b_c",
            LINK.format(
                href="https://www.musterstadt.de/sperrung_a_b_c",
                text="www.musterstadt.de/sperrung_a_b_c",
            ),
        ),
        (
            "*Mehr: https://musterstadt.de/a*b*",
            "<strong>Mehr: "
            + LINK.format(href="https://musterstadt.de/a*b", text="https://musterstadt.de/a*b")
            + "</strong>",
        ),
        (
            "https://musterstadt.de/?a=1&b=<2>",
            LINK.format(
                href="https://musterstadt.de/?a=1&amp;b=", text="https://musterstadt.de/?a=1&amp;b="
            )
            + "&lt;2&gt;",
        ),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("mailto-https://x.de", "mailto-" + LINK.format(href="https://x.de", text="https://x.de")),
    ],
)
def test_links(text: str, html: str) -> None:
    assert format_whatsapp(text) == html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "*<script>alert(1)</script>*",
        "_<img src=x onerror=alert(1)>_",
        "```<script>alert(1)</script>```",
        'https://x.de/"><script>alert(1)</script>',
        "https://x.de/<script>alert(1)</script>",
        "~<svg onload=alert(1)>~ *_<iframe>_*",
    ],
)
def test_markup_typed_by_staff_never_survives(text: str) -> None:
    html = format_whatsapp(text)
    for dangerous in ("<script", "<img", "<svg", "<iframe", '"><'):
        assert dangerous not in html
    assert "&lt;" in html


def test_a_quote_ends_an_address() -> None:
    assert format_whatsapp('https://x.de/"onmouseover="alert(1)') == (
        LINK.format(href="https://x.de/", text="https://x.de/") + "&quot;onmouseover=&quot;alert(1)"
    )


def test_quotes_and_ampersands_are_escaped() -> None:
    assert format_whatsapp('Tom & Jerry\'s "Fest"') == "Tom &amp; Jerry&#x27;s &quot;Fest&quot;"
