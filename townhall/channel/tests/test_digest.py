"""The citizen's bell on the channel side: normal posts skip citizens who want urgent alerts
only or the daily summary; the summary goes once a day at the configured city time, lists
the day's normal posts of each citizen's topics, follows the sending rule and is never sent
twice for a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from townhall.channel import digest
from townhall.channel.actions import (
    _digest_chunk,
    do_fan_out_post,
    do_publish_post,
    do_send_due_digest,
    do_start_due_posts,
)
from townhall.channel.audience import plan_audience
from townhall.channel.models import Digest, DigestDelivery, Post, PostDelivery
from townhall.channel.sending_rule import public_url
from townhall.channel.tests.factories import approved_template, citizens, topics
from townhall.citizens.actions import (
    do_record_inbound_contact,
    do_set_notification_mode,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import Citizen, ConsentRecord, NotificationMode
from townhall.core import clock
from townhall.whatsapp.models import Message, MessageTemplate

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
# A Wednesday in June (summer time); the summary goes at 18:00 city time by default.
WEDNESDAY = datetime(2027, 6, 16, 9, 0, tzinfo=BERLIN)
DIGEST_TEMPLATE_BODY = (
    "Ihre tägliche Zusammenfassung aus dem Info-Kanal der Stadt Musterstadt vom {{1}}:\n\n"
    "{{2}}\n\nDringende Meldungen erhalten Sie weiterhin sofort."
)


def choose(citizen: Citizen, mode: str) -> Citizen:
    do_set_notification_mode(citizen, mode, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)
    return citizen


def publish(title: str, *, kind: str = Post.Kind.NORMAL, topic_slugs=("verkehr",)) -> Post:
    """A post as the press office sends it: published and fanned out now."""
    post = do_publish_post(
        kind=kind,
        topics=topics(*topic_slugs),
        versions={"de": (title, f"{title}: Einzelheiten."), "en": (f"{title} (en)", "Details.")},
        template=post_template(),
    )
    do_start_due_posts()
    do_fan_out_post(post.pk)
    post.refresh_from_db()
    assert post.state == Post.State.SENDING
    return post


def post_template() -> MessageTemplate:
    return MessageTemplate.objects.filter(name="info_kanal_meldung").first() or approved_template()


def received_posts(citizen: Citizen) -> set[int]:
    return set(PostDelivery.objects.filter(citizen=citizen).values_list("post_id", flat=True))


def summaries(citizen: Citizen) -> list[Message]:
    return list(Message.objects.filter(digest_delivery__citizen=citizen).order_by("pk"))


def test_daily_summary_once_a_day_with_the_days_normal_posts_and_urgent_alerts_at_once(
    time_machine, fake_cloud_api
):
    # given: three citizens of "verkehr", one on each setting of the bell, windows open
    time_machine.move_to(WEDNESDAY, tick=False)
    everything, urgent_only, daily = citizens(3, topic_slugs=["verkehr"], window_open=True)
    choose(urgent_only, NotificationMode.URGENT_ONLY)
    choose(daily, NotificationMode.DIGEST)
    # and one on the summary who only follows "stadt"
    (daily_stadt,) = citizens(1, topic_slugs=["stadt"], window_open=True)
    choose(daily_stadt, NotificationMode.DIGEST)

    # when: two normal posts and an urgent alert go out during the day
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    closure = publish("Sperrung Hauptstraße")
    time_machine.move_to(WEDNESDAY.replace(hour=11), tick=False)
    alert = publish("Unwetterwarnung", kind=Post.Kind.URGENT)
    time_machine.move_to(WEDNESDAY.replace(hour=14), tick=False)
    market = publish("Wochenmarkt verlegt", topic_slugs=("verkehr", "stadt"))

    # then: normal posts reached only "every post"; the urgent alert reached all three at once
    assert received_posts(everything) == {closure.pk, alert.pk, market.pk}
    assert received_posts(urgent_only) == {alert.pk}
    assert received_posts(daily) == {alert.pk}
    assert received_posts(daily_stadt) == set()

    # and: just before 18:00 no summary has gone
    time_machine.move_to(WEDNESDAY.replace(hour=17, minute=59), tick=False)
    do_send_due_digest()
    assert summaries(daily) == []

    # when: 18:00 comes
    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=0, second=5), tick=False)
    assert do_send_due_digest() is False

    # then: one message each, listing their topics' normal posts of the day (no alert)
    (message,) = summaries(daily)
    body = message.payload["text"]["body"]
    assert body.startswith("*Ihre Zusammenfassung vom 16. Juni 2027*\n\n")
    assert (
        f"1. Sperrung Hauptstraße\n{public_url(closure)}\n"
        f"2. Wochenmarkt verlegt\n{public_url(market)}\n" in body
    )
    assert "Unwetterwarnung" not in body
    (stadt_message,) = summaries(daily_stadt)
    assert "Wochenmarkt verlegt" in stadt_message.payload["text"]["body"]
    assert "Sperrung Hauptstraße" not in stadt_message.payload["text"]["body"]
    assert summaries(everything) == summaries(urgent_only) == []
    assert message.purpose == "info" and message.priority == Message.Priority.BULK

    # when: the task runs again, and again after a worker lost its place mid-way
    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=1), tick=False)
    do_send_due_digest()
    Digest.objects.filter(day=WEDNESDAY.date()).update(cursor=0, finished_at=None)
    do_send_due_digest()

    # then: still one summary each for the day
    assert len(summaries(daily)) == len(summaries(daily_stadt)) == 1
    assert Digest.objects.filter(day=WEDNESDAY.date()).count() == 1

    # when: a day without posts passes
    thursday = WEDNESDAY + timedelta(days=1)
    time_machine.move_to(thursday.replace(hour=18, minute=0, second=30), tick=False)
    do_send_due_digest()

    # then: no message
    assert len(summaries(daily)) == 1

    # when: on Friday one post at 19:00 on Thursday evening (after the summary) and one in
    # the morning
    time_machine.move_to(thursday.replace(hour=19), tick=False)
    evening = publish("Konzert im Park")
    friday = WEDNESDAY + timedelta(days=2)
    time_machine.move_to(friday.replace(hour=8), tick=False)
    morning = publish("Neue Buslinie")
    # (the citizen wrote to the city in the afternoon: free text again)
    time_machine.move_to(friday.replace(hour=16), tick=False)
    do_record_inbound_contact(daily.wa_id, "", clock.now())
    time_machine.move_to(friday.replace(hour=18, minute=2), tick=False)
    do_send_due_digest()

    # then: Friday's summary has exactly the posts since Thursday's summary time
    first, second = summaries(daily)
    assert first == message
    friday_body = second.payload["text"]["body"]
    assert "Konzert im Park" in friday_body and "Neue Buslinie" in friday_body
    assert "Sperrung Hauptstraße" not in friday_body
    delivery = DigestDelivery.objects.get(message=second)
    assert delivery.post_ids == [evening.pk, morning.pk]


def test_urgent_only_citizens_get_no_normal_post_and_no_summary(time_machine, fake_cloud_api):
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    (quiet,) = citizens(1, topic_slugs=["verkehr"], window_open=True)
    choose(quiet, NotificationMode.URGENT_ONLY)

    publish("Sperrung Hauptstraße")
    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=5), tick=False)
    do_send_due_digest()

    assert received_posts(quiet) == set()
    assert summaries(quiet) == []
    assert Message.objects.filter(wa_id=quiet.wa_id).count() == 0


def test_the_summary_follows_the_sending_rule_template_language_and_unreachable(
    time_machine, fake_cloud_api
):
    # given: the summary template approved in German and English; windows closed
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    approved_template("tageszusammenfassung", body=DIGEST_TEMPLATE_BODY)
    approved_template("tageszusammenfassung", language="en", body="Summary {{1}}: {{2}}")
    (german,) = citizens(1, topic_slugs=["verkehr"])
    (english,) = citizens(1, topic_slugs=["verkehr"], language="en")
    (english_open,) = citizens(1, topic_slugs=["verkehr"], language="en", window_open=True)
    for citizen in (german, english, english_open):
        choose(citizen, NotificationMode.DIGEST)
    post = publish("Sperrung Hauptstraße")

    # when
    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=0), tick=False)
    do_send_due_digest()

    # then: German template, English template, English free text with the English title
    (to_german,) = summaries(german)
    assert to_german.payload["template"]["name"] == "tageszusammenfassung"
    assert to_german.payload["template"]["language"] == {"code": "de"}
    assert to_german.payload["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "16. Juni 2027"},
        {"type": "text", "text": f"1) Sperrung Hauptstraße: {public_url(post)}"},
    ]
    (to_english,) = summaries(english)
    assert to_english.payload["template"]["language"] == {"code": "en"}
    assert to_english.payload["template"]["components"][0]["parameters"][1] == {
        "type": "text",
        "text": f"1) Sperrung Hauptstraße (en): {public_url(post)}",
    }
    (free_text,) = summaries(english_open)
    assert free_text.payload["text"]["body"].startswith(
        "*Your daily summary of 16 June 2027*\n\n1. Sperrung Hauptstraße (en)\n"
    )


def test_without_an_approved_template_closed_windows_get_no_summary_and_are_counted(
    time_machine, fake_cloud_api
):
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    closed = citizens(2, topic_slugs=["verkehr"])
    (open_window,) = citizens(1, topic_slugs=["verkehr"], window_open=True)
    for citizen in [*closed, open_window]:
        choose(citizen, NotificationMode.DIGEST)
    publish("Sperrung Hauptstraße")

    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=0), tick=False)
    do_send_due_digest()

    summary = Digest.objects.get(day=WEDNESDAY.date())
    assert (summary.skipped_without_template, summary.post_count) == (2, 1)
    assert DigestDelivery.objects.filter(digest=summary).count() == 1
    assert summary.finished_at is not None


def test_closed_windows_beyond_the_messaging_limit_get_no_summary_and_are_counted(
    settings, time_machine, fake_cloud_api
):
    # given: the smallest tier, of which posts used all but one recipient today
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    approved_template("tageszusammenfassung", body=DIGEST_TEMPLATE_BODY)
    closed = citizens(3, topic_slugs=["verkehr"])
    (open_window,) = citizens(1, topic_slugs=["verkehr"], window_open=True)
    for citizen in [*closed, open_window]:
        choose(citizen, NotificationMode.DIGEST)
    publish("Sperrung Hauptstraße")
    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=0), tick=False)
    Message.objects.bulk_create(
        Message(
            direction="out",
            wa_id=f"49159000{index:05d}",
            type="template",
            status="delivered",
            provider_id=f"wamid.earlier-{index}",
            created_at=clock.now() - timedelta(hours=3),
        )
        for index in range(249)
    )

    # when
    do_send_due_digest()

    # then: one template fits, the open window gets free text, two are counted as skipped
    assert [len(summaries(citizen)) for citizen in closed] == [1, 0, 0]
    (free_text,) = summaries(open_window)
    assert free_text.type == "text"
    summary = Digest.objects.get(day=WEDNESDAY.date())
    assert (summary.skipped_messaging_limit, summary.skipped_without_template) == (2, 0)
    assert summary.finished_at is not None


def test_who_left_the_channel_gets_no_summary(time_machine, fake_cloud_api):
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    (leaving,) = citizens(1, topic_slugs=["verkehr"], window_open=True)
    choose(leaving, NotificationMode.DIGEST)
    publish("Sperrung Hauptstraße")
    do_withdraw_subscriptions(leaving, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)

    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=0), tick=False)
    do_send_due_digest()

    assert summaries(leaving) == []


def test_summary_chunks_continue_after_the_cursor(time_machine, fake_cloud_api):
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    daily = citizens(7, topic_slugs=["verkehr"], window_open=True)
    for citizen in daily:
        choose(citizen, NotificationMode.DIGEST)
    publish("Sperrung Hauptstraße")
    time_machine.move_to(WEDNESDAY.replace(hour=18, minute=0), tick=False)
    start, end = digest.period(WEDNESDAY.date())
    summary = Digest.objects.create(day=WEDNESDAY.date(), period_start=start, period_end=end)

    assert _digest_chunk(summary.pk, size=3) is True
    assert _digest_chunk(summary.pk, size=3) is True
    assert _digest_chunk(summary.pk, size=3) is False

    assert sorted(
        DigestDelivery.objects.filter(digest=summary).values_list("citizen_id", flat=True)
    ) == sorted(c.pk for c in daily)


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        # the night the clocks go forward, and the night they go back
        (date(2027, 3, 28), 16),
        (date(2027, 10, 31), 17),
    ],
)
def test_the_summary_time_is_city_wall_clock_time_on_dst_days(day, utc_hour):
    instant = digest.digest_instant(day)

    assert instant.astimezone(ZoneInfo("UTC")).hour == utc_hour
    assert instant.astimezone(BERLIN).hour == 18
    start, end = digest.period(day)
    assert end == instant and start == digest.digest_instant(day - timedelta(days=1))
    assert digest.due_day(instant - timedelta(seconds=1)) == day - timedelta(days=1)
    assert digest.due_day(instant) == day


def test_the_summary_time_is_configurable(settings, time_machine, fake_cloud_api):
    settings.CHANNEL = {**settings.CHANNEL, "DIGEST_TIME": "07:30"}
    time_machine.move_to(WEDNESDAY.replace(hour=6), tick=False)
    (daily,) = citizens(1, topic_slugs=["verkehr"], window_open=True)
    choose(daily, NotificationMode.DIGEST)
    settings.CHANNEL = {**settings.CHANNEL, "QUIET_HOURS": ""}
    publish("Sperrung Hauptstraße")

    time_machine.move_to(WEDNESDAY.replace(hour=7, minute=29), tick=False)
    do_send_due_digest()
    assert summaries(daily) == []
    time_machine.move_to(WEDNESDAY.replace(hour=7, minute=30), tick=False)
    do_send_due_digest()
    assert len(summaries(daily)) == 1


def test_composer_counts_leave_out_summary_and_urgent_only_citizens_of_normal_posts(
    time_machine,
):
    time_machine.move_to(WEDNESDAY.replace(hour=10), tick=False)
    everyone = citizens(5, topic_slugs=["verkehr"])
    for citizen in everyone[:2]:
        choose(citizen, NotificationMode.DIGEST)
    choose(everyone[2], NotificationMode.URGENT_ONLY)

    normal = plan_audience(topics=topics("verkehr"), kind=Post.Kind.NORMAL)
    urgent = plan_audience(topics=topics("verkehr"), kind=Post.Kind.URGENT)

    assert (normal.total, normal.in_daily_summary, normal.urgent_only) == (2, 2, 1)
    assert (urgent.total, urgent.in_daily_summary, urgent.urgent_only) == (5, 0, 0)
