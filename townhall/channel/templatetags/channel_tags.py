from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import ngettext

from townhall.channel import queries
from townhall.channel.models import Post

register = template.Library()


@register.filter
def post_title(post: Post) -> str:
    return queries.title_of(post)


# The delivery bar's parts, left to right (channel/_progress.html).
PROGRESS_BAR_PARTS = ("read", "delivered", "sent", "failed")


@register.filter
def progress_bar(progress: Any) -> list[dict[str, str]]:
    """The delivery bar as SVG rectangles on a 0-100 scale: each part's class, start and
    width. SVG, because the Content-Security-Policy allows no style attributes."""
    total = progress.audience
    start = 0.0
    parts = []
    for name in PROGRESS_BAR_PARTS:
        width = min(100.0 - start, 100.0 * getattr(progress, name) / total) if total else 0.0
        parts.append({"name": name, "x": f"{start:.2f}", "width": f"{width:.2f}"})
        start += width
    return parts


@register.filter
def duration(seconds: int | None) -> str:
    """A validity in words: "30 minutes", "3 hours"."""
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = max(1, seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
