"""Posts in the states the public archive has to tell apart.

Rows as the channel's actions leave them (a sent post has ``published_at``; a draft has
not); the archive only reads them.
"""

from __future__ import annotations

from datetime import datetime

from django.core.files.base import ContentFile

from townhall.channel.models import Post, PostVersion
from townhall.citizens.models import Topic
from townhall.core import clock


def make_post(
    title: str = "Straßensperrung Bahnhofstraße",
    text: str = "Die Bahnhofstraße ist am Samstag von 8 bis 18 Uhr gesperrt.",
    *,
    state: str = Post.State.SENT,
    published_at: datetime | None = None,
    topics: tuple[str, ...] = ("verkehr",),
    kind: str = Post.Kind.NORMAL,
    english: tuple[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> Post:
    """A post with a German version (and an English one if given). Published now unless
    ``published_at`` says otherwise; drafts and posts in review are never published."""
    is_published = state in (Post.State.SENDING, Post.State.PAUSED, Post.State.SENT)
    if published_at is None and is_published:
        published_at = clock.now()
    post = Post.objects.create(
        state=state,
        kind=kind,
        published_at=published_at,
        created_at=published_at or clock.now(),
        updated_at=published_at or clock.now(),
    )
    if attachment is not None:
        name, content = attachment
        post.attachment.save(name, ContentFile(content), save=True)
    PostVersion.objects.create(post=post, language="de", title=title, text=text)
    if english is not None:
        PostVersion.objects.create(post=post, language="en", title=english[0], text=english[1])
    post.topics.set(Topic.objects.filter(slug__in=topics))
    return post
