"""Huey tasks of the citizens app: thin wrappers around ``actions``."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from townhall.citizens import actions
from townhall.citizens.models import Citizen

logger = logging.getLogger(__name__)


# How often to look again while the goodbye message is still on its way (e.g. waiting out
# a pair rate limit).
ERASURE_RECHECK_SECONDS = 5


@db_task(retries=3, retry_delay=10)
def erase_citizen(citizen_id: int, channel: str) -> None:
    citizen = Citizen.objects.filter(pk=citizen_id).first()
    if citizen is None:
        return
    if actions.is_erasure_waiting_for_messages(citizen):
        erase_citizen.schedule((citizen_id, channel), delay=ERASURE_RECHECK_SECONDS)
        return
    actions.do_erase_citizen(citizen, channel=channel)


@db_periodic_task(crontab(minute="*"))
def erase_due_citizens() -> None:
    count = actions.do_erase_due_citizens()
    if count:
        logger.warning("citizens.erased_late count=%d", count)


@db_periodic_task(crontab(minute="27", hour="3"))
def purge_bot_sessions() -> None:
    deleted = actions.do_purge_bot_sessions()
    logger.info("citizens.purged_bot_sessions count=%d", deleted)


@db_periodic_task(crontab(minute="32", hour="3"))
def erase_former_citizens() -> None:
    erased = actions.do_erase_former_citizens()
    logger.info("citizens.erased_former count=%d", erased)
