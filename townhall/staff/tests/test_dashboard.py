"""The dashboard shows the seeded numbers exactly, in a fixed number of queries, to whom
may see statistics; ``/`` opens it (or the first page the user may open)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from townhall.channel.models import PostDelivery
from townhall.channel.tests.archive_factories import make_post
from townhall.channel.tests.factories import staff
from townhall.citizens.actions import (
    do_set_topics,
    do_subscribe_directly,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import ConsentRecord, Offering
from townhall.inbox.models import Conversation, ConversationEvent
from townhall.whatsapp.tests.factories import make_citizen, make_inbound, make_outbound

BERLIN = ZoneInfo("Europe/Berlin")
# A Wednesday noon; the week started on Monday 23 November.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
STATISTICS = "citysettings.view_statistics"
BUTTON = ConsentRecord.Channel.WHATSAPP_BUTTON


def seed(time_machine, posts: int = 1) -> None:
    """Three citizens: Chat since two weeks, Info + topic since Monday, one who left again."""
    time_machine.move_to(NOW - timedelta(days=14), tick=False)
    chat = make_citizen("4915100000001", "Chat", NOW - timedelta(days=14))
    do_subscribe_directly(chat, [Offering.CHAT], channel=BUTTON)

    time_machine.move_to(NOW - timedelta(days=2), tick=False)  # Monday
    info = make_citizen("4915100000002", "Info", NOW - timedelta(days=2))
    do_subscribe_directly(info, [Offering.INFO], channel=BUTTON)
    do_set_topics(info, ["verkehr"], channel=BUTTON)
    leaver = make_citizen("4915100000003", "Weg", NOW - timedelta(days=2))
    do_subscribe_directly(leaver, [Offering.INFO], channel=BUTTON)

    time_machine.move_to(NOW - timedelta(hours=2), tick=False)
    do_withdraw_subscriptions(leaver, channel=BUTTON)

    time_machine.move_to(NOW, tick=False)
    make_inbound(chat, "Frage 1", at=NOW - timedelta(hours=1))
    make_inbound(chat, "Frage 2", at=NOW - timedelta(minutes=30))
    make_outbound(chat, "Antwort", at=NOW - timedelta(minutes=20))
    make_outbound(chat, "wartet", at=NOW - timedelta(minutes=10), statuses=())  # not sent

    for number in range(posts):
        post = make_post(f"Meldung {number}", published_at=NOW - timedelta(days=1, hours=number))
        for index, statuses in enumerate(
            [("sent", "delivered", "read"), ("sent", "delivered"), ("sent",), ("failed",)]
        ):
            recipient = make_citizen(f"4916012{number:03d}{index:02d}", "Empfänger")
            message = make_outbound(
                recipient, "Meldung", at=NOW - timedelta(days=1), statuses=statuses
            )
            PostDelivery.objects.create(
                post=post, citizen=recipient, message=message, language="de"
            )

    conversation = Conversation.objects.create(
        citizen=chat, state=Conversation.State.OPEN, opened_at=NOW - timedelta(hours=1)
    )
    ConversationEvent.objects.create(
        conversation=conversation,
        kind=ConversationEvent.Kind.FIRST_RESPONSE,
        office_seconds=300,
        created_at=NOW - timedelta(minutes=20),
    )


@pytest.mark.django_db
def test_the_dashboard_shows_the_seeded_numbers(client, time_machine):
    seed(time_machine)
    client.force_login(staff("auswertung", STATISTICS))

    response = client.get(reverse("staff:dashboard"))

    assert response.status_code == 200
    context = response.context
    # (offering, now, change in 30 days): chat since two weeks, info since Monday
    assert [(count, change) for _label, count, change in context["subscribers_now"]] == [
        (1, 1),
        (1, 1),
    ]
    assert (
        dict((name, count) for name, count, _change in context["topics_now"])[
            "Verkehr & Baustellen"
        ]
        == 1
    )
    # newest week first: this week two joins and one leave, two weeks ago the chat
    assert [(week.joins, week.leaves) for week in context["weeks"][:4]] == [
        (2, 1),
        (0, 0),
        (1, 0),
        (0, 0),
    ]
    assert context["weeks"][0].monday.isoformat() == "2026-11-23"
    assert [(total, today) for _label, total, today in context["traffic_totals"]] == [
        (2, 2),
        (5, 1),
    ]
    [(post, delivery_rate, read_rate)] = context["posts_rates"]
    assert (post.audience, post.delivered, post.read) == (4, 2, 1)
    assert (delivery_rate, read_rate) == ("50 %", "25 %")
    assert context["inbox"].backlog_total == 1
    assert context["first_response_median"] == "5 Min."

    page = response.content.decode()
    assert 'data-testid="open-conversations">1<' in page
    assert "2 (50 %)" in page and "1 (25 %)" in page
    for chart_id in (
        "subscribers-over-time",
        "topics-over-time",
        "joins-and-leaves",
        "messages-per-day",
        "read-rates",
        "open-conversations",
    ):
        assert f'id="{chart_id}' in page
    assert "<script" not in page.split("</head>")[1]


@pytest.mark.django_db
def test_the_dashboard_costs_the_same_queries_for_one_or_five_posts(client, time_machine):
    seed(time_machine, posts=1)
    client.force_login(staff("auswertung", STATISTICS))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("staff:dashboard"))
    seed_more = 4
    for number in range(seed_more):
        make_post(f"Weitere {number}", published_at=NOW - timedelta(hours=number + 3))
    with CaptureQueriesContext(connection) as five:
        client.get(reverse("staff:dashboard"))
    assert len(one.captured_queries) == len(five.captured_queries)


@pytest.mark.django_db
def test_the_dashboard_needs_the_statistics_permission_and_home_opens_the_first_allowed_page(
    client,
):
    client.force_login(staff("buero"))
    assert client.get(reverse("staff:dashboard")).status_code == 403
    assert client.get("/")["Location"] == reverse("inbox:list")

    client.force_login(staff("auswertung", STATISTICS))
    assert client.get("/")["Location"] == reverse("staff:dashboard")
