"""Huey tasks of the inbox: thin wrappers around ``actions``."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from townhall.inbox import actions

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="37", hour="3"))
def apply_conversation_retention() -> None:
    emptied = actions.do_apply_conversation_retention()
    logger.info("inbox.conversation_retention emptied=%d", emptied)


@db_periodic_task(crontab(minute="52", hour="3"))
def apply_message_retention() -> None:
    emptied = actions.do_apply_message_retention()
    logger.info("inbox.message_retention emptied=%d", emptied)
