"""The Atom feeds, read the way a feed reader does (feedparser)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from django.test import Client

from townhall.channel.feeds import FEED_ENTRIES
from townhall.channel.models import Post
from townhall.channel.tests.archive_factories import make_post

pytestmark = pytest.mark.django_db

BASE_URL = "https://service.musterstadt.de"
PUBLISHED = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def public_site(settings: Any, tmp_path: Path) -> None:
    settings.PUBLIC_BASE_URL = BASE_URL
    settings.MEDIA_ROOT = tmp_path / "media"


def fetch(client: Client, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert dict(response.cookies) == {}
    feed = feedparser.parse(response.content)
    # feedparser sets bozo for XML that is not well-formed or not valid Atom.
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    return feed


def utc(parsed: time.struct_time) -> datetime:
    return datetime(*parsed[:6], tzinfo=UTC)


def test_feed_of_all_posts(client: Client) -> None:
    road = make_post(
        "Straßensperrung Bahnhofstraße",
        "*Vollsperrung* von Montag bis Freitag.\nUmleitung über die Ringstraße.",
        topics=("verkehr",),
        published_at=PUBLISHED,
    )
    water = make_post(
        "Trinkwasser abkochen",
        "Bitte kochen Sie das Leitungswasser in der Nordstadt ab.",
        topics=("dringend", "stadt"),
        kind=Post.Kind.URGENT,
        published_at=PUBLISHED + timedelta(days=2, hours=3),
    )
    Post.objects.filter(pk=water.pk).update(updated_at=PUBLISHED + timedelta(days=3))
    make_post("Entwurf", "noch nicht frei", state=Post.State.IN_REVIEW)

    feed = fetch(client, "/meldungen/feed/")

    assert feed.feed.title == "Meldungen der Stadt Musterstadt"
    assert feed.feed.subtitle == "Was die Stadt über ihren WhatsApp-Info-Kanal verschickt."
    assert feed.feed.id == f"{BASE_URL}/meldungen/feed/"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": f"{BASE_URL}/meldungen/feed/", "alternate": f"{BASE_URL}/meldungen/"}
    assert feed.feed.language == "de"
    assert feed.feed.author == "Stadt Musterstadt"
    assert utc(feed.feed.updated_parsed) == PUBLISHED + timedelta(days=3)

    assert [entry.title for entry in feed.entries] == [
        "Trinkwasser abkochen",
        "Straßensperrung Bahnhofstraße",
    ]
    newest, oldest = feed.entries
    assert newest.link == f"{BASE_URL}/p/{water.public_id}/"
    assert newest.id == f"{BASE_URL}/p/{water.public_id}/"
    assert utc(newest.published_parsed) == PUBLISHED + timedelta(days=2, hours=3)
    assert utc(newest.updated_parsed) == PUBLISHED + timedelta(days=3)
    assert [tag.term for tag in newest.tags] == ["Dringende Meldungen", "Neues aus der Stadt"]
    assert oldest.link == f"{BASE_URL}/p/{road.public_id}/"
    assert utc(oldest.published_parsed) == PUBLISHED
    assert utc(oldest.updated_parsed) == PUBLISHED
    assert oldest.summary == "Vollsperrung von Montag bis Freitag. Umleitung über die Ringstraße."
    assert oldest.content[0].type == "text/html"
    assert oldest.content[0].value == (
        "<p><strong>Vollsperrung</strong> von Montag bis Freitag.<br />"
        "Umleitung über die Ringstraße.</p>"
    )


def test_topic_feed_has_only_that_topics_posts(client: Client) -> None:
    road = make_post("Bahnhofstraße gesperrt", "Bauarbeiten", topics=("verkehr",))
    make_post("Stadtfest", "Musik", topics=("veranstaltungen",))
    both = make_post("Marathon: Straßen gesperrt", "Sonntag", topics=("verkehr", "veranstaltungen"))
    make_post("An alle", "Ohne Thema", topics=())

    feed = fetch(client, "/meldungen/feed/verkehr/")

    assert feed.feed.title == "Verkehr & Baustellen – Meldungen der Stadt Musterstadt"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": f"{BASE_URL}/meldungen/feed/verkehr/",
        "alternate": f"{BASE_URL}/meldungen/?thema=verkehr",
    }
    assert sorted(entry.link for entry in feed.entries) == sorted(
        [f"{BASE_URL}/p/{road.public_id}/", f"{BASE_URL}/p/{both.public_id}/"]
    )


def test_unknown_topic_feed_is_404(client: Client) -> None:
    assert client.get("/meldungen/feed/gibtsnicht/").status_code == 404


def test_english_feed_uses_english_versions_where_there_are_some(client: Client) -> None:
    make_post("Stadtfest", "Musik", topics=("veranstaltungen",), english=("City festival", "Music"))
    make_post("Ratssitzung", "Der Rat tagt.", topics=("stadt",), published_at=PUBLISHED)

    feed = fetch(client, "/meldungen/feed/?lang=en")

    assert feed.feed.title == "Announcements of the City of Musterstadt"
    assert feed.feed.language == "en"
    assert {link.rel: link.href for link in feed.feed.links}["self"] == (
        f"{BASE_URL}/meldungen/feed/?lang=en"
    )
    assert [entry.title for entry in feed.entries] == ["City festival", "Ratssitzung"]
    assert feed.entries[0].link.endswith("/?lang=en")
    assert [tag.term for tag in feed.entries[0].tags] == ["Events"]


def test_feed_escapes_html_in_posts(client: Client) -> None:
    make_post("<b>Titel</b> & mehr", "Text <script>alert(1)</script>")

    response = client.get("/meldungen/feed/")
    body = response.content.decode()

    assert "<script>" not in body
    assert "<b>Titel</b>" not in body
    entry = feedparser.parse(response.content).entries[0]
    assert entry.title == "<b>Titel</b> & mehr"
    # The summary is HTML (type="html"): the text's "<" arrives as "&lt;", not as a tag.
    assert entry.summary == "Text &lt;script&gt;alert(1)&lt;/script&gt;"
    # The HTML content carries the text as text: escaped once inside the HTML.
    assert "Text &lt;script&gt;alert(1)&lt;/script&gt;" in body.replace("&amp;", "&")


def test_feed_keeps_the_newest_entries_only(client: Client) -> None:
    for number in range(FEED_ENTRIES + 3):
        make_post(f"Meldung {number}", "Text", published_at=PUBLISHED + timedelta(hours=number))

    feed = fetch(client, "/meldungen/feed/")

    assert len(feed.entries) == FEED_ENTRIES
    assert feed.entries[0].title == f"Meldung {FEED_ENTRIES + 2}"
    assert feed.entries[-1].title == "Meldung 3"


def test_empty_feed_is_valid(client: Client) -> None:
    feed = fetch(client, "/meldungen/feed/")

    assert feed.entries == []
