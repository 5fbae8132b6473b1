"""Quiet hours hold normal posts until the morning; urgent alerts go through. Wall-clock
times in Berlin, also on the nights the clocks change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from townhall.channel.actions import (
    do_approve,
    do_publish_post,
    do_save_draft,
    do_start_due_posts,
    do_submit_for_approval,
)
from townhall.channel.models import Post, PostEvent
from townhall.channel.schedule import quiet_hours_end
from townhall.channel.tests.factories import approved_template, approver, citizens, editor, topics

CET, CEST = timezone(timedelta(hours=1)), timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (datetime(2027, 6, 16, 20, 59, tzinfo=CEST), None),
        (datetime(2027, 6, 16, 21, 0, tzinfo=CEST), datetime(2027, 6, 17, 7, 0, tzinfo=CEST)),
        (datetime(2027, 6, 17, 0, 30, tzinfo=CEST), datetime(2027, 6, 17, 7, 0, tzinfo=CEST)),
        (datetime(2027, 6, 17, 7, 0, tzinfo=CEST), None),
        # spring forward: 02:00 CET becomes 03:00 CEST; the morning is at 07:00 CEST
        (datetime(2027, 3, 27, 22, 0, tzinfo=CET), datetime(2027, 3, 28, 5, 0, tzinfo=UTC)),
        (datetime(2027, 3, 28, 6, 59, tzinfo=CEST), datetime(2027, 3, 28, 5, 0, tzinfo=UTC)),
        (datetime(2027, 3, 28, 5, 0, tzinfo=UTC), None),
        # fall back: 03:00 CEST becomes 02:00 CET; the morning is at 07:00 CET
        (datetime(2027, 10, 30, 23, 0, tzinfo=CEST), datetime(2027, 10, 31, 6, 0, tzinfo=UTC)),
        (datetime(2027, 10, 31, 6, 59, tzinfo=CET), datetime(2027, 10, 31, 6, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_end_in_city_time(now, end, settings):
    settings.CHANNEL = {**settings.CHANNEL, "QUIET_HOURS": "21:00-07:00"}
    assert quiet_hours_end(now) == end


def test_no_quiet_hours_when_turned_off(settings):
    settings.CHANNEL = {**settings.CHANNEL, "QUIET_HOURS": ""}
    assert quiet_hours_end(datetime(2027, 6, 17, 0, 30, tzinfo=CEST)) is None


def approved_normal_post() -> Post:
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("veranstaltungen"),
        versions={"de": ("Flohmarkt", "Sonntag Flohmarkt am Rathaus.")},
        template=approved_template(),
    )
    do_submit_for_approval(post, actor=author)
    return post


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("evening", "just_before_morning"),
    [
        (datetime(2027, 6, 16, 22, 30, tzinfo=CEST), datetime(2027, 6, 17, 6, 59, tzinfo=CEST)),
        # the night the clocks go forward: one hour shorter, the morning still at 07:00
        (datetime(2027, 3, 27, 22, 30, tzinfo=CET), datetime(2027, 3, 28, 6, 59, tzinfo=CEST)),
    ],
)
def test_a_normal_post_waits_for_the_morning_and_an_urgent_one_goes_at_once(
    evening, just_before_morning, time_machine, django_capture_on_commit_callbacks, fake_cloud_api
):
    time_machine.move_to(evening, tick=False)
    citizens(3, topic_slugs=["veranstaltungen", "dringend"], window_open=True)
    post = approved_normal_post()

    with django_capture_on_commit_callbacks(execute=True):
        do_approve(post, actor=approver())
        alert = do_publish_post(
            kind=Post.Kind.URGENT,
            topics=topics("dringend"),
            versions={"de": ("Unwetter", "Bitte drinnen bleiben.")},
        )

    post.refresh_from_db()
    alert.refresh_from_db()
    assert post.state == Post.State.APPROVED
    assert post.events.filter(action=PostEvent.Action.HELD_QUIET_HOURS).count() == 1
    assert alert.state == Post.State.SENDING
    assert [body["text"]["body"].split("\n")[0] for body in fake_cloud_api.sent_bodies] == [
        "*Unwetter*"
    ] * 3

    time_machine.move_to(just_before_morning, tick=False)
    assert do_start_due_posts() == 0
    assert post.events.filter(action=PostEvent.Action.HELD_QUIET_HOURS).count() == 1

    time_machine.move_to(just_before_morning + timedelta(minutes=1), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert do_start_due_posts() == 1
    post.refresh_from_db()
    assert post.state == Post.State.SENDING
    assert len(fake_cloud_api.requests) == 6
