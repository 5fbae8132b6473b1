"""Publish a post from a script: approved at once, sent, and with --wait the final counts.

    python manage.py publish_post --topic verkehr --title "Sperrung" --text "…" \
        [--title-en … --text-en …] [--urgent] [--template NAME] [--valid-for S] \
        [--wait] [--timeout S]
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from townhall.channel.actions import (
    PostActionRefused,
    do_finish_post_if_handed_over,
    do_publish_post,
)
from townhall.channel.models import Post
from townhall.channel.progress import post_progress
from townhall.citizens.models import Topic
from townhall.whatsapp.models import Message, MessageTemplate

POLL_SECONDS = 0.5
# Statuses --wait waits for: delivered counts as final (a citizen may never open the chat).
FINAL_STATUSES = {
    Message.Status.DELIVERED,
    Message.Status.READ,
    Message.Status.PLAYED,
    Message.Status.FAILED,
    Message.Status.CANCELLED,
}


class Command(BaseCommand):
    help = "Create an approved post of the info channel and send it (for scripts and operators)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--topic",
            action="append",
            default=[],
            help="topic slug (repeatable; none = all subscribers)",
        )
        parser.add_argument("--title", required=True)
        parser.add_argument("--text", required=True)
        parser.add_argument("--title-en", default="")
        parser.add_argument("--text-en", default="")
        parser.add_argument(
            "--urgent", action="store_true", help="urgent alert: ignores quiet hours"
        )
        parser.add_argument(
            "--template",
            default=None,
            help="approved template for closed windows (default: CHANNEL['DEFAULT_TEMPLATE'])",
        )
        parser.add_argument(
            "--valid-for", type=int, default=None, help="seconds the post is worth delivering"
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait for the final counts and print them as JSON"
        )
        parser.add_argument(
            "--timeout", type=float, default=600.0, help="seconds --wait waits at most"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slugs = options["topic"]
        topics = list(Topic.objects.filter(slug__in=slugs))
        unknown = set(slugs) - {topic.slug for topic in topics}
        if unknown:
            raise CommandError(f"unknown topic(s): {', '.join(sorted(unknown))}")
        template_name = options["template"]
        if template_name is None:
            template_name = settings.CHANNEL.get("DEFAULT_TEMPLATE", "")
        template = None
        if template_name:
            template = (
                MessageTemplate.objects.filter(
                    name=template_name, status=MessageTemplate.Status.APPROVED
                )
                .order_by("language")
                .filter(language__startswith="de")
                .first()
                or MessageTemplate.objects.filter(
                    name=template_name, status=MessageTemplate.Status.APPROVED
                ).first()
            )
            if template is None:
                self.stderr.write(
                    f"template {template_name!r} is not approved: citizens outside the 24-hour window are skipped"
                )
        versions = {"de": (options["title"], options["text"])}
        if options["title_en"] or options["text_en"]:
            versions["en"] = (options["title_en"], options["text_en"])
        try:
            post = do_publish_post(
                kind=Post.Kind.URGENT if options["urgent"] else Post.Kind.NORMAL,
                topics=topics,
                versions=versions,
                template=template,
                valid_for_seconds=options["valid_for"],
            )
        except PostActionRefused as refusal:
            raise CommandError(refusal.message) from refusal
        if not options["wait"]:
            self.stdout.write(
                json.dumps({"post": post.pk, "public_id": post.public_id, "state": post.state})
            )
            return
        deadline = time.monotonic() + options["timeout"]
        timed_out = False
        while True:
            do_finish_post_if_handed_over(post.pk)
            post.refresh_from_db()
            finished = post.state in (Post.State.SENT, Post.State.CANCELLED) and not (
                post.state == Post.State.SENT and _statuses_pending(post)
            )
            if finished:
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(POLL_SECONDS)
        # Counted after the check above: statuses that came in while it ran are included.
        progress = post_progress(post)
        result = {
            "post": post.pk,
            "public_id": post.public_id,
            "state": post.state,
            "timed_out": timed_out,
            **{key: value for key, value in dataclasses.asdict(progress).items()},
        }
        self.stdout.write(json.dumps(result, sort_keys=True))
        if timed_out:
            raise CommandError(f"timed out after {options['timeout']} s")


def _statuses_pending(post: Post) -> bool:
    """Handed over but Meta's last word (read, failed) has not come yet."""
    return (
        post.deliveries.exclude(message__status__in=FINAL_STATUSES)
        .exclude(message__isnull=True)
        .exists()
    )
