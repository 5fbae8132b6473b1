"""Reading posts for the staff pages: the list by state, with counts, without N+1 queries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from townhall.channel.models import Post, PostVersion

POSTS_PER_PAGE = 30
State = Post.State


class PostTab(StrEnum):
    DRAFTS = "entwuerfe"
    IN_REVIEW = "freigabe"
    SCHEDULED = "geplant"
    SENDING = "laufend"
    SENT = "gesendet"


TAB_STATES: dict[PostTab, tuple[str, ...]] = {
    PostTab.DRAFTS: (State.DRAFT, State.CHANGES_REQUESTED),
    PostTab.IN_REVIEW: (State.IN_REVIEW,),
    PostTab.SCHEDULED: (State.APPROVED,),
    PostTab.SENDING: (State.SENDING, State.PAUSED),
    PostTab.SENT: (State.SENT, State.CANCELLED),
}
TAB_LABELS = {
    PostTab.DRAFTS: _("Drafts"),
    PostTab.IN_REVIEW: _("Waiting for approval"),
    PostTab.SCHEDULED: _("Scheduled"),
    PostTab.SENDING: _("Sending"),
    PostTab.SENT: _("Sent"),
}


@dataclass(frozen=True)
class TabLink:
    tab: PostTab
    label: Any
    count: int


def tab_counts() -> list[TabLink]:
    """Each tab with the number of its posts, in one query."""
    per_state = dict(Post.objects.values_list("state").annotate(count=Count("id")).order_by())
    return [
        TabLink(tab, TAB_LABELS[tab], sum(per_state.get(state, 0) for state in states))
        for tab, states in TAB_STATES.items()
    ]


def _with_list_data(posts: QuerySet[Post]) -> QuerySet[Post]:
    return posts.select_related("author").prefetch_related(
        "topics", Prefetch("versions", queryset=PostVersion.objects.order_by("language"))
    )


def posts_page(tab: PostTab, page_number: Any) -> Page:
    posts = Post.objects.filter(state__in=TAB_STATES[tab])
    if tab is PostTab.SCHEDULED:
        posts = posts.order_by("send_at", "-id")
    elif tab is PostTab.SENT:
        posts = posts.order_by("-finished_at", "-id")
    return Paginator(_with_list_data(posts), POSTS_PER_PAGE).get_page(page_number)


def waiting_for_approval_by(user: Any) -> list[Post]:
    """Posts an approver could approve now: in review and written by someone else."""
    posts = Post.objects.filter(state=State.IN_REVIEW).exclude(author=user).order_by("created_at")
    return list(_with_list_data(posts)[:POSTS_PER_PAGE])


def title_of(post: Post) -> str:
    """The German title (or any) from the prefetched versions."""
    versions = list(post.versions.all())
    for version in versions:
        if version.language == "de":
            return version.title
    return versions[0].title if versions else ""
