"""Webhook intake throughput: granian vs gunicorn serving the same Townhall webhook view.

Each request is a distinct, correctly signed status webhook (~1 KB, like Meta's), so every
one passes the HMAC check, is stored as a WebhookEvent and enqueues a Huey task: the real
hot path. Reported: requests/s and latency percentiles per server, and the ratio against the
baseline (gunicorn sync) measured in the same run.

    .venv/bin/python bench/webhook_ingest.py [--seconds 8] [--database sqlite|postgres]

gunicorn is not a Townhall dependency; the script installs nothing and skips it when absent
(`pip install gunicorn` for the comparison).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from townhall.core.processes import free_port
from townhall.whatsapp.signatures import sign
from townhall.whatsapp.types import webhook_envelope

APP_SECRET = "bench-app-secret"
BIN = Path(sys.executable).parent


def status_body(index: int) -> bytes:
    status = {
        "id": f"wamid.bench-{index:012d}",
        "status": "delivered",
        "timestamp": str(1_760_000_000 + index),
        "recipient_id": f"49151{index % 10_000_000:08d}",
        "conversation": {"id": f"conv-{index}", "origin": {"type": "utility"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "4929321000000", "phone_number_id": "100000000000001"},
        "statuses": [status],
    }
    return orjson.dumps(webhook_envelope(value, waba_id="200000000000001"))


def signed_requests(port: int, count: int, *, app_secret: str = APP_SECRET) -> list[bytes]:
    """``count`` complete HTTP/1.1 requests, each a distinct signed status webhook for
    ``wamid.bench-{index}`` (index 0 … count-1), built before the clock starts."""
    head = (
        f"POST /webhooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    requests = []
    for index in range(count):
        body = status_body(index)
        requests.append(
            head
            + b"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n"
            % (sign(body, app_secret).encode(), len(body))
            + body
        )
    return requests


def measure_raw(port: int, requests: list[bytes], seconds: float, connections: int) -> dict:
    """Send ``requests`` in order over ``connections`` keep-alive connections (raw asyncio
    HTTP/1.1, the load generator of ``simulator_capacity``: ~0.05 ms CPU per request, where
    http.client in threads needs ~0.5 ms and would take the server's CPU on 2 cores).
    Stops after ``seconds`` or when every request was sent once, whichever comes first."""
    import asyncio
    import resource

    from bench.simulator_capacity import _hammer

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    run = asyncio.run(_hammer("127.0.0.1", port, requests, seconds, connections, cycle=False))
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    loader_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    latencies = sorted(run.latencies)
    count = len(latencies)

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(p * count))] * 1000 if count else float("nan")

    return {
        "requests": run.ok,
        "errors": run.errors,
        "errors_by_status": run.errors_by_status,
        "rps": run.ok / elapsed,
        "exhausted": run.next_index >= len(requests),
        "p50_ms": percentile(0.50),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
        "loader_cpu_ms_per_request": 1000 * loader_cpu / max(1, count),
    }


def load_worker(port: int, offset: int, seconds: float, connections: int, queue) -> None:
    """One loader process: ``connections`` keep-alive connections driven round-robin by threads."""
    import threading

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(thread_index: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        index = offset + thread_index * 10_000_000
        local: list[float] = []
        local_errors = 0
        while time.monotonic() < deadline:
            body = status_body(index)
            index += 1
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": sign(body, APP_SECRET),
            }
            started = time.perf_counter()
            try:
                connection.request("POST", "/webhooks/whatsapp/", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    local_errors += 1
            except (OSError, http.client.HTTPException):
                local_errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)
            errors += local_errors

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, errors))


def measure(port: int, seconds: float, processes: int, connections: int, run_index: int) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=load_worker,
            args=(port, (run_index * 100 + i) * 1_000_000_000, seconds, connections, queue),
        )
        for i in range(processes)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    latencies = sorted(latency for result in results for latency in result[0])
    errors = sum(result[1] for result in results)
    count = len(latencies)

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(p * count))] * 1000 if count else float("nan")

    return {
        "requests": count,
        "errors": errors,
        "rps": count / elapsed,
        "p50_ms": percentile(0.50),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if count else float("nan"),
    }


def server_commands(port: int) -> dict[str, list[str]]:
    commands = {
        "granian wsgi 2w/4t": [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--blocking-threads",
            "4",
            "--log-level",
            "warning",
            "townhall.wsgi:application",
        ],
    }
    if (BIN / "gunicorn").exists():
        commands["gunicorn sync 2w"] = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
            "townhall.wsgi:application",
        ]
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--processes", type=int, default=1, help="loader processes")
    parser.add_argument("--connections", type=int, default=16, help="connections per loader")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="townhall-bench-"))
    env = {
        **os.environ,
        "TOWNHALL_DATA_DIR": str(data_dir),
        "TOWNHALL_SECRET_KEY": "bench",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "DJANGO_SETTINGS_MODULE": "townhall.settings",
        "TOWNHALL_LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if args.database == "postgres":
        env["DATABASE_URL"] = os.environ.get(
            "TOWNHALL_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/townhall_bench"
        )
        env["REDIS_URL"] = os.environ.get("TOWNHALL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "test",
                "-qc",
                "DROP DATABASE IF EXISTS townhall_bench",
                "-c",
                "CREATE DATABASE townhall_bench",
            ],
            check=True,
        )
    else:
        env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v0"],
        env=env,
        check=True,
        cwd=ROOT,
    )

    results: dict[str, dict] = {}
    port = free_port()
    for run_index, (name, command) in enumerate(server_commands(port).items()):
        server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    connection.request("GET", "/webhooks/whatsapp/")
                    connection.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.1)
            measure(port, 1.0, 1, 4, run_index + 50)  # warm-up
            results[name] = measure(port, args.seconds, args.processes, args.connections, run_index)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)

    shutil.rmtree(data_dir, ignore_errors=True)
    baseline_name = "gunicorn sync 2w" if "gunicorn sync 2w" in results else next(iter(results))
    baseline = results[baseline_name]
    print(
        f"\nwebhook intake, {args.database}, {args.seconds:.0f} s per server, "
        f"{args.processes}x{args.connections} connections; baseline: {baseline_name}"
    )
    print(
        f"{'server':<22} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    for name, result in results.items():
        print(
            f"{name:<22} {result['rps']:>8.0f} {result['rps'] / baseline['rps']:>6.2f} "
            f"{result['p50_ms']:>7.1f} {result['p95_ms']:>7.1f} {result['p99_ms']:>7.1f} "
            f"{result['errors']:>6}"
        )


if __name__ == "__main__":
    main()
