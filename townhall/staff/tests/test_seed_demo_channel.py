"""The info channel's demo data: a few weeks of posts whose deliveries, statuses and approval
trail are consistent with each other and with the demo citizens' consent."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import feedparser
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from townhall.channel.demo import DEMO_POSTS, PROVIDER_ID_PREFIX, demo_public_id
from townhall.channel.models import Post, PostDelivery, PostEvent, PostVersion
from townhall.core import clock
from townhall.staff.management.commands.seed_demo import DEMO_USERNAME
from townhall.whatsapp.models import Message, MessageStatusEvent, MessageTemplate
from townhall.whatsapp.policy import Purpose, refusals
from townhall.whatsapp.service_window import is_within_service_window

pytestmark = pytest.mark.django_db

# What an outbound message of a finished broadcast can end as.
OUTBOUND_FINAL_STATUSES = {"sent", "delivered", "read", "failed"}
STATUS_ORDER = ["sent", "delivered", "read"]


def seed() -> str:
    output = StringIO()
    call_command("seed_demo", "--password", "Rathaus-Demo-2025", stdout=output)
    return output.getvalue()


def counts() -> dict[str, int]:
    return {
        "posts": Post.objects.count(),
        "versions": PostVersion.objects.count(),
        "events": PostEvent.objects.count(),
        "deliveries": PostDelivery.objects.count(),
        "messages": Message.objects.count(),
        "status_events": MessageStatusEvent.objects.count(),
        "templates": MessageTemplate.objects.count(),
        "template_statuses": MessageTemplate.objects.filter(status="approved").count(),
        "users": User.objects.count(),
        "topic_links": Post.topics.through.objects.count(),
    }


def test_seed_demo_creates_weeks_of_posts() -> None:
    now = clock.now()

    output = seed()

    published = Post.objects.filter(published_at__isnull=False)
    assert "Info channel: 17 posts (17 new, 0 already there), 43 new deliveries." in output
    assert Post.objects.count() == len(DEMO_POSTS) == 17
    assert published.count() == 14
    assert set(Post.objects.filter(published_at__isnull=True).values_list("state", flat=True)) == {
        Post.State.DRAFT,
        Post.State.IN_REVIEW,
        Post.State.CHANGES_REQUESTED,
    }
    oldest = min(published.values_list("published_at", flat=True))
    newest = max(published.values_list("published_at", flat=True))
    assert now - timedelta(days=28) < oldest < now - timedelta(days=21)
    assert now - timedelta(hours=2) < newest <= now
    assert published.filter(kind=Post.Kind.URGENT).count() == 2
    assert PostVersion.objects.filter(language="en").count() == 6
    used_topics = set(Post.topics.through.objects.values_list("topic__slug", flat=True))
    assert used_topics == {"dringend", "verkehr", "veranstaltungen", "stadt"}


def test_seed_demo_twice_adds_nothing() -> None:
    seed()
    after_first_run = counts()

    output = seed()

    assert counts() == after_first_run
    assert "Info channel: 17 posts (0 new, 17 already there), 0 new deliveries." in output


def test_demo_deliveries_are_consistent_with_statuses_and_consent() -> None:
    seed()

    deliveries = list(
        PostDelivery.objects.select_related("post", "citizen", "message").prefetch_related(
            "post__topics"
        )
    )
    assert len(deliveries) == 43
    statuses = [delivery.message.status for delivery in deliveries]
    assert set(statuses) == OUTBOUND_FINAL_STATUSES
    assert statuses.count("failed") == 4
    events_by_message: dict[str, list[MessageStatusEvent]] = {}
    for event in MessageStatusEvent.objects.filter(
        provider_message_id__startswith=PROVIDER_ID_PREFIX
    ):
        events_by_message.setdefault(event.provider_message_id, []).append(event)
    for delivery in deliveries:
        message, post = delivery.message, delivery.post
        assert post.state == Post.State.SENT
        assert message.direction == Message.Direction.OUTBOUND
        assert message.wa_id == delivery.citizen.wa_id
        assert message.purpose == Purpose.INFO
        assert message.status in OUTBOUND_FINAL_STATUSES
        assert post.published_at is not None
        assert post.published_at <= message.created_at <= post.finished_at
        # The status history ends in the message's status and never goes backwards.
        history = events_by_message[message.provider_id]
        assert [event.status for event in history][-1] == message.status
        assert max(event.occurred_at for event in history) == message.status_updated_at
        if message.status == "failed":
            assert message.error_code in {131026, 131000, 130472}
            assert message.error_title
            assert history[-1].errors[0]["code"] == message.error_code
        else:
            assert [event.status for event in history] == STATUS_ORDER[: len(history)]
            assert message.error_code is None
        assert all(event.occurred_at <= clock.now() for event in history)
        # Consent: the citizen chose one of the post's topics.
        assert any(
            delivery.citizen.wa_id not in refusals([delivery.citizen.wa_id], Purpose.INFO, slug)
            for slug in [topic.slug for topic in post.topics.all()]
        )
        # Template exactly when the 24-hour window was closed.
        last_inbound = (
            Message.objects.filter(
                wa_id=message.wa_id,
                direction=Message.Direction.INBOUND,
                created_at__lte=message.created_at,
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        is_open = is_within_service_window(last_inbound, message.created_at)
        assert delivery.as_template is not is_open
        assert message.type == ("template" if delivery.as_template else "text")
        if delivery.as_template:
            # The approved template of the post's kind; its "Mehr lesen" button links the post.
            template = message.payload["template"]
            assert template["name"] == (
                "info_kanal_dringend" if post.kind == Post.Kind.URGENT else "info_kanal_beitrag"
            )
            assert post.template.name == template["name"]
            button = next(c for c in template["components"] if c["type"] == "button")
            assert button["parameters"] == [{"type": "text", "text": post.public_id}]
            assert message.text.startswith(
                f"[{template['name']}] {post.versions.get(language='de').title} | "
            )
        else:
            assert f"/p/{post.public_id}/" in message.text
    assert sum(not delivery.as_template for delivery in deliveries) == 4
    assert not PostDelivery.objects.filter(post__published_at__isnull=True).exists()


def test_demo_approval_trail() -> None:
    seed()
    approver = User.objects.get(username=DEMO_USERNAME)

    for post in Post.objects.filter(published_at__isnull=False):
        events = list(post.events.all())
        actions = [event.action for event in events]
        assert actions[0] == PostEvent.Action.DRAFTED
        assert events[0].actor == post.author
        assert post.author.username != DEMO_USERNAME
        assert not post.author.has_usable_password()
        if post.kind == Post.Kind.URGENT:
            assert actions == [
                "drafted",
                "urgent_sent",
                "sending_started",
                "finished",
                "reviewed_after",
            ]
        else:
            assert actions == ["drafted", "submitted", "approved", "sending_started", "finished"]
        approval = next(e for e in events if e.action in ("approved", "urgent_sent"))
        assert approval.actor == approver == post.approved_by
        assert approval.created_at <= post.published_at
        assert [event.created_at for event in events] == sorted(e.created_at for e in events)
    sent_back = Post.objects.get(state=Post.State.CHANGES_REQUESTED)
    assert sent_back.events.last().comment == sent_back.review_comment != ""


def test_demo_archive_and_feed(client: Client) -> None:
    seed()

    feed = feedparser.parse(client.get("/meldungen/feed/").content)
    assert not feed.bozo
    assert len(feed.entries) == 14
    assert feed.entries[0].title == "Hauptstraße: Fahrbahn wird ausgebessert"
    assert feed.entries[-1].title == "Stadtlauf am Sonntag: Sperrungen in der Innenstadt"
    urgent = client.get(f"/p/{demo_public_id('trinkwasser')}/")
    assert urgent.status_code == 200
    assert "Trinkwasser in der Nordstadt abkochen" in urgent.content.decode()
    assert client.get(f"/p/{demo_public_id('buslinie')}/").status_code == 404
    assert "Sperrmüll" in client.get("/meldungen/?q=sperrm%C3%BCll").content.decode()
