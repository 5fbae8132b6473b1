"""End to end over the real simulator, web server and worker: the daily summary reaches the
phone of a citizen who chose it, from the worker's periodic task at 18:00 city time, while
the post itself went at once only to the citizen who wants every post."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from townhall.channel.actions import do_publish_post
from townhall.channel.models import Digest, DigestDelivery, Post, PostDelivery
from townhall.channel.tests.factories import approved_template, citizens, topics
from townhall.citizens.actions import do_set_notification_mode
from townhall.citizens.models import ConsentRecord, NotificationMode
from townhall.simulator.message_templates import load_templates
from townhall.simulator.testing import local_http

pytestmark = pytest.mark.e2e

# A minute before the summary time: the worker's periodic task runs when it starts and then
# every 60 seconds, so one run falls after 18:00 within the test.
BEFORE_SIX = datetime(2027, 6, 16, 17, 59, 0, tzinfo=ZoneInfo("Europe/Berlin"))
SIX = BEFORE_SIX.replace(hour=18, minute=0)


@pytest.fixture
def before_six(time_machine):
    time_machine.move_to(BEFORE_SIX, tick=True)
    return BEFORE_SIX


def phone_thread(stack, wa_id: str) -> list[dict]:
    response = local_http.get(f"{stack.simulator_url}/_sim/citizens/{wa_id}/messages", timeout=10)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return [m for m in response.json()["messages"] if m["direction"] == "out"]


def test_the_daily_summary_arrives_on_the_phone_at_six(before_six, live_stack, wait):
    # given: the simulator's seed templates, approved here as at Meta
    seeds = {(t.name, t.language): t for t in load_templates()}
    post_template = approved_template("info_kanal_meldung")
    approved_template("tageszusammenfassung", body=seeds["tageszusammenfassung", "de"].body)
    # and two subscribers of "verkehr" (windows closed): one wants every post, one the summary
    (everything,) = citizens(1, topic_slugs=["verkehr"])
    (daily,) = citizens(1, topic_slugs=["verkehr"])
    do_set_notification_mode(
        daily, NotificationMode.DIGEST, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD
    )

    # when: the press office publishes a normal post before six
    post = do_publish_post(
        kind=Post.Kind.NORMAL,
        topics=topics("verkehr"),
        versions={"de": ("Sperrung Hauptstraße", "Die Hauptstraße ist gesperrt.")},
        template=post_template,
    )

    # then: it reaches the citizen who wants every post at once, and nobody else
    wait(
        lambda: any(
            "Sperrung Hauptstraße" in (m["text"] or "")
            for m in phone_thread(live_stack, everything.wa_id)
        ),
        timeout=60,
        what="the post on the phone of the citizen who wants every post",
    )
    assert list(PostDelivery.objects.filter(post=post).values_list("citizen", flat=True)) == [
        everything.pk
    ]
    post.refresh_from_db()
    assert post.published_at < SIX, "the stack started too late for this day's summary"

    # and: after six the worker sends the summary to the other phone
    wait(
        lambda: phone_thread(live_stack, daily.wa_id),
        timeout=150,
        interval=1,
        what="the daily summary on the phone",
    )
    (summary,) = phone_thread(live_stack, daily.wa_id)
    assert summary["type"] == "template"
    assert summary["template"]["name"] == "tageszusammenfassung"
    assert "Ihre tägliche Zusammenfassung" in summary["text"]
    assert "16. Juni 2027" in summary["text"]
    assert "1) Sperrung Hauptstraße: " in summary["text"]
    assert f"/p/{post.public_id}/" in summary["text"]
    delivery = DigestDelivery.objects.get(citizen=daily)
    assert delivery.digest.day == BEFORE_SIX.date()
    assert delivery.post_ids == [post.pk]
    assert Digest.objects.get(day=BEFORE_SIX.date()).finished_at is not None
    # the citizen who wants every post got no summary
    assert not any(
        "Zusammenfassung" in (m["text"] or "") for m in phone_thread(live_stack, everything.wa_id)
    )
