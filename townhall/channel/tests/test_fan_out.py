"""The fan-out: the right citizens, each once, in their language, free text or template by
the rule; restartable; constant queries per chunk; pause, resume, cancel, validity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from townhall.channel.actions import (
    _fan_out_chunk,
    do_cancel,
    do_fan_out_post,
    do_finish_handed_over_posts,
    do_pause,
    do_resume,
)
from townhall.channel.models import Post, PostDelivery
from townhall.channel.progress import post_progress
from townhall.channel.sending_rule import public_url
from townhall.channel.tests.factories import (
    approved_template,
    approver,
    citizens,
    sending_post,
)
from townhall.citizens.models import Subscription
from townhall.whatsapp.actions import do_dispatch_batch
from townhall.whatsapp.models import Message

pytestmark = pytest.mark.django_db


def test_each_citizen_gets_the_post_once_by_the_rule(fake_cloud_api, settings):
    settings.PUBLIC_BASE_URL = "https://townhall.musterstadt.de"
    template = approved_template()
    approved_template(language="en")
    open_de = citizens(3, topic_slugs=["verkehr"], window_open=True)
    closed_de = citizens(4, topic_slugs=["verkehr", "stadt"])
    open_en = citizens(2, topic_slugs=["verkehr"], language="en", window_open=True)
    closed_en = citizens(1, topic_slugs=["verkehr"], language="en")
    citizens(5, topic_slugs=["verkehr"], consent=False)
    citizens(2, topic_slugs=["stadt"], window_open=True)
    citizens(1, topic_slugs=["verkehr"], erased=True)
    post = sending_post(template=template, english=True)

    assert do_fan_out_post(post.pk) is False

    deliveries = {
        d.citizen_id: (d.language, d.as_template, d.message.type, d.message.priority)
        for d in PostDelivery.objects.filter(post=post).select_related("message")
    }
    urgent = Message.Priority.URGENT
    expected = {
        **{c.pk: ("de", False, "text", urgent) for c in open_de},
        **{c.pk: ("de", True, "template", urgent) for c in closed_de},
        **{c.pk: ("en", False, "text", urgent) for c in open_en},
        **{c.pk: ("en", True, "template", urgent) for c in closed_en},
    }
    assert deliveries == expected
    text = Message.objects.get(post_delivery__citizen=open_de[0])
    assert text.payload["text"]["body"] == (
        "*Sperrung Hauptstraße*\n\nDie Hauptstraße ist *gesperrt*.\n"
        f"Umleitung über die Ringstraße.\n\n{public_url(post)}"
    )
    assert public_url(post) == f"https://townhall.musterstadt.de/p/{post.public_id}/"
    english_template = Message.objects.get(post_delivery__citizen=closed_en[0])
    assert english_template.payload["template"] == {
        "name": "info_kanal_meldung",
        "language": {"code": "en"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Main street closed"},
                    {"type": "text", "text": "Main street is *closed*."},
                ],
            }
        ],
    }
    german_template = Message.objects.get(post_delivery__citizen=closed_de[0])
    # one line: Meta refuses newlines in parameters
    assert german_template.payload["template"]["components"][0]["parameters"][1]["text"] == (
        "Die Hauptstraße ist *gesperrt*. Umleitung über die Ringstraße."
    )
    assert german_template.topic == "verkehr"
    assert post_progress(post).audience == 10
    post.refresh_from_db()
    assert post.fan_out_finished_at is not None


def test_without_approved_template_closed_windows_are_skipped_and_counted(fake_cloud_api):
    citizens(2, topic_slugs=["verkehr"], window_open=True)
    citizens(3, topic_slugs=["verkehr"])
    post = sending_post(template=None)

    do_fan_out_post(post.pk)

    post.refresh_from_db()
    progress = post_progress(post)
    assert (progress.audience, progress.free_text, progress.skipped_without_template) == (2, 2, 3)


def test_an_interrupted_fan_out_run_again_queues_nobody_twice(fake_cloud_api):
    template = approved_template()
    audience = citizens(25, topic_slugs=["verkehr"]) + citizens(
        10, topic_slugs=["verkehr"], window_open=True
    )
    post = sending_post(template=template)
    # the first chunk is committed, then the worker dies
    assert _fan_out_chunk(post.pk, size=10) is True
    assert PostDelivery.objects.filter(post=post).count() == 10

    # the restarted fan-out even lost its place (cursor back at the start)
    Post.objects.filter(pk=post.pk).update(fan_out_cursor=0)
    assert do_fan_out_post(post.pk) is False
    # and a second run finds nothing left
    Post.objects.filter(pk=post.pk).update(fan_out_cursor=0, fan_out_finished_at=None)
    do_fan_out_post(post.pk)

    wa_ids = list(Message.objects.values_list("wa_id", flat=True))
    assert sorted(wa_ids) == sorted(c.wa_id for c in audience)
    assert PostDelivery.objects.filter(post=post).count() == 35


def test_fan_out_costs_the_same_queries_for_fifty_or_five_hundred_citizens(fake_cloud_api):
    template = approved_template()
    # both chunks hold citizens of both topics, both languages, both windows
    for count in (25, 300):
        citizens(count, topic_slugs=["verkehr"])
        citizens(count, topic_slugs=["stadt"], window_open=True, language="en")
    post = sending_post(topic_slugs=("verkehr", "stadt"), template=template, english=True)

    with CaptureQueriesContext(connection) as fifty:
        _fan_out_chunk(post.pk, size=50)
    with CaptureQueriesContext(connection) as five_hundred:
        _fan_out_chunk(post.pk, size=500)

    assert PostDelivery.objects.filter(post=post).count() == 550
    # lock, versions, poll, topics, templates, audience, consent (3 per topic), cursor update and
    # savepoints: the same for any chunk; the two bulk inserts are one statement each on
    # PostgreSQL (SQLite splits them at its 999 parameters per statement)
    # the first full chunk also refreshes PostgreSQL's statistics for the dispatchers
    refreshed = ["ANALYZE"] if connection.vendor == "postgresql" else []
    first = not_inserts(fifty)
    assert [verb for verb in first if verb == "ANALYZE"] == refreshed
    first = [verb for verb in first if verb != "ANALYZE"]
    assert first == not_inserts(five_hundred)
    assert len(not_inserts(five_hundred)) <= 18
    if connection.vendor == "postgresql":
        assert len(fifty) - 1 == len(five_hundred) <= 20


def not_inserts(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"].split()[0]
        for query in queries.captured_queries
        if not query["sql"].startswith("INSERT")
    ]


def test_pause_holds_what_is_not_handed_over_and_resume_sends_the_rest(fake_cloud_api, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_RATE_PER_SECOND": 1000}
    template = approved_template()
    citizens(40, topic_slugs=["verkehr"])
    post = sending_post(template=template)
    do_fan_out_post(post.pk)
    do_dispatch_batch(limit=15)
    operator = approver()

    do_pause(post, actor=operator)
    do_dispatch_batch(limit=100)

    progress = post_progress(post)
    assert (progress.sent, progress.held, progress.queued) == (15, 25, 0)
    assert len(fake_cloud_api.requests) == 15
    assert do_finish_handed_over_posts() == 0

    do_resume(post, actor=operator)
    do_dispatch_batch(limit=100)
    do_finish_handed_over_posts()

    post.refresh_from_db()
    assert post_progress(post).sent == 40
    assert len(fake_cloud_api.requests) == 40
    assert post.state == Post.State.SENT
    assert [e.action for e in post.events.all()][-3:] == ["paused", "resumed", "finished"]


def test_cancel_mid_broadcast_sends_nothing_more(fake_cloud_api, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_RATE_PER_SECOND": 1000}
    template = approved_template()
    citizens(30, topic_slugs=["verkehr"])
    post = sending_post(template=template)
    do_fan_out_post(post.pk)
    do_dispatch_batch(limit=10)

    do_cancel(post, actor=approver())
    do_dispatch_batch(limit=100)

    progress = post_progress(post)
    assert (progress.sent, progress.cancelled, progress.queued) == (10, 20, 0)
    assert len(fake_cloud_api.requests) == 10
    assert Message.objects.filter(error_title="Not sent: the post was cancelled").count() == 20
    post.refresh_from_db()
    assert post.state == Post.State.CANCELLED and post.finished_at is not None


def test_messages_not_handed_over_within_the_validity_are_not_sent(
    fake_cloud_api, settings, time_machine
):
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_RATE_PER_SECOND": 1000}
    template = approved_template()
    citizens(12, topic_slugs=["verkehr"])
    post = sending_post(template=template, valid_for_seconds=600)
    do_fan_out_post(post.pk)
    do_dispatch_batch(limit=5)
    do_pause(post, actor=approver())

    # the broadcast was paused longer than the alert is worth
    time_machine.move_to(post.sending_started_at + timedelta(seconds=601), tick=False)
    do_resume(post, actor=approver("zweite"))
    do_dispatch_batch(limit=100)
    do_finish_handed_over_posts()

    progress = post_progress(post)
    assert (progress.sent, progress.expired, progress.cancelled) == (5, 7, 0)
    assert len(fake_cloud_api.requests) == 5
    post.refresh_from_db()
    assert post.state == Post.State.SENT


def test_a_citizen_who_withdraws_after_queueing_is_not_sent_to(fake_cloud_api):
    template = approved_template()
    leaving, *_ = citizens(3, topic_slugs=["verkehr"])
    post = sending_post(template=template)
    do_fan_out_post(post.pk)
    Subscription.objects.filter(citizen=leaving).update(state=Subscription.State.ENDED)

    do_dispatch_batch(limit=10)

    progress = post_progress(post)
    assert (progress.sent, progress.cancelled) == (2, 1)


def test_failed_messages_are_counted_by_reason(fake_cloud_api):
    template = approved_template()
    citizens(3, topic_slugs=["verkehr"])
    post = sending_post(template=template)
    do_fan_out_post(post.pk)
    fake_cloud_api.fail_next(132001, message="Template name does not exist in the translation")

    do_dispatch_batch(limit=10)

    progress = post_progress(post)
    assert progress.failed == 1
    assert progress.sent == 2
    (reason,) = progress.failed_by_reason
    assert "Template name does not exist" in reason
