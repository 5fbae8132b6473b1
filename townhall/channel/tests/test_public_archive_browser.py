"""The public archive in Debian's Chromium on a 320 px phone: no sideways scrolling, and the
browser asks no other host for anything."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from townhall.channel.models import Post
from townhall.channel.tests.archive_factories import make_post
from townhall.channel.tests.test_public_archive import PNG_BYTES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
    # live_server serves from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

SMALL_PHONE = {"width": 320, "height": 640}
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen"


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def open_on_small_phone(new_page: Callable[..., Any], live_server: Any) -> tuple[Any, list[str]]:
    """A 320 px page that records the host of every request the browser makes (and lets
    none leave the machine)."""
    page = new_page(viewport=SMALL_PHONE, is_mobile=True, has_touch=True)
    requested_hosts: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        requested_hosts.append(urlsplit(url).netloc)
        if url.startswith(live_server.url):
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", route)
    return page, requested_hosts


def test_post_page_and_list_fit_a_320px_phone(
    new_page: Callable[..., Any], live_server: Any, media_root: None
) -> None:
    post = make_post(
        f"Straßensperrung Bahnhofstraße wegen {LONG_WORD}",
        (
            "*Achtung:* Die Bahnhofstraße ist von Montag bis Freitag voll gesperrt.\n"
            "- Umleitung über die Ringstraße\n"
            "- Buslinie 4 hält an der Ersatzhaltestelle Marktplatz\n"
            f"Mehr: https://www.musterstadt.de/verkehr/baustellen/bahnhofstrasse-{LONG_WORD}\n"
            "```Sperrzeiten: Mo–Fr 7:00–18:00 Uhr, Sa 8:00–14:00 Uhr, So frei```"
        ),
        topics=("dringend", "verkehr", "veranstaltungen", "stadt"),
        kind=Post.Kind.URGENT,
        attachment=("sperrung.png", PNG_BYTES),
    )
    for number in range(3):
        make_post(
            f"Stadtfest Tag {number}", "Musik auf dem Marktplatz", topics=("veranstaltungen",)
        )
    page, requested_hosts = open_on_small_phone(new_page, live_server)

    for path in (f"/p/{post.public_id}/", "/meldungen/", "/meldungen/?q=Stadtfest"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")

        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SMALL_PHONE["width"], (path, width)
        assert page.evaluate("document.body.scrollWidth") <= SMALL_PHONE["width"], path

    assert set(requested_hosts) == {urlsplit(live_server.url).netloc}
    # The image was loaded from us and is shown within the screen.
    page.goto(live_server.url + f"/p/{post.public_id}/")
    image = page.locator(".post__figure img")
    image.wait_for(state="visible")
    box = image.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= SMALL_PHONE["width"]
    assert page.context.cookies() == []


def test_language_switch_is_a_link_and_sets_no_cookie(
    new_page: Callable[..., Any], live_server: Any
) -> None:
    post = make_post(
        "Weihnachtsmarkt eröffnet",
        "Ab Freitag auf dem Marktplatz.",
        topics=("veranstaltungen",),
        english=("Christmas market opens", "From Friday on the market square."),
    )
    page, _hosts = open_on_small_phone(new_page, live_server)
    page.goto(live_server.url + f"/p/{post.public_id}/")
    assert page.locator("h1").inner_text() == "Weihnachtsmarkt eröffnet"

    page.get_by_role("link", name="EN", exact=True).click()

    page.wait_for_url(f"**/p/{post.public_id}/?lang=en")
    assert page.locator("h1").inner_text() == "Christmas market opens"
    assert page.get_by_role("link", name="Events").is_visible()
    assert page.context.cookies() == []
