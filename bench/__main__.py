"""Townhall's hot-path benchmarks, one entry point, one JSON object per run.

    .venv/bin/python -m bench broadcast --recipients 20000 --rate 1000 --json
    .venv/bin/python -m bench broadcast --recipients 5000 --rate 200 --json
    .venv/bin/python -m bench webhooks --seconds 10 --json

Each run prepares its own PostgreSQL database (``townhall_bench`` on 127.0.0.1:5432) and
Redis db 12, starts the real processes (simulator, granian web server, Huey worker) on
loopback, measures in the same run the simulator's capacity and a naive sequential send
loop as baselines, and prints the result. CPU is read from /proc per process group.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("BENCH_DATABASE", "townhall_bench")
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def prepare_environment() -> None:
    """A fresh database and Redis db, and Django configured for them (before any import)."""
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    data_dir = tempfile.mkdtemp(prefix="townhall-bench-")
    os.environ.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "TOWNHALL_DATA_DIR": data_dir,
            "TOWNHALL_SECRET_KEY": "bench-secret-key",
            "TOWNHALL_HUEY_NAME": "townhall-bench",
            "DJANGO_SETTINGS_MODULE": "townhall.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- process accounting -------------------------------------------------------------------------


def _stat(pid: str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces; fields after it are space separated.
    return [raw[: raw.index(" ")], raw[raw.rindex(")") + 2 :]]


def group_cpu_and_rss(pgid: int) -> tuple[float, float]:
    """CPU seconds and the largest peak RSS (MB) of the processes in a process group."""
    cpu, rss = 0.0, 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        stat = _stat(pid)
        if stat is None:
            continue
        fields = stat[1].split()
        if int(fields[2]) != pgid:
            continue
        cpu += _cpu_seconds_with_ended_children(fields)
        rss = max(rss, _peak_rss_mb(pid))
    return cpu, rss


def _peak_rss_mb(pid: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def postgres_cpu() -> float:
    """CPU seconds of all PostgreSQL server processes (the cluster serves only us here)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm not in ("postgres", "postmaster"):
            continue
        stat = _stat(pid)
        if stat is not None:
            total += _cpu_seconds_with_ended_children(stat[1].split())
    return total


def _cpu_seconds_with_ended_children(fields: list[str]) -> float:
    """A process's CPU (utime, stime) plus that of its children that ended and were reaped
    (cutime, cstime): a PostgreSQL backend or a server worker that ends during a run takes
    its CPU with it from the process list, and without its parent's share a later snapshot
    could count less than an earlier one."""
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


class CpuMeter:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.start: dict[str, float] = {}

    def groups(self) -> dict[str, int]:
        names = ("simulator", "web", "worker")
        return {
            name: process.pid for name, process in zip(names, self.stack.processes, strict=False)
        }

    def snapshot(self) -> dict[str, float]:
        values = {name: group_cpu_and_rss(pgid)[0] for name, pgid in self.groups().items()}
        values["postgres"] = postgres_cpu()
        return values

    def begin(self) -> None:
        self.start = self.snapshot()

    def used(self) -> dict[str, float]:
        now = self.snapshot()
        return {name: now[name] - self.start.get(name, 0.0) for name in now}

    def peak_rss(self) -> dict[str, float]:
        return {name: round(group_cpu_and_rss(pgid)[1], 1) for name, pgid in self.groups().items()}


# --- broadcast ----------------------------------------------------------------------------------


def create_subscribers(count: int, prefix: str = "49152") -> list[str]:
    """Citizens with an active info-channel subscription (bulk, like seed commands)."""
    from townhall.citizens.models import Citizen, Offering, Subscription

    wa_ids = [f"{prefix}{index:08d}" for index in range(count)]
    Citizen.objects.bulk_create(
        [Citizen(wa_id=wa_id, profile_name="") for wa_id in wa_ids], batch_size=5000
    )
    citizens = Citizen.objects.filter(wa_id__in=wa_ids).values_list("pk", flat=True)
    Subscription.objects.bulk_create(
        [
            Subscription(citizen_id=pk, offering=Offering.INFO, state=Subscription.State.ACTIVE)
            for pk in citizens.iterator()
        ],
        batch_size=5000,
    )
    # A city's subscriber tables have statistics (autovacuum keeps them); right after a
    # bulk load they have none, and the consent check then walked every subscription of
    # the offering per claim (5 ms instead of 1 ms for 25 recipients at 5,000 subscribers).
    from django.db import connection

    with connection.cursor() as cursor:
        for model in (Citizen, Subscription):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return wa_ids


def naive_loop(seconds: float) -> float:
    """The baseline: one synchronous ``send_raw`` after the other."""
    from townhall.whatsapp.client import CloudAPIClient
    from townhall.whatsapp.outbound import Template

    client = CloudAPIClient.from_settings()
    payload = Template("hello_world", "en_US").to_payload()
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        client.send_raw(f"49153{sent:08d}", payload)
        sent += 1
    return sent / (time.monotonic() - started)


def _waiting_to_be_sent() -> bool:
    from townhall.whatsapp.models import Message

    return Message.objects.filter(direction="out", status__in=("queued", "sending")).exists()


def outbound_counts() -> dict[str, int]:
    from django.db.models import Count

    from townhall.whatsapp.models import Message

    rows = Message.objects.filter(direction="out").values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


class BroadcastStack:
    """Simulator, web server and worker as a city runs them, with the baselines measured first.

    The simulator's capacity and a naive loop are measured before Townhall starts; from then
    on the simulator answers like Meta at the configured tier (a send over the rate gets
    130429), so only our limiter keeps us under it.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        from townhall.core.processes import Stack

        self.args = args
        self.stack = Stack(
            env={
                "DATABASE_URL": DATABASE_URL,
                "REDIS_URL": REDIS_URL,
                "WHATSAPP_SEND_RATE_PER_SECOND": str(args.rate),
                "TOWNHALL_WORKERS": str(args.workers),
                "TOWNHALL_TASKS_IMMEDIATE": "0",
            },
            log_dir=Path(tempfile.mkdtemp(prefix="townhall-bench-logs-")),
            web_workers=2,
            worker_threads=args.workers,
        )
        self.capacity: dict[str, Any] = {}
        self.naive = 0.0

    def start(self) -> Any:
        import httpx

        from bench.simulator_capacity import measure_capacity

        stack = self.stack
        stack.start_simulator(("--throughput-per-second", "100000", "--threads", "16"))
        os.environ["WHATSAPP_API_BASE_URL"] = stack.simulator_url
        from django.conf import settings

        settings.WHATSAPP["API_BASE_URL"] = stack.simulator_url
        control = httpx.Client(base_url=stack.simulator_url, timeout=60)
        # Nothing listens for webhooks until Townhall starts below: the simulator drops the
        # statuses of the capacity and naive runs at once instead of retrying them for minutes.
        retries = control.get("/_sim/config").json()["webhook_max_attempts"]
        control.post("/_sim/config", json={"webhook_max_attempts": 1})
        self.capacity = measure_capacity(
            stack.simulator_url,
            phone_number_id=settings.WHATSAPP["PHONE_NUMBER_ID"],
            access_token=settings.WHATSAPP["ACCESS_TOKEN"],
            seconds=3.0,
        )
        control.post("/_sim/flush", json={"timeout": 60})
        self.naive = naive_loop(3.0)
        control.post("/_sim/flush", json={"timeout": 60})
        control.post(
            "/_sim/config",
            json={
                "throughput_per_second": self.args.rate,
                "status_sample_rate": self.args.status_sample,
                "statuses_per_webhook": self.args.statuses_per_webhook,
                "webhook_max_attempts": retries,
            },
        )
        stack.start_web()
        stack.start_worker()
        # A city's worker is running when a post goes out: its start-up is not the send's.
        stack.wait_for_worker()
        return control


def run_broadcast(args: argparse.Namespace) -> dict[str, Any]:
    prepare_environment()
    from townhall.whatsapp.actions import do_queue_messages
    from townhall.whatsapp.models import Message
    from townhall.whatsapp.outbound import Template
    from townhall.whatsapp.policy import Purpose

    recipients = create_subscribers(args.recipients)
    bench_stack = BroadcastStack(args)
    stack = bench_stack.stack
    control = None
    try:
        control = bench_stack.start()
        capacity, naive = bench_stack.capacity, bench_stack.naive
        meter = CpuMeter(stack)
        stats_before = control.get("/_sim/stats").json()
        sends_before = stats_before["sends"]["accepted"]
        statuses_before = sum(stats_before["statuses"].values())
        posts_before = stats_before["webhooks"]["delivered"]
        meter.begin()
        started = time.monotonic()
        started_at = time.time()  # the simulator's clock, for its time of the last accept
        batch = do_queue_messages(
            recipients, Template("hello_world", "en_US"), purpose=Purpose.INFO
        )
        queued_s = time.monotonic() - started
        timeline: list[tuple[float, int]] = []
        last_accept = None
        deadline = started + args.timeout
        # Progress as the API sees it (the simulator's count of accepted sends): polling the
        # message table instead cost PostgreSQL more CPU than some of what is measured.
        while time.monotonic() < deadline:
            handed_over = control.get("/_sim/stats").json()["sends"]["accepted"] - sends_before
            now = time.monotonic()
            timeline.append((round(now - started, 2), handed_over))
            if handed_over >= batch.queued or (
                len(timeline) % 10 == 0 and not _waiting_to_be_sent()
            ):
                last_accept = now
                break
            time.sleep(0.1)
        handed_over_s = (last_accept or time.monotonic()) - started
        last_accepted_at = control.get("/_sim/stats").json()["sends"]["last_accepted_at"]
        if last_accept and last_accepted_at:
            # To the last accept itself, not to the poll (every 0.1 s) that saw it.
            handed_over_s = min(handed_over_s, last_accepted_at - started_at)
        # Statuses: wait until the simulator has sent them all and the worker applied them.
        control.post("/_sim/flush", json={"timeout": 120})
        settle_deadline = time.monotonic() + 120
        while time.monotonic() < settle_deadline:
            from townhall.whatsapp.models import WebhookEvent

            if not WebhookEvent.objects.filter(state="pending").exists():
                break
            time.sleep(0.25)
        cpu = meter.used()
        sim_stats = control.get("/_sim/stats").json()
        counts = outbound_counts()
        accepted_rows = Message.objects.filter(direction="out", provider_id__isnull=False).count()
        sim_accepted = sim_stats["sends"]["accepted"] - sends_before
        delivered = sum(counts.get(status, 0) for status in ("delivered", "read"))
        statuses_expected = sum(sim_stats["statuses"].values()) - statuses_before
        webhook_posts = sim_stats["webhooks"]["delivered"] - posts_before
        townhall_cpu = cpu["web"] + cpu["worker"] + cpu["postgres"]
        result = {
            "scenario": "broadcast",
            "recipients": args.recipients,
            "rate_limit": args.rate,
            "workers": args.workers,
            "simulator_capacity_msg_s": round(capacity["msg_s"], 1),
            "naive_msg_s": round(naive, 1),
            "townhall_msg_s": round(batch.queued / handed_over_s, 1) if handed_over_s else None,
            "townhall_steady_msg_s": _steady_rate(timeline),
            "queueing_s": round(queued_s, 2),
            "handed_over_s": round(handed_over_s, 2),
            "accepted": accepted_rows,
            "delivered_or_read": delivered,
            "statuses_per_message": round((statuses_expected or 0) / max(1, sim_accepted), 2),
            # Meta may put several statuses into one POST; 1 is what a quiet number gets.
            "statuses_per_webhook_max": args.statuses_per_webhook,
            "webhook_posts_per_message": round(webhook_posts / max(1, sim_accepted), 2),
            "lost": batch.queued - accepted_rows,
            "duplicates": max(0, sim_accepted - accepted_rows),
            "throughput_errors_130429": sim_stats["sends"]["errors_by_code"].get("130429", 0),
            "status_counts": counts,
            "cpu_s": {name: round(value, 2) for name, value in cpu.items()},
            "cpu_ms_per_message": round(1000 * townhall_cpu / max(1, accepted_rows), 3),
            "cpu_ms_per_message_by_process": {
                name: round(1000 * cpu[name] / max(1, accepted_rows), 3)
                for name in ("web", "worker", "postgres", "simulator")
            },
            "peak_rss_mb": meter.peak_rss(),
            "timeline": timeline,
        }
        return result
    finally:
        if control is not None:
            control.close()
        stack.stop()


def run_urgent(args: argparse.Namespace) -> dict[str, Any]:
    """How long the last of N urgent messages takes to be handed over, alone and while a
    normal broadcast to the same N subscribers is running (queued first, already sending)."""
    prepare_environment()
    from townhall.whatsapp.actions import do_queue_messages
    from townhall.whatsapp.models import Message
    from townhall.whatsapp.outbound import Template
    from townhall.whatsapp.policy import Purpose

    recipients = create_subscribers(args.messages)
    bench_stack = BroadcastStack(args)
    stack = bench_stack.stack
    control = None
    urgent, bulk = Message.Priority.URGENT, Message.Priority.BULK

    def progress(after_pk: int, priority: int) -> tuple[int, int]:
        """(handed over, still waiting) of the messages of one priority queued after a row.
        An unconfirmed send (its answer was lost) is waiting: it is reconciled or resent."""
        rows = Message.objects.filter(direction="out", pk__gt=after_pk, priority=priority)
        waiting = rows.filter(status__in=("queued", "sending", "unconfirmed")).count()
        return rows.count() - waiting, waiting

    def last_pk() -> int:
        return Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def hand_over_urgent() -> dict[str, Any]:
        mark = last_pk()
        started = time.monotonic()
        batch = do_queue_messages(
            recipients, Template("hello_world", "en_US"), purpose=Purpose.INFO, priority=urgent
        )
        queued_s = time.monotonic() - started
        deadline = started + args.timeout
        done = 0
        while time.monotonic() < deadline:
            done, waiting = progress(mark, urgent)
            if waiting == 0 and done >= batch.queued:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        accepted = Message.objects.filter(
            direction="out", pk__gt=mark, priority=urgent, provider_id__isnull=False
        ).count()
        return {
            "queued": batch.queued,
            "queueing_s": round(queued_s, 2),
            "last_handed_over_s": round(elapsed, 2),
            "msg_s": round(done / elapsed, 1),
            "lost": batch.queued - accepted,
        }

    try:
        control = bench_stack.start()
        alone = hand_over_urgent()
        broadcast_mark = last_pk()
        broadcast = do_queue_messages(
            recipients, Template("hello_world", "en_US"), purpose=Purpose.INFO, priority=bulk
        )
        # The broadcast is under way (dispatchers busy with it) when the alert is written.
        running_deadline = time.monotonic() + 60
        while progress(broadcast_mark, bulk)[0] < min(2000, broadcast.queued // 10):
            if time.monotonic() > running_deadline:
                raise RuntimeError("the broadcast did not start")
            time.sleep(0.1)
        bulk_before = progress(broadcast_mark, bulk)[0]
        during = hand_over_urgent()
        during["broadcast_messages_handed_over_meanwhile"] = (
            progress(broadcast_mark, bulk)[0] - bulk_before
        )
        return {
            "scenario": "urgent",
            "messages": args.messages,
            "rate_limit": args.rate,
            "workers": args.workers,
            "status_sample_rate": args.status_sample,
            "simulator_capacity_msg_s": round(bench_stack.capacity["msg_s"], 1),
            "naive_msg_s": round(bench_stack.naive, 1),
            "urgent_alone": alone,
            "urgent_during_broadcast": during,
            "broadcast_queued": broadcast.queued,
            "throughput_errors_130429": control.get("/_sim/stats")
            .json()["sends"]["errors_by_code"]
            .get("130429", 0),
            # Each process's high-water mark (VmHWM) over the whole run.
            "peak_rss_mb": CpuMeter(stack).peak_rss(),
        }
    finally:
        if control is not None:
            control.close()
        stack.stop()


def _steady_rate(timeline: list[tuple[float, int]]) -> float | None:
    """Messages/s between 10 % and 90 % done: the rate once the dispatchers are running."""
    if not timeline or timeline[-1][1] == 0:
        return None
    total = timeline[-1][1]
    low = next((t for t in timeline if t[1] >= total * 0.1), None)
    high = next((t for t in timeline if t[1] >= total * 0.9), None)
    if not low or not high or high[0] <= low[0]:
        return None
    return round((high[1] - low[1]) / (high[0] - low[0]), 1)


# --- webhooks -----------------------------------------------------------------------------------


def run_webhooks(args: argparse.Namespace) -> dict[str, Any]:
    prepare_environment()
    from bench.webhook_ingest import measure, measure_raw, signed_requests, status_body
    from townhall.core.processes import Stack
    from townhall.whatsapp.models import Message, WebhookEvent

    # More distinct signed webhooks than the server can take in ``seconds`` (each is sent
    # once), and an outbound message for every one of them, so applying does real updates.
    count = int(args.seconds * args.max_rate) + WARM_UP_REQUESTS
    Message.objects.bulk_create(
        [
            Message(
                provider_id=f"wamid.bench-{index:012d}",
                direction="out",
                wa_id=f"49151{index % 10_000_000:08d}",
                type="template",
                status="accepted",
            )
            for index in range(count)
        ],
        batch_size=5000,
    )

    def delivered_count() -> int:
        return Message.objects.filter(direction="out", status="delivered").count()

    stack = Stack(
        env={
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "WHATSAPP_APP_SECRET": "bench-app-secret",
            "TOWNHALL_WORKERS": str(args.workers),
        },
        log_dir=Path(tempfile.mkdtemp(prefix="townhall-bench-logs-")),
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        worker_threads=args.workers,
    )
    stack.start_simulator()
    stack.start_web()
    try:
        port = stack.web_port
        if args.loader == "threads":
            # The first loader: http.client in 2 processes x 16 threads (~0.5 ms CPU per
            # request of its own, taken from the server on 2 cores).
            meter = CpuMeter(stack)
            meter.begin()
            intake = measure(port, args.seconds, processes=2, connections=16, run_index=0)
        else:
            requests = signed_requests(port, count)
            measure_raw(port, requests[:WARM_UP_REQUESTS], 2.0, 4)
            meter = CpuMeter(stack)
            meter.begin()
            intake = measure_raw(port, requests[WARM_UP_REQUESTS:], args.seconds, args.connections)
            del requests
        web_cpu = meter.used()
        stored = WebhookEvent.objects.filter(state="pending").count()
        meter.begin()
        started = time.monotonic()
        stack.start_worker()
        first_applied = None
        deadline = started + 300
        while time.monotonic() < deadline:
            pending = WebhookEvent.objects.filter(state="pending").count()
            if first_applied is None and pending < stored:
                first_applied = (time.monotonic(), stored - pending)
            # Done when every event is processed and every status applied (the worker
            # applies a batch's statuses just after committing the batch's events).
            if pending == 0 and delivered_count() >= stored:
                break
            time.sleep(0.05)
        finished = time.monotonic()
        drained_s = finished - started
        worker_cpu = meter.used()
        applied = delivered_count()
        steady = None
        if first_applied is not None and finished > first_applied[0]:
            steady = (stored - first_applied[1]) / (finished - first_applied[0])
        return {
            "scenario": "webhooks",
            "seconds": args.seconds,
            "loader": args.loader,
            "connections": args.connections if args.loader == "raw" else 32,
            "web_workers": args.web_workers,
            "web_threads": args.web_threads,
            "accepted_per_s": round(intake["rps"], 1),
            "errors": intake["errors"],
            "loader_exhausted": intake.get("exhausted", False),
            "p50_ms": round(intake["p50_ms"], 1),
            "p95_ms": round(intake["p95_ms"], 1),
            "p99_ms": round(intake["p99_ms"], 1),
            "loader_cpu_ms_per_request": round(intake.get("loader_cpu_ms_per_request", 0), 3)
            or None,
            "stored": stored,
            "applied_per_s": round(stored / drained_s, 1) if drained_s else None,
            "applied_per_s_after_worker_start": round(steady, 1) if steady else None,
            "drain_s_including_worker_start": round(drained_s, 2),
            "messages_updated": applied,
            "cpu_ms_per_webhook": {
                "web": round(1000 * web_cpu["web"] / max(1, stored), 3),
                "postgres_intake": round(1000 * web_cpu["postgres"] / max(1, stored), 3),
                "worker": round(1000 * worker_cpu["worker"] / max(1, stored), 3),
                "postgres_apply": round(1000 * worker_cpu["postgres"] / max(1, stored), 3),
            },
            "peak_rss_mb": meter.peak_rss(),
            "body_example_bytes": len(status_body(0)),
        }
    finally:
        stack.stop()


# Requests sent before the clock starts (first requests import lazily loaded code).
WARM_UP_REQUESTS = 500


def _add_sending_options(
    parser: argparse.ArgumentParser, *, rate: float, status_sample: float, timeout: float
) -> None:
    parser.add_argument("--rate", type=float, default=rate, help="our limiter, msg/s")
    parser.add_argument("--workers", type=int, default=4, help="Huey worker threads")
    parser.add_argument(
        "--status-sample",
        type=float,
        default=status_sample,
        help="fraction of messages the simulator reports statuses for (1.0 = all, ~3 each)",
    )
    parser.add_argument(
        "--statuses-per-webhook",
        type=int,
        default=1,
        help="most statuses the simulator puts into one webhook POST (Meta's format allows many)",
    )
    parser.add_argument("--timeout", type=float, default=timeout)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    broadcast = commands.add_parser("broadcast", help="queue a template to N subscribers")
    broadcast.add_argument("--recipients", type=int, default=5000)
    _add_sending_options(broadcast, rate=80, status_sample=1.0, timeout=600)
    urgent = commands.add_parser(
        "urgent", help="N urgent messages, alone and while a broadcast to N is running"
    )
    urgent.add_argument("--messages", type=int, default=100_000)
    _add_sending_options(urgent, rate=1000, status_sample=0.1, timeout=1800)
    webhooks = commands.add_parser("webhooks", help="signed status webhooks: intake and apply")
    webhooks.add_argument("--seconds", type=float, default=10)
    webhooks.add_argument("--workers", type=int, default=4)
    webhooks.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    webhooks.add_argument("--web-workers", type=int, default=2, help="granian workers")
    webhooks.add_argument("--web-threads", type=int, default=8, help="granian threads")
    webhooks.add_argument(
        "--max-rate", type=int, default=6000, help="distinct webhooks prepared per second"
    )
    webhooks.add_argument(
        "--loader",
        choices=["raw", "threads"],
        default="raw",
        help="raw asyncio HTTP/1.1 (default) or the first http.client loader",
    )
    webhooks.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scenarios = {"broadcast": run_broadcast, "urgent": run_urgent, "webhooks": run_webhooks}
    result = scenarios[args.command](args)
    if not args.json:
        result.pop("timeline", None)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
