"""The numbers before sending: audience, free text vs template, the messaging limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from townhall.channel.actions import (
    PostActionRefused,
    do_approve,
    do_save_draft,
    do_send_urgent_now,
    do_start_due_posts,
    do_submit_for_approval,
)
from townhall.channel.audience import plan_audience
from townhall.channel.limits import plan_for, template_capacity_now, template_recipients_last_24h
from townhall.channel.models import Post, PostEvent
from townhall.channel.tests.factories import (
    approved_template,
    approver,
    citizens,
    editor,
    staff,
    topics,
)
from townhall.core import clock
from townhall.whatsapp.models import Message, MessageTemplate

pytestmark = pytest.mark.django_db


def seeded_case():
    citizens(10, topic_slugs=["verkehr"], window_open=True)
    citizens(5, topic_slugs=["veranstaltungen"], language="en")
    citizens(3, topic_slugs=["verkehr", "veranstaltungen"])
    citizens(2, topic_slugs=["verkehr"], language="en", window_open=True)
    citizens(4, topic_slugs=["verkehr"], consent=False)
    citizens(2, topic_slugs=["veranstaltungen"], erased=True)
    citizens(6, topic_slugs=["stadt"], window_open=True)


def test_plan_audience_exact_numbers_for_a_seeded_case():
    seeded_case()
    template = approved_template()

    plan = plan_audience(
        topics=topics("verkehr", "veranstaltungen"), template=template, languages=("de", "en")
    )

    assert plan.total == 20
    assert plan.free_text == 12
    assert plan.as_template == 8
    assert plan.without_template_possible == 0
    assert plan.by_language == {"de": 13, "en": 7}
    assert plan.excluded_no_consent == 6
    assert (plan.messaging_limit, plan.template_capacity) == (2000, 2000)
    assert (plan.template_now, plan.template_later) == (8, 0)


def test_plan_audience_without_template_and_without_english_version(django_assert_max_num_queries):
    seeded_case()
    pending = MessageTemplate.objects.create(name="neu", language="de", body="{{1}}")

    with django_assert_max_num_queries(4):
        plan = plan_audience(topics=topics("verkehr", "veranstaltungen"), template=pending)

    assert (plan.total, plan.free_text, plan.as_template) == (20, 12, 0)
    assert plan.without_template_possible == 8
    assert plan.by_language == {"de": 20}
    everyone = plan_audience(topics=[])
    assert everyone.total == 26


def templates_sent(
    count: int, *, minutes_ago: int, status: str = "delivered", provider: bool = True
):
    now = clock.now()
    Message.objects.bulk_create(
        [
            Message(
                direction="out",
                wa_id=f"4915900{minutes_ago:04d}{index:04d}",
                type="template",
                status=status,
                provider_id=f"wamid.{minutes_ago}-{index}-{status}" if provider else None,
                created_at=now - timedelta(minutes=minutes_ago),
            )
            for index in range(count)
        ]
    )


def test_messaging_limit_counts_unique_template_recipients_of_the_last_24_hours(settings):
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    templates_sent(20, minutes_ago=600)
    templates_sent(10, minutes_ago=30, status="queued", provider=False)
    templates_sent(5, minutes_ago=30, status="cancelled", provider=False)
    templates_sent(3, minutes_ago=20, status="failed", provider=False)
    templates_sent(7, minutes_ago=25 * 60)
    Message.objects.create(direction="out", wa_id="491590006000000", type="template", status="read")

    assert template_recipients_last_24h() == 30
    assert template_capacity_now() == 220
    plan = plan_for(300)
    assert (plan.limit, plan.capacity, plan.send_now, plan.send_later) == (250, 220, 220, 80)
    oldest = Message.objects.filter(wa_id__startswith="49159000600").earliest("created_at")
    assert plan.later_from == oldest.created_at + timedelta(hours=24)

    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "unlimited"}
    assert template_capacity_now() is None
    assert plan_for(10**6).send_later == 0


def test_a_post_larger_than_the_messaging_limit_is_refused_with_a_plan(settings, daytime):
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    templates_sent(30, minutes_ago=600)
    citizens(300, topic_slugs=["verkehr"])
    citizens(40, topic_slugs=["verkehr"], window_open=True)
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("verkehr"),
        versions={"de": ("Baustelle", "Ab Montag Baustelle am Ring.")},
        template=approved_template(),
    )
    do_submit_for_approval(post, actor=author)

    with pytest.raises(PostActionRefused) as refusal:
        do_approve(post, actor=approver())

    later = timezone.localtime(clock.now() - timedelta(minutes=600) + timedelta(hours=24))
    assert refusal.value.message == (
        "Das heutige Nachrichtenlimit ist erreicht: Dieser Beitrag braucht 300 "
        "Vorlagen-Nachrichten, jetzt sind 220 möglich. Senden Sie ihn jetzt an 220 und an die "
        f"übrigen 80 nach {later:%d.%m.%Y %H:%M}, oder beantragen Sie ein höheres "
        "Nachrichtenlimit."
    )
    post.refresh_from_db()
    assert post.state == Post.State.IN_REVIEW


def test_urgent_alerts_are_not_held_by_the_messaging_limit(settings, daytime, fake_cloud_api):
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    templates_sent(250, minutes_ago=60)
    citizens(5, topic_slugs=["dringend"])
    alert = do_save_draft(
        author=editor(),
        kind=Post.Kind.URGENT,
        topics=topics("dringend"),
        versions={"de": ("Hochwasser", "Bitte Keller räumen.")},
        template=approved_template(),
    )
    plan = plan_audience(topics=topics("dringend"), kind=Post.Kind.URGENT, template=alert.template)
    assert (plan.template_capacity, plan.template_now, plan.template_later) == (0, 5, 0)

    do_send_urgent_now(alert, actor=staff("lage", "channel.send_urgent"))

    assert alert.state == Post.State.SENDING


def test_a_scheduled_post_waits_while_the_limit_is_used_up(
    settings, daytime, django_capture_on_commit_callbacks, time_machine
):
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    citizens(100, topic_slugs=["stadt"])
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("stadt"),
        versions={"de": ("Ratssitzung", "Die Ratssitzung ist öffentlich.")},
        template=approved_template(),
        send_at=clock.now() + timedelta(hours=2),
    )
    do_submit_for_approval(post, actor=author)
    do_approve(post, actor=approver())
    # meanwhile other posts used the day's limit
    templates_sent(200, minutes_ago=0)

    time_machine.move_to(clock.now() + timedelta(hours=2, minutes=1), tick=False)
    assert do_start_due_posts() == 0
    assert do_start_due_posts() == 0

    post.refresh_from_db()
    assert post.state == Post.State.APPROVED
    assert (
        list(post.events.values_list("action", flat=True)).count(
            PostEvent.Action.HELD_MESSAGING_LIMIT
        )
        == 1
    )
    time_machine.move_to(clock.now() + timedelta(hours=22), tick=False)
    with django_capture_on_commit_callbacks(execute=False):
        assert do_start_due_posts() == 1


def dispatch_everything_due() -> None:
    from townhall.whatsapp.actions import do_dispatch_batch

    for _ in range(100):
        report = do_dispatch_batch(limit=200)
        if report.claimed == 0:
            return


def test_an_approver_can_accept_the_plan_the_rest_goes_after_the_window(
    settings, daytime, time_machine, fake_cloud_api
):
    from townhall.channel.actions import do_fan_out_post
    from townhall.channel.progress import post_progress

    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_RATE_PER_SECOND": 1000}
    templates_sent(30, minutes_ago=600)
    citizens(600, topic_slugs=["verkehr"])
    citizens(20, topic_slugs=["verkehr"], window_open=True)
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("verkehr"),
        versions={"de": ("Baustelle", "Ab Montag Baustelle am Ring.")},
        template=approved_template(),
    )
    do_submit_for_approval(post, actor=author)
    started = clock.now()

    do_approve(post, actor=approver(), send_rest_after_limit=True)
    assert do_start_due_posts() == 1
    do_fan_out_post(post.pk)

    progress = post_progress(post)
    assert (progress.audience, progress.as_template, progress.waiting_for_limit) == (620, 600, 380)
    due_at = sorted(
        set(
            Message.objects.filter(
                post_delivery__post=post, next_attempt_at__isnull=False
            ).values_list("next_attempt_at", flat=True)
        )
    )
    assert [(due - started) // timedelta(minutes=1) for due in due_at] == [24 * 60 + 1, 48 * 60 + 1]
    assert Message.objects.filter(next_attempt_at=due_at[0]).count() == 250

    dispatch_everything_due()
    assert len(fake_cloud_api.requests) == 240  # 20 free text, 220 templates

    time_machine.move_to(due_at[0] + timedelta(seconds=1), tick=False)
    dispatch_everything_due()
    assert len(fake_cloud_api.requests) == 490
    time_machine.move_to(due_at[1] + timedelta(seconds=1), tick=False)
    dispatch_everything_due()
    do_start_due_posts()

    post.refresh_from_db()
    assert len(fake_cloud_api.requests) == 620
    assert post.state == Post.State.SENT
