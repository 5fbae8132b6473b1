"""Huey tasks of the info channel: thin wrappers around ``actions`` (ids only)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from townhall.channel import actions

# Between inbound work (20) and sending (10): the fan-out feeds the dispatchers.
PRIORITY_FAN_OUT = 15
# How often a sending post checks whether everything has been handed over.
FINISH_CHECK_SECONDS = 3


@db_periodic_task(crontab(minute="*"))
def start_due_posts_every_minute() -> None:
    actions.do_start_due_posts()


@db_task()
def start_due_posts() -> None:
    actions.do_start_due_posts()


@db_periodic_task(crontab(minute="*"))
def send_due_digest_every_minute() -> None:
    """The daily summary goes at CHANNEL["DIGEST_TIME"] city time: asking every minute
    (not a crontab hour, which Huey reads in UTC) keeps it right across DST changes."""
    if actions.do_send_due_digest():
        send_due_digest()


@db_task(priority=PRIORITY_FAN_OUT)
def send_due_digest() -> None:
    if actions.do_send_due_digest():
        send_due_digest()


@db_task(priority=PRIORITY_FAN_OUT)
def fan_out_post(post_id: int) -> None:
    if actions.do_fan_out_post(post_id):
        fan_out_post(post_id)


@db_task()
def finish_post_when_handed_over(post_id: int) -> None:
    from huey.contrib.djhuey import HUEY

    if actions.do_finish_post_if_handed_over(post_id) is False and not HUEY.immediate:
        finish_post_when_handed_over.schedule((post_id,), delay=FINISH_CHECK_SECONDS)
