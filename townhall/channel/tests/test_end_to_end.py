"""End to end over the real simulator, web server and worker: a post to a seeded audience
of 1,000 citizens, and the publish_post command."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from townhall.channel.actions import do_approve, do_save_draft, do_submit_for_approval
from townhall.channel.models import Post, PostDelivery
from townhall.channel.progress import post_progress
from townhall.channel.tests.factories import approved_template, approver, citizens, editor, topics
from townhall.citizens.models import Citizen
from townhall.core import clock
from townhall.simulator.testing import local_http
from townhall.whatsapp.models import Message

pytestmark = pytest.mark.e2e

ENGLISH_TEMPLATE = {
    "name": "info_kanal_meldung",
    "language": "en",
    "category": "utility",
    "body": "{{1}}: {{2}}",
}


def phone_thread(stack, wa_id: str) -> list[dict]:
    response = local_http.get(f"{stack.simulator_url}/_sim/citizens/{wa_id}/messages", timeout=10)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return response.json()["messages"]


def flush(stack) -> None:
    local_http.post(f"{stack.simulator_url}/_sim/flush", json={"timeout": 30}, timeout=40)


def test_a_post_reaches_exactly_the_right_citizens_once_by_the_rule(daytime, live_stack, wait):
    # given: 1,000 citizens; the post goes to "verkehr" and "veranstaltungen"
    local_http.post(f"{live_stack.simulator_url}/_sim/templates", json=ENGLISH_TEMPLATE, timeout=10)
    template = approved_template()
    approved_template(language="en")
    closed_de = citizens(300, topic_slugs=["verkehr"]) + citizens(
        200, topic_slugs=["veranstaltungen", "verkehr"]
    )
    closed_de += citizens(100, topic_slugs=["veranstaltungen"])
    closed_en = citizens(200, topic_slugs=["verkehr"], language="en")
    open_de = citizens(30, topic_slugs=["veranstaltungen"])
    open_en = citizens(10, topic_slugs=["verkehr"], language="en")
    withdrawn = citizens(100, topic_slugs=["verkehr"], consent=False)
    other_topic = citizens(60, topic_slugs=["stadt"])
    Citizen.objects.update(last_inbound_at=None)
    # 40 of them wrote to the city a moment ago: their window is open
    for citizen in open_de + open_en:
        local_http.post(
            f"{live_stack.simulator_url}/_sim/citizens/{citizen.wa_id}/send",
            json={"type": "text", "text": "Danke für die Infos"},
            timeout=10,
        ).raise_for_status()
    since = clock.now() - timedelta(minutes=1)
    wait(
        lambda: Citizen.objects.filter(last_inbound_at__gte=since).count() == 40,
        timeout=60,
        what="the 40 inbound messages recorded",
    )
    everyone = closed_de + closed_en + open_de + open_en + withdrawn + other_topic
    assert len(everyone) == 1000

    # when: an editor drafts, the press office approves
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("verkehr", "veranstaltungen"),
        versions={
            "de": ("Sperrung Ringstraße", "Die Ringstraße ist am Samstag gesperrt."),
            "en": ("Ring road closed", "The ring road is closed on Saturday."),
        },
        template=template,
    )
    do_submit_for_approval(post, actor=author)
    do_approve(post, actor=approver())

    # then: the worker fans it out and sends it; statuses come back
    def finished():
        post.refresh_from_db()
        progress = post_progress(post)
        return post.state == Post.State.SENT and progress.read + progress.failed == 840

    wait(finished, timeout=240, interval=1, what="post sent and read by all 840")
    flush(live_stack)

    expected = {
        **{c.wa_id: ("de", "template") for c in closed_de},
        **{c.wa_id: ("en", "template") for c in closed_en},
        **{c.wa_id: ("de", "text") for c in open_de},
        **{c.wa_id: ("en", "text") for c in open_en},
    }
    deliveries = PostDelivery.objects.filter(post=post).select_related("citizen", "message")
    assert {d.citizen.wa_id: (d.language, d.message.type) for d in deliveries} == expected
    post_message_ids = {d.message.provider_id for d in deliveries}

    # and: on the phones, each recipient has the post exactly once, in their language and
    # the form the rule says; nobody else has it
    read_on_phones = 0
    for citizen in everyone:
        thread = phone_thread(live_stack, citizen.wa_id)
        from_post = [m for m in thread if m["id"] in post_message_ids]
        mentions = [m for m in thread if m["direction"] == "out" and "Ring" in (m["text"] or "")]
        if citizen.wa_id not in expected:
            assert (from_post, mentions) == ([], []), citizen.wa_id
            continue
        assert len(from_post) == 1 and len(mentions) == 1, citizen.wa_id
        (message,) = from_post
        language, kind = expected[citizen.wa_id]
        assert message["type"] == kind
        title = "Sperrung Ringstraße" if language == "de" else "Ring road closed"
        assert title in message["text"]
        if kind == "template":
            assert (message["template"]["name"], message["template"]["language"]) == (
                "info_kanal_meldung",
                language,
            )
        else:
            assert f"/p/{post.public_id}/" in message["text"]
        read_on_phones += message["status"] == "read"

    # and: the progress matches the simulator's count
    progress = post_progress(post)
    assert (progress.audience, progress.free_text, progress.as_template) == (840, 40, 800)
    assert progress.read == read_on_phones == 840
    assert (progress.failed, progress.cancelled, progress.waiting) == (0, 0, 0)
    assert (
        Message.objects.filter(post_delivery__post=post, priority=Message.Priority.BULK).count()
        == 840
    )


def test_publish_post_command_waits_and_prints_the_final_counts(daytime, live_stack):
    approved_template()
    citizens(6, topic_slugs=["verkehr"])
    citizens(3, topic_slugs=["stadt"])
    output = io.StringIO()

    call_command(
        "publish_post",
        "--topic=verkehr",
        "--title=Baustelle Marktplatz",
        "--text=Ab Montag ist der Marktplatz eine Baustelle.",
        "--title-en=Roadworks",
        "--text-en=Roadworks on the market square from Monday.",
        "--wait",
        "--timeout=90",
        stdout=output,
    )

    result = json.loads(output.getvalue())
    post = Post.objects.get()
    assert result["post"] == post.pk
    assert result["state"] == "sent"
    assert result["timed_out"] is False
    assert result["audience"] == 6 and result["as_template"] == 6
    assert result["delivered"] + result["read"] == 6
    assert (result["failed"], result["queued"], result["sending"]) == (0, 0, 0)
    assert post.versions.count() == 2
    assert [e.action for e in post.events.all()][:2] == ["drafted", "approved"]


def accepted_by_simulator(stack) -> int:
    """How many sends the simulator (Meta) accepted so far."""
    flush(stack)
    response = local_http.get(f"{stack.simulator_url}/_sim/stats", timeout=10)
    response.raise_for_status()
    return response.json()["sends"]["accepted"]


def test_pause_resume_and_cancel_mid_broadcast(daytime, live_stack, wait):
    template = approved_template()
    citizens(400, topic_slugs=["verkehr"])
    operator = approver()
    from townhall.channel.actions import do_cancel, do_pause, do_publish_post, do_resume

    def publish() -> Post:
        return do_publish_post(
            kind=Post.Kind.URGENT,
            topics=topics("verkehr"),
            versions={"de": ("Sperrung", "Die Brücke ist gesperrt.")},
            template=template,
        )

    # when: a broadcast to 400 (80 messages/s) is paused after the first 40 went out
    post = publish()
    wait(lambda: post_progress(post).handed_over >= 40, timeout=60, interval=0.05)
    do_pause(post, actor=operator)

    # then: what dispatchers had already claimed still goes (with retries of temporary
    # errors such as Meta's throughput limit), then nothing more
    def settled(post: Post) -> int | None:
        progress = post_progress(post)
        return progress.handed_over if progress.sending == progress.queued == 0 else None

    paused_at = wait(
        lambda: settled(post), timeout=30, what="in-flight sends of the paused post done"
    )
    assert 40 <= paused_at < 400
    import time

    time.sleep(3)
    progress = post_progress(post)
    assert (progress.handed_over, progress.held) == (paused_at, 400 - paused_at)
    assert accepted_by_simulator(live_stack) == paused_at

    # when: resumed, everyone gets it, each once
    do_resume(post, actor=operator)
    wait(lambda: post_progress(post).handed_over == 400, timeout=60, what="the rest sent")
    assert accepted_by_simulator(live_stack) == 400
    wait(lambda: Post.objects.get(pk=post.pk).state == Post.State.SENT, timeout=30, what="sent")

    # when: a second broadcast is cancelled midway
    second = publish()
    wait(lambda: post_progress(second).handed_over >= 40, timeout=60, interval=0.05)
    do_cancel(second, actor=operator)
    cancelled_at = wait(lambda: settled(second), timeout=30, what="in-flight sends done")
    time.sleep(3)
    progress = post_progress(second)
    assert progress.handed_over == cancelled_at < 400
    assert progress.cancelled == 400 - cancelled_at
    assert accepted_by_simulator(live_stack) == 400 + cancelled_at
