"""A broadcast through the real processes: simulator, web server and worker on loopback.

What the sending engine promises under load and failure, observed from outside: a crashed
worker loses nobody and duplicates nobody, and a chat reply does not wait behind the
broadcast. Sizes are small enough for CI; ``python -m bench broadcast`` runs the large ones.
"""

import time

import pytest

from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering, Subscription
from townhall.simulator.testing import local_http
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_queue_message, do_queue_messages, do_requeue_stale_work
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose

pytestmark = pytest.mark.e2e

BROADCAST = outbound.Template("info_kanal_meldung", "de", body_parameters=("Verkehr", "Sperrung"))
CHAT_CITIZEN = "4915112345699"


@pytest.fixture
def live_stack_env() -> dict[str, str]:
    return {
        # Under the simulator's 80/s (Meta's default tier), and slow enough that the
        # broadcast is still running when the test acts on it.
        "WHATSAPP_SEND_RATE_PER_SECOND": "70",
        # A worker killed mid-call leaves rows in "sending"; they count as unknown after
        # 3 x this timeout, and are sent again only if no status names them for 2 s more.
        "WHATSAPP_HTTP_TIMEOUT_SECONDS": "2",
        "WHATSAPP_SEND_RECONCILE_SECONDS": "2",
    }


def info_subscribers(count: int) -> list[str]:
    wa_ids = [f"49170{index:07d}" for index in range(count)]
    Citizen.objects.bulk_create([Citizen(wa_id=wa_id) for wa_id in wa_ids])
    Subscription.objects.bulk_create(
        Subscription(citizen_id=pk, offering=Offering.INFO, state=Subscription.State.ACTIVE)
        for pk in Citizen.objects.filter(wa_id__in=wa_ids).values_list("pk", flat=True)
    )
    return wa_ids


def simulator_sends(stack) -> dict:
    return local_http.get(f"{stack.simulator_url}/_sim/stats", timeout=10).json()["sends"]


def simulator_accepted(stack) -> int:
    return simulator_sends(stack)["accepted"]


def handed_over(wa_ids: list[str]) -> int:
    return Message.objects.filter(
        wa_id__in=wa_ids, direction="out", provider_id__isnull=False
    ).count()


def test_a_worker_killed_mid_broadcast_loses_and_duplicates_nobody(live_stack, wait):
    recipients = info_subscribers(1000)
    accepted_before = simulator_accepted(live_stack)

    batch = do_queue_messages(recipients, BROADCAST, purpose=Purpose.INFO)
    assert batch.queued == 1000

    # when: the worker dies with SIGKILL in the middle of the broadcast
    wait(lambda: handed_over(recipients) >= 200, timeout=60, what="the broadcast under way")
    live_stack.kill_worker()
    stranded = Message.objects.filter(wa_id__in=recipients, status="sending").count()
    left = Message.objects.filter(wa_id__in=recipients, status="queued").count()
    assert left > 0, "the broadcast ended before the worker was killed"

    # and: a new worker starts; the sweeper (periodic in production) runs every second here
    live_stack.start_worker()

    def all_handed_over() -> bool:
        do_requeue_stale_work()
        open_rows = Message.objects.filter(
            wa_id__in=recipients, status__in=["queued", "sending", "unconfirmed"]
        ).count()
        return open_rows == 0 and handed_over(recipients) == 1000

    wait(all_handed_over, timeout=240, interval=1.0, what="every recipient handed over")

    # then: every recipient has one row with Meta's id, and the simulator accepted exactly
    # as many sends as there are recipients: 1,000 sends over 1,000 distinct recipients that
    # each got at least one means nobody got two
    rows = Message.objects.filter(wa_id__in=recipients, direction="out")
    assert rows.count() == 1000
    assert rows.values("wa_id").distinct().count() == 1000
    local_http.post(f"{live_stack.simulator_url}/_sim/flush", json={"timeout": 30}, timeout=40)
    assert simulator_accepted(live_stack) - accepted_before == 1000, (
        f"{stranded} rows were mid-call when the worker died"
    )
    assert not rows.filter(status="failed").exists()
    # and: the shared rate limit, not the simulator, kept the pace (no 130429)
    assert "130429" not in simulator_sends(live_stack)["errors_by_code"]


def test_a_chat_reply_leaves_within_a_second_while_a_broadcast_runs(live_stack, wait):
    citizen = Citizen.objects.create(wa_id=CHAT_CITIZEN, profile_name="Jonas Weber")
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    # The citizen writes first, so the 24-hour window is open for a free-text reply.
    local_http.post(
        f"{live_stack.simulator_url}/_sim/citizens/{CHAT_CITIZEN}/send",
        json={"type": "text", "text": "Wann ist der Wertstoffhof offen?", "name": "Jonas Weber"},
        timeout=10,
    ).raise_for_status()
    wait(
        lambda: Message.objects.filter(
            wa_id=CHAT_CITIZEN, direction="in", handled_at__isnull=False
        ).exists(),
        what="the citizen's question handled",
    )
    wait(
        lambda: (
            not Message.objects.filter(
                wa_id=CHAT_CITIZEN, direction="out", status__in=["queued", "sending"]
            ).exists()
        ),
        what="automatic answers to the question sent",
    )
    recipients = info_subscribers(2000)
    do_queue_messages(recipients, BROADCAST, purpose=Purpose.INFO)
    wait(lambda: handed_over(recipients) >= 300, timeout=60, what="the broadcast under way")

    # when: the office answers while thousands of broadcast messages wait in the queue
    queued_at = time.monotonic()
    reply = do_queue_message(
        CHAT_CITIZEN, outbound.Text("Montag bis Samstag, 8 bis 16 Uhr."), purpose=Purpose.CHAT
    )

    def reply_handed_over() -> bool:
        reply.refresh_from_db()
        return reply.provider_id is not None

    wait(reply_handed_over, timeout=10, interval=0.02, what="the reply handed over")
    latency = time.monotonic() - queued_at

    # then: it left within a second, while the broadcast was still running
    assert latency < 1.0, f"the reply waited {latency:.2f} s behind the broadcast"
    assert Message.objects.filter(wa_id__in=recipients, status="queued").count() > 1000
    assert reply.status in {"accepted", "sent", "delivered", "read"}
