"""The public archive of the info channel: a page per published post and the list of posts.

For anyone, without login: no cookies (the pages have no form, so no CSRF token; the language
is chosen by ``?lang=``, not by the session), no tracking, nothing loaded from other hosts.
Posts come from ``queries`` only, which knows what is published.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from townhall.channel import public_queries as queries
from townhall.channel import sharing
from townhall.channel.actions import do_count_link_open
from townhall.citizens.links import qr_svg
from townhall.citizens.models import Topic

logger = logging.getLogger(__name__)

POSTS_PER_PAGE = 20
# How long browsers and proxies may keep a page: a correction shows within minutes.
PUBLIC_MAX_AGE_SECONDS = 300
# og:locale per language version (https://ogp.me/#optional).
OPEN_GRAPH_LOCALES = {"de": "de_DE", "en": "en_GB"}
SEARCH_MAX_CHARS = 100


def requested_language(request: HttpRequest) -> str:
    """``?lang=`` if it names a site language, else the language the middleware chose."""
    wanted = request.GET.get("lang", "")
    if wanted in dict(settings.LANGUAGES):
        return wanted
    return translation.get_language() or queries.DEFAULT_LANGUAGE


def _language_links(request: HttpRequest, language: str) -> list[dict[str, object]]:
    """The DE/EN switch as plain links that keep the other query parameters."""
    links = []
    for code, _name in settings.LANGUAGES:
        query = request.GET.copy()
        query["lang"] = code
        query.pop("seite", None)
        links.append({"code": code, "url": f"?{query.urlencode()}", "is_active": code == language})
    return links


def _render(
    request: HttpRequest, template: str, context: Mapping[str, object], language: str
) -> HttpResponse:
    with translation.override(language):
        response = render(request, template, dict(context))
    response["Content-Language"] = language
    return response


def not_found(request: HttpRequest) -> HttpResponse:
    """404 in the archive's frame. The site-wide 404 page has the session-based language
    form and would set a CSRF cookie; a link to a withdrawn post must not."""
    language = requested_language(request)
    context = {
        "language": language,
        "language_links": _language_links(request, language),
        "feed_url": queries.absolute_public_url(_feed_path()),
    }
    response = _render(request, "channel/public/not_found.html", context, language)
    response.status_code = 404
    return response


@require_safe
@cache_control(public=True, max_age=PUBLIC_MAX_AGE_SECONDS)
def post_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    post = queries.published_post(public_id)
    if post is None:
        # Never published, still in review, or withdrawn: the same answer for all.
        return not_found(request)
    if request.method == "GET" and sharing.is_reader(request.headers.get("User-Agent", "")):
        do_count_link_open(post)
    language = requested_language(request)
    public_post = queries.public_view(post, language)
    invitation_url = sharing.invitation_url(post)
    with translation.override(language):
        qr_title = sharing.invitation_qr_title()
    context = {
        "post": public_post,
        "share_url": sharing.share_url(public_post.title, public_post.url),
        "invitation_url": invitation_url,
        # segno's own output, with the title escaped by segno.
        "invitation_qr_svg": mark_safe(qr_svg(invitation_url, qr_title)),  # noqa: S308
        "invitation_text": sharing.invitation_text(post),
        "language": language,
        "language_links": _language_links(request, language),
        "is_translation_missing": public_post.language != language,
        "og_locale": OPEN_GRAPH_LOCALES.get(public_post.language, public_post.language),
        "og_locale_alternates": [
            OPEN_GRAPH_LOCALES.get(code, code)
            for code in public_post.languages
            if code != public_post.language
        ],
        "alternate_versions": [
            {"language": code, "url": queries.public_post_url(public_post.public_id, code)}
            for code in public_post.languages
        ],
        "feed_url": queries.absolute_public_url(_feed_path()),
        "poll": queries.public_poll(post, public_post.language),
    }
    return _render(request, "channel/public/post_detail.html", context, language)


def _feed_path(topic: Topic | None = None) -> str:
    if topic is None:
        return reverse("channel_public:feed")
    return reverse("channel_public:topic_feed", args=[topic.slug])


@require_safe
@cache_control(public=True, max_age=PUBLIC_MAX_AGE_SECONDS)
def post_list(request: HttpRequest) -> HttpResponse:
    language = requested_language(request)
    topics = list(queries.public_topics())
    topic_slug = request.GET.get("thema", "")
    topic = next((topic for topic in topics if topic.slug == topic_slug), None)
    if topic_slug and topic is None:
        logger.info("channel.public_list unknown_topic")
    search = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]
    if topic_slug and topic is None:
        posts = queries.published_posts().none()
    else:
        posts = queries.search_published_posts(search=search, topic=topic)
    page = Paginator(posts, POSTS_PER_PAGE).get_page(request.GET.get("seite"))
    filter_query = request.GET.copy()
    filter_query.pop("seite", None)
    context = {
        "page": page,
        "posts": [queries.public_view(post, language) for post in page.object_list],
        "topics": [{"slug": t.slug, "name": t.name(language)} for t in topics],
        "topic": topic,
        "topic_name": topic.name(language) if topic else "",
        "unknown_topic": bool(topic_slug and topic is None),
        "search": search,
        "is_filtered": bool(search or topic),
        "page_query": filter_query.urlencode(),
        "language": language,
        "language_links": _language_links(request, language),
        "feed_url": queries.absolute_public_url(_feed_path()),
        "topic_feed_url": queries.absolute_public_url(_feed_path(topic)) if topic else "",
        "list_url": queries.absolute_public_url(request.path),
    }
    response = _render(request, "channel/public/post_list.html", context, language)
    if topic_slug and topic is None:
        response.status_code = 404
    return response


@require_safe
@cache_control(public=True, max_age=PUBLIC_MAX_AGE_SECONDS)
def attachment(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """The post's image or document, public only while the post is."""
    post = queries.published_post(public_id)
    if post is None or not post.attachment:
        return not_found(request)
    public_post = queries.public_view(post, queries.DEFAULT_LANGUAGE)
    try:
        file = post.attachment.open("rb")
    except FileNotFoundError:
        logger.error("channel.attachment_missing post=%s", post.pk)
        return not_found(request)
    response = FileResponse(
        file,
        as_attachment=not public_post.is_image,
        filename=public_post.attachment_name,
        content_type=queries.attachment_content_type(public_post.attachment_name),
    )
    # A document (e.g. an HTML or PDF file) opened from here must not run scripts as us.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return response
