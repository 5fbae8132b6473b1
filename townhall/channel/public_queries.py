"""What the public may see of the info channel: published posts only.

A post is public once it has gone out (``published_at`` set) and while it is sending, paused
mid-broadcast or sent. Drafts, posts in review, approved posts waiting for their time and
cancelled posts never are: a post the city cancelled (even mid-broadcast) is withdrawn from
the archive. Public views and feeds read posts through this module alone, and it hands out
nothing about recipients, authors or approvers.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString

from townhall.channel import poll_queries
from townhall.channel.models import Poll, Post, PostVersion, poll_text, poll_text_language
from townhall.citizens.models import Topic
from townhall.core import clock
from townhall.whatsapp import formatting

PUBLIC_STATES = (Post.State.SENDING, Post.State.PAUSED, Post.State.SENT)
DEFAULT_LANGUAGE = "de"
# Shown inline as <img> (and as og:image); anything else is offered as a download. No SVG:
# it can carry scripts.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})


def published_posts() -> QuerySet[Post]:
    """Public posts, newest first, with their versions and topics (two extra queries)."""
    return (
        Post.objects.filter(state__in=PUBLIC_STATES, published_at__isnull=False)
        .order_by("-published_at", "-id")
        .prefetch_related(
            Prefetch("versions", queryset=PostVersion.objects.order_by("language")),
            Prefetch("topics", queryset=Topic.objects.order_by("position", "id")),
        )
    )


def published_post(public_id: str) -> Post | None:
    return published_posts().filter(public_id=public_id).first()


def search_published_posts(*, search: str = "", topic: Topic | None = None) -> QuerySet[Post]:
    """Published posts with ``search`` in the title or text of any language version
    (case-insensitive) and tagged with ``topic``."""
    posts = published_posts()
    if topic is not None:
        posts = posts.filter(topics=topic)
    search = search.strip()
    if search:
        matches = Q()
        for variant in _case_variants(search):
            matches |= Q(title__icontains=variant) | Q(text__icontains=variant)
        matching_versions = PostVersion.objects.filter(post=OuterRef("pk")).filter(matches)
        posts = posts.filter(Exists(matching_versions))
    return posts


def _case_variants(search: str) -> set[str]:
    """PostgreSQL's icontains folds every letter; SQLite's LIKE only ASCII ones, so "müll"
    would miss "MÜLL". There the lower- and upper-case spellings are searched as well, which
    finds umlauts written either way (not mixed within one search term)."""
    if connection.vendor != "sqlite":
        return {search}
    return {search, search.lower(), search.upper()}


def public_topics() -> QuerySet[Topic]:
    """The topics a visitor can filter by: active ones, in the order the bot lists them."""
    return Topic.objects.filter(is_active=True).order_by("position", "id")


def public_post_path(public_id: str, language: str = "") -> str:
    path = reverse("channel_public:post", args=[public_id])
    return f"{path}?lang={language}" if language and language != DEFAULT_LANGUAGE else path


def public_post_url(public_id: str, language: str = "") -> str:
    """The post's page as a citizen reaches it (``settings.PUBLIC_BASE_URL``): the short link
    a post message carries, the feed's entry link and the page's og:url."""
    return settings.PUBLIC_BASE_URL + public_post_path(public_id, language)


def absolute_public_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


@dataclass(frozen=True)
class TopicLabel:
    slug: str
    name: str


@dataclass(frozen=True)
class PublicPost:
    """One post as the public sees it, in one language."""

    public_id: str
    language: str
    # The languages the post is written in (German first).
    languages: tuple[str, ...]
    title: str
    text: str
    is_urgent: bool
    topics: tuple[TopicLabel, ...]
    published_at: datetime
    updated_at: datetime
    attachment_name: str
    is_image: bool

    @property
    def html(self) -> SafeString:
        return formatting.to_html(self.text)

    @property
    def summary(self) -> str:
        return formatting.excerpt(self.text)

    @property
    def path(self) -> str:
        return public_post_path(self.public_id, self.language)

    @property
    def url(self) -> str:
        return public_post_url(self.public_id, self.language)

    @property
    def attachment_path(self) -> str:
        if not self.attachment_name:
            return ""
        return reverse("channel_public:attachment", args=[self.public_id])

    @property
    def attachment_url(self) -> str:
        return absolute_public_url(self.attachment_path) if self.attachment_name else ""


def choose_language(post: Post, wanted: str) -> str:
    """The version to show for ``wanted``: that language if the post has it, else German."""
    languages = {version.language for version in post.versions.all()}
    if wanted in languages:
        return wanted
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in languages else min(languages, default="")


def public_view(post: Post, wanted_language: str) -> PublicPost:
    """The post in the visitor's language (German when it has no such version).

    Needs ``post`` from ``published_posts()`` (versions and topics prefetched).
    """
    versions = {version.language: version for version in post.versions.all()}
    language = choose_language(post, wanted_language)
    version = versions[language]
    attachment_name = PurePosixPath(post.attachment.name or "").name if post.attachment else ""
    if post.published_at is None:
        raise ValueError("Only published posts have a public view.")
    return PublicPost(
        public_id=post.public_id,
        language=language,
        languages=tuple(sorted(versions, key=lambda code: (code != DEFAULT_LANGUAGE, code))),
        title=version.title,
        text=version.text,
        is_urgent=post.kind == Post.Kind.URGENT,
        topics=tuple(
            TopicLabel(slug=topic.slug, name=topic.name(language)) for topic in post.topics.all()
        ),
        published_at=post.published_at,
        updated_at=max(post.published_at, post.updated_at),
        attachment_name=attachment_name,
        is_image=PurePosixPath(attachment_name).suffix.lower() in IMAGE_EXTENSIONS,
    )


def attachment_content_type(name: str) -> str:
    content_type, _encoding = mimetypes.guess_type(name)
    return content_type or "application/octet-stream"


@dataclass(frozen=True)
class PollText:
    """One text of a poll and the language it is in (for the page's ``lang``)."""

    text: str
    language: str


def _poll_text(german: str, english: str, language: str) -> PollText:
    return PollText(poll_text(german, english, language), poll_text_language(english, language))


@dataclass(frozen=True)
class PublicPollRow:
    title: PollText
    result: poll_queries.OptionResult


@dataclass(frozen=True)
class PublicPoll:
    """A post's poll as the public sees it, in the language of the version shown (each text
    falling back to German): the question and its options; the counts only once the city
    sent them to the participants (before, they are the staff's)."""

    question: PollText
    options: tuple[PollText, ...]
    closes_at: datetime | None
    is_closed: bool
    results: poll_queries.PollResults | None
    result_rows: tuple[PublicPollRow, ...] = ()


def public_poll(post: Post, language: str = DEFAULT_LANGUAGE) -> PublicPoll | None:
    """The poll in ``language``, the language of the version the page shows."""
    poll = Poll.objects.filter(post=post).first()
    if poll is None:
        return None
    results = poll_queries.poll_results(poll) if poll.results_sent_at else None
    return PublicPoll(
        question=_poll_text(poll.question, poll.question_en, language),
        options=tuple(
            _poll_text(option.title, option.title_en, language)
            for option in poll.options.order_by("position")
        ),
        closes_at=poll.closes_at,
        is_closed=poll.is_closed_at(clock.now()),
        results=results,
        result_rows=tuple(
            PublicPollRow(_poll_text(row.title, row.title_en, language), row)
            for row in (results.rows if results is not None else ())
        ),
    )
