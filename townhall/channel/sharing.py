"""Sharing a post: the WhatsApp share link, the invitation to subscribe with the post's
referral code, and which requests count as a person opening the public page.

Counts only: the invitation carries the post's code, never who shared it; a link open is a
per-post, per-day counter (no cookie, no address, no browser stored).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.utils.translation import gettext as _

from townhall.channel.models import Post
from townhall.citizens.links import click_to_chat_url

# The keyword the invitation types in for the citizen; the bot reads "START <code>"
# (citizens.keywords.referral_code).
INVITATION_KEYWORD = "START"
# User agents of link-preview fetchers, crawlers and scripts: not a person reading. WhatsApp
# itself fetches the page for the preview ("WhatsApp/2.x"), so it must not count as an open.
_NOT_A_READER = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "whatsapp",
    "telegram",
    "slack",
    "discord",
    "skype",
    "curl",
    "wget",
    "python",
    "httpx",
    "go-http-client",
    "java/",
    "headless",
    "feed",
    "monitor",
)


def share_url(title: str, public_url: str) -> str:
    """https://wa.me/?text=… : WhatsApp opens with the title and link typed in, to send to
    anyone (https://faq.whatsapp.com/5913398998672934)."""
    return f"https://wa.me/?{urlencode({'text': f'{title} {public_url}'})}"


def invitation_text(post: Post) -> str:
    # What the bot reads back with citizens.keywords.referral_code (tested together).
    return f"{INVITATION_KEYWORD} {post.referral_code}"


def invitation_url(post: Post) -> str:
    """wa.me/<city number>?text=START <code>: subscribe, counted for this post."""
    return click_to_chat_url(invitation_text(post))


def invitation_qr_title() -> str:
    return _("QR code: opens WhatsApp to subscribe to the announcements of the city")


def is_reader(user_agent: str) -> bool:
    """A cheap guess whether a request comes from a person's browser."""
    agent = user_agent.lower()
    if not agent or not agent.startswith("mozilla/"):
        return False
    return not any(marker in agent for marker in _NOT_A_READER)
