"""Acceptance of issue 10 (reactions, per-post report) end to end: real simulator phones,
web server and worker; the report's numbers against the simulator's own counts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from townhall.channel.models import Post, PostDelivery
from townhall.channel.report import post_report
from townhall.channel.tests.factories import approved_template, citizens, topics
from townhall.channel.tests.test_end_to_end import flush, phone_thread
from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import ConsentRecord, Offering
from townhall.inbox.actions import do_set_state
from townhall.inbox.models import Conversation
from townhall.inbox.tests.factories import make_staff, open_around_the_clock
from townhall.simulator.testing import local_http
from townhall.whatsapp.models import Message

pytestmark = pytest.mark.e2e


def publish(template) -> Post:
    from townhall.channel.actions import do_publish_post

    return do_publish_post(
        kind=Post.Kind.URGENT,
        topics=topics("verkehr"),
        versions={"de": ("Sperrung Brücke", "Die Brücke ist bis Freitag gesperrt.")},
        template=template,
    )


def sim(stack, path: str, body: dict) -> dict:
    response = local_http.post(f"{stack.simulator_url}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def inbox_snapshot() -> list[tuple]:
    """What the inbox list shows: order, state, unread count, last activity and preview."""
    return list(
        Conversation.objects.order_by("-last_message_at", "-id").values_list(
            "citizen__wa_id", "state", "unread_count", "last_message_at", "last_message_preview"
        )
    )


def test_phone_reactions_count_per_post_and_leave_the_inbox_untouched(daytime, live_stack, wait):
    # given: six info subscribers; two of them also chat with the office (one conversation
    # open and unread, one resolved)
    open_around_the_clock()
    template = approved_template()
    people = citizens(6, topic_slugs=["verkehr"])
    chatting = people[3:5]
    for citizen in chatting:
        do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WEB_FORM)
        sim(live_stack, f"/_sim/citizens/{citizen.wa_id}/send", {"type": "text", "text": "Hallo"})
    wait(lambda: Conversation.objects.count() == 2, timeout=30, what="two conversations")
    flush(live_stack)
    resolved = Conversation.objects.get(citizen=chatting[0])
    do_set_state(resolved, Conversation.State.RESOLVED, acting_user=make_staff())
    wait(
        lambda: (
            Message.objects.filter(direction="out", status="read").count()
            == Message.objects.filter(direction="out").count()
        ),
        timeout=30,
        what="auto-replies settled",
    )
    before = inbox_snapshot()

    # when: the post reaches everyone and the phones react, change and remove reactions
    post = publish(template)
    wait(lambda: post_report(post).progress.read == 6, timeout=60, what="post read by all six")
    wamid = {
        d.citizen.wa_id: d.message.provider_id
        for d in PostDelivery.objects.filter(post=post).select_related("citizen", "message")
    }
    actions = [
        (people[0], "👍"),
        (people[1], "👍"),
        (people[1], "❤️"),  # changed
        (people[2], "😮"),
        (people[2], ""),  # removed
        (chatting[0], "👍"),
        (chatting[1], "🙏"),
    ]
    for citizen, emoji in actions:
        sim(
            live_stack,
            f"/_sim/citizens/{citizen.wa_id}/send",
            {"type": "reaction", "message_id": wamid[citizen.wa_id], "emoji": emoji},
        )
    flush(live_stack)
    wait(
        lambda: (
            Message.objects.filter(type="reaction", handled_at__isnull=False).count()
            == len(actions)
        ),
        timeout=30,
        what="all reactions handled",
    )

    # then: the counts per emoji are the phones' current reactions
    report = post_report(post)
    assert report.reactions == [("👍", 2), ("❤️", 1), ("🙏", 1)]
    on_phones = {}
    for citizen in people:
        (message,) = [
            m for m in phone_thread(live_stack, citizen.wa_id) if m["id"] == wamid[citizen.wa_id]
        ]
        on_phones[citizen.wa_id] = message["reactions"]["citizen"]
    assert sorted(emoji for emoji in on_phones.values() if emoji) == ["❤️", "👍", "👍", "🙏"]

    # and: no conversation was opened, reopened, moved or counted unread
    assert inbox_snapshot() == before
    assert Conversation.objects.count() == 2
    assert Conversation.objects.get(pk=resolved.pk).state == Conversation.State.RESOLVED

    # and: in the inbox the reaction sits on the post's bubble, not as a bubble of its own
    client = Client()
    client.force_login(make_staff("leitung"))
    open_conversation = Conversation.objects.get(citizen=chatting[1])
    html = client.get(reverse("inbox:conversation", args=[open_conversation.pk])).content.decode()
    post_message = Message.objects.get(provider_id=wamid[chatting[1].wa_id])
    bubble = html.split(f'id="message-{post_message.pk}"')[1].split("</article>")[0]
    assert 'data-emoji="🙏"' in bubble
    assert "bubble--reaction" not in html


def test_report_of_a_broadcast_matches_the_simulators_counts(daytime, live_stack, wait):
    # given: 20 subscribers; 3 phones unreachable (Meta answers 131026), 3 switched off
    # (the message waits on Meta's side: sent, never delivered), 14 read it
    template = approved_template()
    people = citizens(20, topic_slugs=["verkehr"])
    for citizen in people[:3]:
        sim(live_stack, "/_sim/citizens", {"wa_id": citizen.wa_id, "reachable": False})
    for citizen in people[3:6]:
        sim(live_stack, "/_sim/citizens", {"wa_id": citizen.wa_id, "online": False})

    # when
    post = publish(template)

    def settled() -> bool:
        progress = post_report(post).progress
        return progress.read + progress.failed == 17 and progress.sent == 3

    wait(settled, timeout=60, what="14 read, 3 failed, 3 waiting at Meta")
    flush(live_stack)

    # then: the simulator's own view, phone by phone and in its counters
    statuses = {}
    for citizen in people:
        (message,) = [m for m in phone_thread(live_stack, citizen.wa_id) if m["direction"] == "out"]
        statuses[citizen.wa_id] = message["status"]
    simulated = {
        "delivered": sum(s in ("delivered", "read") for s in statuses.values()),
        "read": sum(s == "read" for s in statuses.values()),
        "failed": sum(s == "failed" for s in statuses.values()),
    }
    counters = local_http.get(f"{live_stack.simulator_url}/_sim/stats", timeout=10).json()[
        "statuses"
    ]
    assert simulated == {"delivered": 14, "read": 14, "failed": 3}
    assert (counters["delivered"], counters["read"], counters["failed"]) == (14, 14, 3)

    report = post_report(post)
    progress = report.progress
    assert (progress.reached, progress.read, progress.failed) == (
        simulated["delivered"],
        simulated["read"],
        simulated["failed"],
    )
    assert (progress.audience, progress.handed_over, progress.sent, progress.waiting) == (
        20,
        20,
        3,
        0,
    )
    assert sum(progress.failed_by_reason.values()) == 3
    assert report.timeline.delivered[-1] == 14 and report.timeline.read[-1] == 14
    assert report.read_rate == 70.0

    # and: the staff page shows the same numbers, with Meta's error title
    client = Client()
    leader = make_staff("leitung")
    # Inbox and channel: the mayor's role.
    leader.groups.set([Group.objects.get(name="Bürgermeister/in")])
    client.force_login(leader)
    response = client.get(reverse("channel:report", args=[post.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for stat, value in {
        "audience": 20,
        "delivered": 14,
        "read": 14,
        "failed": 3,
        "sent": 20,
    }.items():
        assert f'data-stat="{stat}"' in html
        block = html.split(f'data-stat="{stat}"')[1].split("</li>")[0]
        assert f"<strong>{value}</strong>" in block, stat
    (reason,) = progress.failed_by_reason
    assert f'data-reason="{reason}">3<' in html
    assert 'id="post-timeline"' in html
