"""The public archive: a page per published post, the list with topic filter and search.

Nothing unpublished is ever visible; the pages set no cookies and load nothing from other
hosts; a shared link has a preview (Open Graph).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client

from townhall.channel.models import Post
from townhall.channel.tests.archive_factories import make_post

pytestmark = pytest.mark.django_db

BASE_URL = "https://service.musterstadt.de"
# A summer afternoon in Berlin (CEST, UTC+2).
PUBLISHED = datetime(2026, 6, 12, 12, 30, tzinfo=UTC)
# One pixel, enough for the browser and the content type.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4"
    "8b0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def public_site(settings: Any, tmp_path: Path) -> None:
    settings.PUBLIC_BASE_URL = BASE_URL
    settings.MEDIA_ROOT = tmp_path / "media"


class MetaAndLinks(HTMLParser):
    """Collects <meta> properties, <link> tags and every src/href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str]] = []
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        key = attributes.get("property") or attributes.get("name")
        if tag == "meta" and key:
            self.meta.setdefault(key, []).append(attributes.get("content", ""))
        if tag == "link":
            self.links.append(attributes)
        for name in ("src", "href", "action", "srcset", "poster"):
            if name in attributes:
                self.urls.append((tag, attributes[name]))


def parse(html: str) -> MetaAndLinks:
    parser = MetaAndLinks()
    parser.feed(html)
    return parser


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- the post page -------------------------------------------------------------------------------


def test_post_page_shows_title_formatted_text_topics_and_the_berlin_date(client: Client) -> None:
    post = make_post(
        "Straßensperrung Bahnhofstraße",
        "*Achtung:* Die Bahnhofstraße ist _am Samstag_ gesperrt.\n- Umleitung über die Ringstraße",
        topics=("verkehr", "stadt"),
        published_at=PUBLISHED,
    )

    html = page(client, f"/p/{post.public_id}/")

    assert "<h1>Straßensperrung Bahnhofstraße</h1>" in html
    assert (
        "<p><strong>Achtung:</strong> Die Bahnhofstraße ist <em>am Samstag</em> gesperrt.</p>"
        "<ul><li>Umleitung über die Ringstraße</li></ul>"
    ) in html
    # 12:30 UTC is 14:30 in Berlin in June.
    assert '<time datetime="2026-06-12T14:30:00+02:00">12. Juni 2026, 14:30 Uhr</time>' in html
    assert re.findall(r'<a class="tag" href="[^"]*">([^<]+)</a>', html) == [
        "Verkehr &amp; Baustellen",
        "Neues aus der Stadt",
    ]


def test_post_page_has_open_graph_tags_with_absolute_urls(client: Client) -> None:
    post = make_post(
        "Stadtfest am Wochenende",
        "Drei Tage Musik, Essen und Fahrgeschäfte auf dem Marktplatz.",
        topics=("veranstaltungen",),
        published_at=PUBLISHED,
        english=("City festival this weekend", "Three days of music on the market square."),
        attachment=("stadtfest.png", PNG_BYTES),
    )

    tags = parse(page(client, f"/p/{post.public_id}/"))

    assert tags.meta["og:type"] == ["article"]
    assert tags.meta["og:title"] == ["Stadtfest am Wochenende"]
    assert tags.meta["og:description"] == [
        "Drei Tage Musik, Essen und Fahrgeschäfte auf dem Marktplatz."
    ]
    assert tags.meta["og:url"] == [f"{BASE_URL}/p/{post.public_id}/"]
    assert tags.meta["og:image"] == [f"{BASE_URL}/p/{post.public_id}/datei/"]
    assert tags.meta["og:locale"] == ["de_DE"]
    assert tags.meta["og:locale:alternate"] == ["en_GB"]
    assert tags.meta["og:site_name"] == ["Stadt Musterstadt"]
    assert tags.meta["article:published_time"] == ["2026-06-12T14:30:00+02:00"]
    assert tags.meta["article:tag"] == ["Veranstaltungen"]
    assert tags.meta["twitter:card"] == ["summary_large_image"]
    links = {(link["rel"], link.get("hreflang", link.get("type", ""))): link for link in tags.links}
    assert links[("canonical", "")]["href"] == f"{BASE_URL}/p/{post.public_id}/"
    assert links[("alternate", "en")]["href"] == f"{BASE_URL}/p/{post.public_id}/?lang=en"
    assert links[("alternate", "application/atom+xml")]["href"] == f"{BASE_URL}/meldungen/feed/"


def test_post_without_image_has_no_og_image(client: Client) -> None:
    post = make_post(attachment=("sperrmuell-termine.pdf", b"%PDF-1.4 Termine"))

    html = page(client, f"/p/{post.public_id}/")

    assert "og:image" not in parse(html).meta
    assert f'href="/p/{post.public_id}/datei/" download' in html
    assert (
        "Download sperrmuell-termine.pdf" in html or "sperrmuell-termine.pdf herunterladen" in html
    )


def test_english_version_with_lang_parameter(client: Client) -> None:
    post = make_post(
        "Stadtfest am Wochenende",
        "Drei Tage Musik auf dem Marktplatz.",
        topics=("veranstaltungen",),
        english=("City festival this weekend", "Three days of music on the *market square*."),
        published_at=PUBLISHED,
    )

    response = client.get(f"/p/{post.public_id}/?lang=en")

    html = response.content.decode()
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in html
    assert "<h1>City festival this weekend</h1>" in html
    assert "Three days of music on the <strong>market square</strong>." in html
    assert ">Events</a>" in html
    assert "12 June 2026" in html  # day first in English too
    tags = parse(html)
    assert tags.meta["og:locale"] == ["en_GB"]
    assert tags.meta["og:locale:alternate"] == ["de_DE"]
    assert tags.meta["og:url"] == [f"{BASE_URL}/p/{post.public_id}/?lang=en"]
    assert 'data-testid="translation-missing"' not in html


def test_german_only_post_in_english_says_so_and_shows_german(client: Client) -> None:
    post = make_post("Ratssitzung am Donnerstag", "Der Rat tagt um 18 Uhr im Rathaus.")

    html = page(client, f"/p/{post.public_id}/?lang=en")

    assert "<h1>Ratssitzung am Donnerstag</h1>" in html
    assert '<article class="card post" lang="de"' in html
    assert "This announcement is only available in German." in html
    assert parse(html).meta["og:locale"] == ["de_DE"]


@pytest.mark.parametrize(
    "state",
    [
        Post.State.DRAFT,
        Post.State.IN_REVIEW,
        Post.State.CHANGES_REQUESTED,
        Post.State.APPROVED,
        Post.State.CANCELLED,
    ],
)
def test_unpublished_posts_are_nowhere(client: Client, state: str) -> None:
    hidden = make_post("Noch geheim", "Entwurf der Pressestelle", state=state)
    visible = make_post("Öffentlich", "Schon versendet")

    not_found = client.get(f"/p/{hidden.public_id}/")
    assert not_found.status_code == 404
    assert "Meldung nicht gefunden" in not_found.content.decode()
    assert "Noch geheim" not in not_found.content.decode()
    assert client.get(f"/p/{hidden.public_id}/?lang=en").status_code == 404
    list_html = page(client, "/meldungen/")
    assert "Öffentlich" in list_html
    assert "Noch geheim" not in list_html
    assert "Noch geheim" not in page(client, "/meldungen/?q=geheim")
    feed = page(client, "/meldungen/feed/")
    assert "Öffentlich" in feed
    assert "Noch geheim" not in feed
    assert visible.public_id in feed


def test_post_cancelled_mid_broadcast_is_withdrawn_from_the_archive(client: Client) -> None:
    post = make_post("Falsche Meldung", "Versehentlich verschickt", published_at=PUBLISHED)
    assert client.get(f"/p/{post.public_id}/").status_code == 200

    Post.objects.filter(pk=post.pk).update(state=Post.State.CANCELLED)

    assert client.get(f"/p/{post.public_id}/").status_code == 404
    assert "Falsche Meldung" not in page(client, "/meldungen/feed/")


@pytest.mark.parametrize("state", [Post.State.SENDING, Post.State.PAUSED])
def test_posts_on_their_way_are_public(client: Client, state: str) -> None:
    post = make_post("Baustelle Kirchplatz", "Ab Montag", state=state)

    assert client.get(f"/p/{post.public_id}/").status_code == 200


def test_unknown_post_is_404(client: Client) -> None:
    assert client.get("/p/nichtda1/").status_code == 404


def test_text_and_title_are_escaped(client: Client) -> None:
    post = make_post(
        '<img src=x onerror="alert(1)">Titel',
        "Hallo <script>alert('x')</script> *fett <b>* https://x.de/\"onmouseover=alert(1)",
    )

    html = page(client, f"/p/{post.public_id}/")
    list_html = page(client, "/meldungen/")

    for document in (html, list_html):
        assert "<script>alert" not in document
        assert "<img src=x" not in document
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Titel" in document
    assert "Hallo &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<strong>fett &lt;b&gt;</strong>" in html
    assert '<a href="https://x.de/" rel="nofollow noopener noreferrer"' in html
    assert "onmouseover=alert(1)" not in html.replace("&quot;onmouseover=alert(1)", "")


# --- privacy: no cookies, no third parties --------------------------------------------------------


def test_public_pages_set_no_cookies(client: Client) -> None:
    post = make_post(english=("Road closure", "Saturday"), attachment=("bild.png", PNG_BYTES))
    draft = make_post(state=Post.State.DRAFT)

    for url, status in (
        (f"/p/{post.public_id}/", 200),
        (f"/p/{post.public_id}/?lang=en", 200),
        (f"/p/{post.public_id}/datei/", 200),
        ("/meldungen/", 200),
        ("/meldungen/?thema=verkehr&q=bahnhof", 200),
        ("/meldungen/feed/", 200),
        ("/meldungen/feed/verkehr/", 200),
        # Not found, in the archive's frame: the site-wide 404 page would set a CSRF cookie.
        (f"/p/{draft.public_id}/", 404),
        (f"/p/{draft.public_id}/datei/", 404),
        ("/meldungen/?thema=gibtsnicht", 404),
        ("/meldungen/feed/gibtsnicht/", 404),
    ):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == status, url
        # Django keeps cookies apart from the other headers until the WSGI handler adds
        # them as Set-Cookie.
        assert dict(response.cookies) == {}, url
        assert b"csrfmiddlewaretoken" not in b"".join(
            response.streaming_content if response.streaming else [response.content]
        ), url


def test_public_pages_reference_no_other_host(client: Client) -> None:
    post = make_post(
        "Weihnachtsmarkt",
        "Vom 1. bis 23. Dezember auf dem Marktplatz.",
        topics=("veranstaltungen",),
        attachment=("markt.png", PNG_BYTES),
    )
    allowed = urlsplit(BASE_URL).netloc

    for url in (f"/p/{post.public_id}/", "/meldungen/"):
        html = page(client, url)
        # Every absolute URL in the page (attributes, meta content, inline CSS) is ours,
        # except the links a visitor may follow to WhatsApp (share, subscribe): nothing is
        # loaded from there.
        hosts = {urlsplit(found).netloc for found in re.findall(r"https?://[^\s\"'<>)]+", html)}
        assert hosts <= {allowed, "wa.me"}, (url, hosts)
        assert "//" not in "".join(u for _tag, u in parse(html).urls if u.startswith("//"))
        for tag, value in parse(html).urls:
            if value.startswith("https://wa.me/"):
                assert tag == "a", (url, tag, value)
                continue
            assert value.startswith(("/", "?", "#", BASE_URL)), (url, tag, value)
        assert "<script" not in html
        assert "@import" not in html


# --- the list ------------------------------------------------------------------------------------


def titles_in(html: str) -> list[str]:
    return re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', html)


def test_list_shows_newest_first_and_pages(client: Client) -> None:
    for day in range(25):
        make_post(f"Meldung {day:02d}", "Text", published_at=PUBLISHED + timedelta(days=day))

    first = page(client, "/meldungen/")
    second = page(client, "/meldungen/?seite=2")

    assert titles_in(first) == [f"Meldung {day:02d}" for day in range(24, 4, -1)]
    assert titles_in(second) == [f"Meldung {day:02d}" for day in range(4, -1, -1)]
    assert "Seite 1 von 2" in first
    assert 'href="?seite=2" rel="next"' in first


def test_list_filters_by_topic_and_keeps_it_across_pages(client: Client) -> None:
    make_post("Bahnhofstraße gesperrt", "Bauarbeiten", topics=("verkehr",))
    make_post("Stadtfest", "Musik", topics=("veranstaltungen",))
    make_post("Trinkwasser abkochen", "Bitte abkochen", topics=("dringend", "stadt"))
    make_post("An alle", "Ohne Thema", topics=())

    assert titles_in(page(client, "/meldungen/?thema=verkehr")) == ["Bahnhofstraße gesperrt"]
    assert titles_in(page(client, "/meldungen/?thema=stadt")) == ["Trinkwasser abkochen"]
    assert set(titles_in(page(client, "/meldungen/"))) == {
        "Bahnhofstraße gesperrt",
        "Stadtfest",
        "Trinkwasser abkochen",
        "An alle",
    }
    html = page(client, "/meldungen/?thema=verkehr")
    assert 'href="?thema=verkehr" aria-current="true"' in html
    assert f'href="{BASE_URL}/meldungen/feed/verkehr/"' in html


def test_list_search_is_case_insensitive_over_titles_and_texts(client: Client) -> None:
    make_post("Sperrmüll-Termine im Mai", "Abholung in der Nordstadt", topics=("stadt",))
    make_post("Baustelle Kirchplatz", "Umleitung wegen SPERRMÜLL-Container", topics=("verkehr",))
    make_post(
        "Weihnachtsmarkt",
        "Glühwein und Lichter",
        topics=("veranstaltungen",),
        english=("Christmas market", "Mulled wine"),
    )

    assert set(titles_in(page(client, "/meldungen/?q=sperrmüll"))) == {
        "Sperrmüll-Termine im Mai",
        "Baustelle Kirchplatz",
    }
    assert titles_in(page(client, "/meldungen/?q=sperrm%C3%BCll&thema=verkehr")) == [
        "Baustelle Kirchplatz"
    ]
    # The English version is searched too; the list shows the German one.
    assert titles_in(page(client, "/meldungen/?q=MULLED")) == ["Weihnachtsmarkt"]
    assert titles_in(page(client, "/meldungen/?q=mulled&lang=en")) == ["Christmas market"]


def test_list_empty_states(client: Client) -> None:
    assert "Die Stadt hat noch keine Meldungen veröffentlicht." in page(client, "/meldungen/")

    make_post("Stadtfest", "Musik", topics=("veranstaltungen",))

    assert "Keine Meldungen passen zu „Kirmes“." in page(client, "/meldungen/?q=Kirmes")
    assert "Noch keine Meldungen in „Verkehr &amp; Baustellen“." in page(
        client, "/meldungen/?thema=verkehr"
    )
    unknown = client.get("/meldungen/?thema=gibtsnicht")
    assert unknown.status_code == 404
    assert "Dieses Thema gibt es nicht." in unknown.content.decode()
    assert titles_in(unknown.content.decode()) == []


def test_list_has_feed_links_and_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    for number in range(12):
        make_post(f"Meldung {number}", "Text", topics=("verkehr", "stadt"), english=("EN", "en"))

    with django_assert_max_num_queries(6):
        html = page(client, "/meldungen/?thema=verkehr&q=meldung")

    assert len(titles_in(html)) == 12
    feeds = [
        link["href"] for link in parse(html).links if link.get("type") == "application/atom+xml"
    ]
    assert feeds == [f"{BASE_URL}/meldungen/feed/", f"{BASE_URL}/meldungen/feed/verkehr/"]


# --- attachments ---------------------------------------------------------------------------------


def test_image_of_a_published_post_is_served(client: Client) -> None:
    post = make_post(attachment=("stadtfest.png", PNG_BYTES))

    response = client.get(f"/p/{post.public_id}/datei/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG_BYTES
    assert "sandbox" in response["Content-Security-Policy"]
    html = page(client, f"/p/{post.public_id}/")
    assert f'<img src="/p/{post.public_id}/datei/"' in html


def test_document_is_offered_as_download(client: Client) -> None:
    post = make_post(attachment=("termine.pdf", b"%PDF-1.4"))

    response = client.get(f"/p/{post.public_id}/datei/")

    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")


def test_attachment_of_an_unpublished_post_is_404(client: Client) -> None:
    post = make_post(state=Post.State.IN_REVIEW, attachment=("geheim.png", PNG_BYTES))
    without = make_post()

    assert client.get(f"/p/{post.public_id}/datei/").status_code == 404
    assert client.get(f"/p/{without.public_id}/datei/").status_code == 404


def test_dates_follow_berlin_time_across_midnight(client: Client) -> None:
    # 23:30 UTC on New Year's Eve is already 00:30 on New Year's Day in Berlin.
    with time_machine.travel(datetime(2027, 1, 1, 0, 0, tzinfo=UTC)):
        post = make_post(published_at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
        html = page(client, f"/p/{post.public_id}/")

    assert "1. Januar 2027, 00:30 Uhr" in html


def test_link_preview_crawlers_may_ask_with_head(client: Client) -> None:
    post = make_post()

    assert client.head(f"/p/{post.public_id}/").status_code == 200
    assert client.post(f"/p/{post.public_id}/").status_code == 405


def test_a_posts_poll_shows_its_options_and_the_results_once_sent_to_participants(
    client: Client,
) -> None:
    from townhall.channel.models import Poll, PollAnswer, PollOption
    from townhall.channel.tests.factories import citizens

    # given: a published post with a poll, two answers
    post = make_post("Stadtpark", "Wir gestalten den Stadtpark neu.", published_at=PUBLISHED)
    poll = Poll.objects.create(post=post, question="Was wünschen Sie sich?")
    options = [
        PollOption.objects.create(poll=poll, position=position, title=title)
        for position, title in ((1, "Radweg"), (2, "Spielplatz"))
    ]
    for citizen, option in zip(citizens(2, topic_slugs=["verkehr"]), options, strict=True):
        PollAnswer.objects.create(
            poll=poll,
            citizen=citizen,
            option=option,
            language="de",
            first_answered_at=PUBLISHED,
            answered_at=PUBLISHED,
        )

    # when: the page while the poll is open, then after the results went to participants
    while_open = page(client, f"/p/{post.public_id}/")
    Poll.objects.filter(pk=poll.pk).update(
        closes_at=PUBLISHED + timedelta(days=1), results_sent_at=PUBLISHED + timedelta(days=1)
    )
    after_results = page(client, f"/p/{post.public_id}/")

    # then: the question and options, no counts; later the counts
    assert "Was wünschen Sie sich?" in while_open
    assert '<li lang="de">Radweg</li><li lang="de">Spielplatz</li>' in while_open
    assert "Abonnenten antworten in WhatsApp." in while_open
    assert "poll-result-1" not in while_open
    assert "Ergebnis: 2 Antworten." in after_results
    assert 'data-testid="poll-result-1">50 % (1)<' in after_results
    assert 'data-testid="poll-result-2">50 % (1)<' in after_results
