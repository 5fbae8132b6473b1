"""Huey tasks of the WhatsApp transport: thin wrappers that call ``actions``.

Arguments are ids only; each task is idempotent, so a re-delivered or re-queued task is harmless.
Hot paths are drained in batches by few long-running tasks (``process_webhook_events``,
``dispatch_messages``) that hand the thread back every couple of seconds; per-item tasks are
for per-item latency (an inbound message the bot answers).
"""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from townhall.whatsapp import actions, template_actions
from townhall.whatsapp.errors import CloudAPIError

logger = logging.getLogger(__name__)

# Inbound work goes before outbound sends: a citizen waits for the answer to a button tap.
PRIORITY_INBOUND = 20
PRIORITY_SEND = 10

# The loops below are the only thing that moves their work on until the sweeper runs (a
# minute later, and it counts rows as stale only after two). A database restart or failover
# kills them mid-batch; retried after a second on a fresh connection (djhuey's db_task closes
# a broken one), they carry on. Each is idempotent, so a retry never does work twice.
OUTAGE_RETRIES = 10
OUTAGE_RETRY_DELAY_SECONDS = 1


@db_task(priority=PRIORITY_INBOUND, retries=OUTAGE_RETRIES, retry_delay=OUTAGE_RETRY_DELAY_SECONDS)
def process_webhook_events(poked_at: float | None = None) -> None:
    if actions.do_process_webhook_events(poked_at=poked_at):
        process_webhook_events()


@db_task(retries=3, retry_delay=5, priority=PRIORITY_INBOUND)
def handle_inbound_message(message_id: int) -> None:
    actions.do_handle_inbound_message(message_id)


@db_task(priority=PRIORITY_INBOUND, retries=OUTAGE_RETRIES, retry_delay=OUTAGE_RETRY_DELAY_SECONDS)
def send_message(message_id: int) -> None:
    """A chat reply or bot answer: sent on its own, not after a running broadcast's batch."""
    delay = actions.do_send_queued_message(message_id)
    if delay is not None:
        # Held back (pair limit, retry after an error): the dispatchers send it when due.
        dispatch_messages.schedule(delay=delay)


@db_task(priority=PRIORITY_SEND, retries=OUTAGE_RETRIES, retry_delay=OUTAGE_RETRY_DELAY_SECONDS)
def dispatch_messages() -> None:
    if actions.do_dispatch():
        dispatch_messages()


@db_periodic_task(crontab(minute="*"))
def requeue_stale_work() -> None:
    counts = actions.do_requeue_stale_work()
    if any(counts.values()):
        logger.warning("whatsapp.requeued_stale_work %s", counts)


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_processed_webhook_events() -> None:
    deleted = actions.do_purge_processed_webhook_events()
    logger.info("whatsapp.purged_webhook_events count=%d", deleted)


@db_periodic_task(crontab(minute="*/15"))
def sync_message_templates() -> None:
    """Meta's webhook carries each review decision; the list catches any that was lost and
    templates written in WhatsApp Manager."""
    try:
        template_actions.do_sync_templates()
    except CloudAPIError as error:
        # Meta unreachable for a while is not a bug; the next run tries again.
        logger.warning("whatsapp.template_sync_failed class=%s", type(error).__name__)


@db_periodic_task(crontab(minute="19", hour="3"))
def purge_unprocessable_webhook_events() -> None:
    deleted = actions.do_purge_unprocessable_webhook_events()
    logger.info("whatsapp.purged_unprocessable_webhook_events count=%d", deleted)
