"""Inbox page latency at city scale: the conversation list per filter and one conversation.

Creates (drops first) a PostgreSQL database, migrates it and seeds it with
``seed_inbox_scale`` (100,000 conversations and 1,000,000 messages by default), then
requests each page with Django's test Client in this process, logged in as a seeded staff
member: no HTTP server and no network between client and Django, so the numbers are
Django's middleware, the view, its queries over loopback TCP and the templates. Reported
per page: p50 and p95 latency, queries per request and their time (median of the sampled
requests; the rest is Python, mostly templates), the p95 against the baseline measured in
the same run (the login page for an anonymous visitor: middleware and a small template, no
query) and the target (p95 below 50 ms). Pages that miss it get ``EXPLAIN ANALYZE`` of their
slowest query printed (``--explain`` prints it for every page).

    .venv/bin/python bench/inbox_pages.py [--conversations 100000]
        [--messages-per-conversation 10] [--requests 200] [--warmup 20] [--page-seconds 60]
        [--skip-seed] [--explain]

The database is ``TOWNHALL_BENCH_INBOX_DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/townhall_inbox_bench); ``DATABASE_URL`` is deliberately
not read, because this script drops the database it is given. ``--skip-seed`` reuses it
(after applying any new migrations).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/townhall_inbox_bench"
TARGET_P95_MS = 50.0
# A word in many citizens' messages, and one in none (the search must look at everything).
SEARCH_WORD = "Sperrmüll"
SEARCH_MISSING_WORD = "Zebrastreifen"
# Requests whose queries are captured for the query count (capturing adds overhead, so
# it is done apart from the timed requests).
QUERY_COUNT_SAMPLES = 5
# A page far over the target has shown it after this many requests; the time budget
# (--page-seconds) keeps a run with second-long pages under half an hour.
MIN_REQUESTS = 30


@dataclass
class Result:
    page: str
    requests: int
    p50_ms: float
    p95_ms: float
    queries: str
    sql_ms: float
    errors: int
    slowest_sql: str = ""
    slowest_ms: float = 0.0
    has_target: bool = True


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def psql(database_url: str, *statements: str) -> None:
    """Run statements on the server's maintenance database (``postgres``)."""
    url = urlsplit(database_url)
    command = [
        "psql",
        "-h",
        url.hostname or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        "-d",
        "postgres",
        "-q",
    ]
    for statement in statements:
        command += ["-c", statement]
    subprocess.run(command, check=True)


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v0"],
        env=env,
        check=True,
        cwd=ROOT,
    )


def prepare_database(args: argparse.Namespace, env: dict[str, str]) -> None:
    name = urlsplit(args.database_url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"Refusing to drop a database named {name!r}")
    psql(args.database_url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    migrate(env)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "seed_inbox_scale",
            "--conversations",
            str(args.conversations),
            "--messages-per-conversation",
            str(args.messages_per_conversation),
        ],
        env=env,
        check=True,
        cwd=ROOT,
    )


def measure(client, page: str, urls: list[str], args: argparse.Namespace) -> Result:
    """Warm up, time ``args.requests`` GETs (cycling through ``urls``), then count queries
    and keep the slowest query of the sampled requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    errors = 0
    for index in range(args.warmup):
        client.get(urls[index % len(urls)])
    latencies = []
    deadline = time.monotonic() + args.page_seconds
    for index in range(args.requests):
        if index >= MIN_REQUESTS and time.monotonic() > deadline:
            break
        url = urls[(args.warmup + index) % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            errors += 1
    latencies.sort()
    counts = []
    sql_times = []
    slowest = ("", 0.0)
    for index in range(QUERY_COUNT_SAMPLES):
        with CaptureQueriesContext(connection) as captured:
            client.get(urls[index % len(urls)])
        counts.append(len(captured.captured_queries))
        sql_times.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
        for query in captured.captured_queries:
            if float(query["time"]) * 1000 > slowest[1]:
                slowest = (query["sql"], float(query["time"]) * 1000)
    low, high = min(counts), max(counts)
    return Result(
        page=page,
        requests=len(latencies),
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        queries=str(low) if low == high else f"{low}–{high}",
        sql_ms=sorted(sql_times)[len(sql_times) // 2],
        errors=errors,
        slowest_sql=slowest[0],
        slowest_ms=slowest[1],
    )


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per page")
    parser.add_argument(
        "--page-seconds",
        type=float,
        default=60.0,
        help=f"stop timing a page after this long (at least {MIN_REQUESTS} requests)",
    )
    parser.add_argument("--skip-seed", action="store_true", help="reuse the seeded database")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN every page's slowest query")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TOWNHALL_BENCH_INBOX_DATABASE_URL", DEFAULT_DATABASE_URL),
    )
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "TOWNHALL_DATA_DIR": tempfile.mkdtemp(prefix="townhall-bench-"),
        "TOWNHALL_SECRET_KEY": "bench",
        "TOWNHALL_DEBUG": "0",
        "TOWNHALL_LOG_LEVEL": "WARNING",
        # The test Client sends Host: testserver.
        "TOWNHALL_ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "townhall.settings",
    }
    env.pop("REDIS_URL", None)
    if args.skip_seed:
        migrate(env)
    else:
        prepare_database(args, env)
    os.environ.update(env)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from townhall.citizens.models import Citizen
    from townhall.inbox.models import Conversation, Label, Team
    from townhall.whatsapp.models import Message

    try:
        list_url = reverse("inbox:list")
        reverse("inbox:conversation", args=[1])
    except NoReverseMatch:
        raise SystemExit(
            "The inbox pages (inbox:list, inbox:conversation) are not routed."
        ) from None

    conversations = Conversation.objects.count()
    unresolved = Conversation.objects.exclude(state=Conversation.State.RESOLVED).count()
    messages = Message.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
        # The seed's denormalised fields at scale (the tests check them on SQLite).
        cursor.execute(
            """
            SELECT count(*) FROM inbox_conversation c
            JOIN citizens_citizen z ON z.id = c.citizen_id
            JOIN (SELECT wa_id, max(created_at) AS newest FROM whatsapp_message GROUP BY wa_id) m
              ON m.wa_id = z.wa_id
            WHERE c.last_message_at <> m.newest
            """
        )
        inconsistent = cursor.fetchone()[0]

    user_model = get_user_model()
    staff = (
        user_model.objects.filter(username__startswith="seed-staff-")
        .annotate(assigned=Count("assigned_conversations"))
        .order_by("-assigned", "pk")
        .first()
    )
    team = Team.objects.annotate(size=Count("conversations")).order_by("-size", "pk").first()
    label = Label.objects.annotate(size=Count("conversations")).order_by("-size", "pk").first()
    if staff is None or team is None or label is None:
        raise SystemExit("No seeded staff, team or label: run without --skip-seed.")
    # A citizen's full name (about a hundred citizens share it in the seed) and its surname
    # (a few thousand: more than the search collects, so it walks the list instead).
    full_name = (
        Citizen.objects.values("profile_name")
        .annotate(size=Count("id"))
        .order_by("-size", "profile_name")
        .values_list("profile_name", flat=True)
        .first()
    ) or "Anna Schmidt"
    surname = full_name.split()[-1]
    surname_citizens = Citizen.objects.filter(profile_name__icontains=surname).count()
    rng = random.Random(7)  # which conversations to open, the same in every run
    ids = list(Conversation.objects.values_list("pk", flat=True))
    conversation_urls = [
        reverse("inbox:conversation", args=[pk])
        for pk in rng.sample(ids, min(len(ids), args.requests + args.warmup))
    ]

    # The seeded accounts have no role (the seed belongs to the inbox app, which knows none);
    # the mayor's role may open every page measured here, the metrics included.
    from django.contrib.auth.models import Group

    from townhall.staff.roles import MAYOR

    staff.groups.add(Group.objects.get(name=MAYOR))
    anonymous = Client()
    client = Client()
    client.force_login(staff)
    pages = [
        ("list: all", [f"{list_url}?view=all"]),
        ("list: mine", [f"{list_url}?view=mine"]),
        ("list: unassigned", [f"{list_url}?view=unassigned"]),
        (f"list: team ({team.name})", [f"{list_url}?team={team.pk}"]),
        (f"list: label ({label.name})", [f"{list_url}?label={label.pk}"]),
        ("list: state=open", [f"{list_url}?state=open"]),
        (f"list: q={SEARCH_WORD}", [f"{list_url}?q={SEARCH_WORD}"]),
        (f"list: q={SEARCH_MISSING_WORD} (no match)", [f"{list_url}?q={SEARCH_MISSING_WORD}"]),
        (f"list: q={full_name} (a name)", [f"{list_url}?{urlencode({'q': full_name})}"]),
        (
            f"list: q={surname} ({surname_citizens:,} citizens)",
            [f"{list_url}?{urlencode({'q': surname})}"],
        ),
        ("conversation (random)", conversation_urls),
        ("metrics (30 days)", [reverse("inbox_metrics:overview")]),
    ]

    baseline = measure(anonymous, "login page (baseline)", [reverse("staff:login")], args)
    baseline.has_target = False
    results = [baseline]
    for page, urls in pages:
        print(f"  measuring {page} …", flush=True)
        result = measure(client, page, urls, args)
        # A report page, not one staff wait on while working through the inbox.
        result.has_target = not page.startswith("metrics")
        results.append(result)

    print(
        f"\ninbox pages on PostgreSQL {server_version}: {conversations:,} conversations "
        f"({unresolved:,} not resolved), {messages:,} messages "
        f"({inconsistent} conversations inconsistent with their messages)"
        f"\nin-process Django test Client (no HTTP server), one thread; {args.requests} timed "
        f"requests per page (or {args.page_seconds:.0f} s) after {args.warmup} warm-up; "
        f"logged in as {staff.get_username()} "
        f"({staff.assigned:,} assigned)\nbaseline: {baseline.page}, anonymous"
    )
    header = (
        f"{'page':<36} {'reqs':>4} {'p50 ms':>7} {'p95 ms':>7} {'p95/base':>8} {'queries':>7} "
        f"{'SQL ms':>6} {'errors':>6}  target p95 < {TARGET_P95_MS:.0f} ms"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        verdict = ""
        if result.has_target:
            verdict = "ok" if result.p95_ms < TARGET_P95_MS else "MISSED"
        print(
            f"{result.page:<36} {result.requests:>4} {result.p50_ms:>7.1f} {result.p95_ms:>7.1f} "
            f"{result.p95_ms / baseline.p95_ms:>8.1f} {result.queries:>7} {result.sql_ms:>6.1f} "
            f"{result.errors:>6}  "
            f"{verdict}"
        )
    for result in results:
        missed = result.has_target and result.p95_ms >= TARGET_P95_MS
        if result.slowest_sql and (missed or args.explain):
            print(
                f"\n=== {result.page}: slowest query ({result.slowest_ms:.1f} ms when captured)\n"
                f"{result.slowest_sql}\n--- EXPLAIN (ANALYZE, BUFFERS)\n{explain(result.slowest_sql)}"
            )


if __name__ == "__main__":
    main()
