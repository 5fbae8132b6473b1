"""Atom feeds of the published posts, for all topics and per topic, so the city's website
and people without WhatsApp can follow the info channel.

Links are absolute under ``settings.PUBLIC_BASE_URL`` (not the request's host), so a feed
fetched through a proxy still points readers at the public address. Each entry carries the
plain-text summary and the full text as HTML (``<content type="html">``, which Django's
Atom1Feed does not write by itself).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.utils.translation import gettext as _

from townhall.channel import public_queries as queries
from townhall.channel import public_views
from townhall.citizens.models import Topic
from townhall.citysettings import config

# Feed readers poll; the newest entries are what they need.
FEED_ENTRIES = 50


class AtomWithContent(Atom1Feed):
    """Atom 1.0 with each entry's full HTML in ``<content type="html">``."""

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        if item.get("content_html"):
            handler.addQuickElement("content", item["content_html"], {"type": "html"})


class PostFeed(Feed):
    """All published posts, or those of one topic (``/meldungen/feed/<slug>/``)."""

    feed_type = AtomWithContent
    # The feed's language (``?lang=``, German by default); Django writes it as the feed's
    # xml:lang.
    language = queries.DEFAULT_LANGUAGE

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # One instance serves every request (it is in the URLconf): the language of this
        # request goes on a copy, never on the shared instance.
        feed = copy.copy(self)
        wanted = request.GET.get("lang", "")
        if wanted in dict(settings.LANGUAGES):
            feed.language = wanted
        with translation.override(feed.language):
            try:
                response = super(PostFeed, feed).__call__(request, *args, **kwargs)
            except Http404:
                # No such topic; the archive's 404 sets no cookie, unlike the site-wide one.
                return public_views.not_found(request)
        response["Cache-Control"] = "public, max-age=300"
        return response

    def get_object(self, request: HttpRequest, topic_slug: str = "") -> Topic | None:
        if not topic_slug:
            return None
        return get_object_or_404(Topic, slug=topic_slug)

    def _language_query(self) -> str:
        if self.language == queries.DEFAULT_LANGUAGE:
            return ""
        return f"?lang={self.language}"

    def title(self, topic: Topic | None) -> str:
        city = config.city_name()
        if topic is None:
            return _("Announcements of the City of %(city)s") % {"city": city}
        return _("%(topic)s – announcements of the City of %(city)s") % {
            "topic": topic.name(self.language),
            "city": city,
        }

    def subtitle(self, topic: Topic | None) -> str:
        return _("What the city sends on its WhatsApp info channel.")

    def link(self, topic: Topic | None) -> str:
        path = reverse("channel_public:list")
        if topic is None:
            return queries.absolute_public_url(path + self._language_query())
        language = self._language_query().replace("?", "&")
        return queries.absolute_public_url(f"{path}?thema={topic.slug}{language}")

    def feed_url(self, topic: Topic | None) -> str:
        if topic is None:
            path = reverse("channel_public:feed")
        else:
            path = reverse("channel_public:topic_feed", args=[topic.slug])
        return queries.absolute_public_url(path + self._language_query())

    def feed_guid(self, topic: Topic | None) -> str:
        return self.feed_url(topic)

    def author_name(self) -> str:
        return _("City of %(city_name)s") % {"city_name": config.city_name()}

    def items(self, topic: Topic | None) -> list[queries.PublicPost]:
        posts = queries.search_published_posts(topic=topic)[:FEED_ENTRIES]
        return [queries.public_view(post, self.language) for post in posts]

    def item_title(self, item: queries.PublicPost) -> str:
        return item.title

    def item_description(self, item: queries.PublicPost) -> str:
        # Atom1Feed marks the summary type="html": plain text must be escaped as HTML.
        return escape(item.summary)

    def item_link(self, item: queries.PublicPost) -> str:
        return item.url

    def item_guid(self, item: queries.PublicPost) -> str:
        # Stable across language versions: one announcement, one id.
        return queries.public_post_url(item.public_id)

    def item_pubdate(self, item: queries.PublicPost) -> datetime:
        return item.published_at

    def item_updateddate(self, item: queries.PublicPost) -> datetime:
        return item.updated_at

    def item_categories(self, item: queries.PublicPost) -> list[str]:
        return [topic.name for topic in item.topics]

    def item_extra_kwargs(self, item: queries.PublicPost) -> dict[str, Any]:
        return {"content_html": str(item.html)}
