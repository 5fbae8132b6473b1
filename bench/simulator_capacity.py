"""How many sends per second the Cloud API simulator accepts, with and without status webhooks.

    .venv/bin/python bench/simulator_capacity.py [--seconds 5] [--concurrency 64] [--json]

Starts a lean webhook receiver (an asyncio server in its own process that answers 200 to
every POST and counts the statuses it got) and ``python -m townhall.simulator`` on free
loopback ports, then hammers ``POST /v21.0/{phone_number_id}/messages`` with template
messages (``hello_world``: templates need no open 24-hour window) to many distinct numbers
(so the pair limit 131056 is not what is measured; the throughput limit 130429 is raised by
flag), with ``--concurrency`` requests in flight over keep-alive connections. After each run
it waits until the simulator has delivered every status webhook, so the simulator's CPU per
message includes its statuses.

The load generator and the receiver speak HTTP/1.1 over raw asyncio protocols: a
general-purpose client would need about a core of its own at these rates and would measure
itself, not the simulator.
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from townhall.simulator.testing import (
    API_VERSION,
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_PHONE_NUMBER_ID,
    free_port,
    wait_for,
)

# Distinct German mobile numbers: 49151 + 8 digits.
DEFAULT_RECIPIENT_COUNT = 50_000
RECEIVER_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def recipients_for(count: int) -> list[str]:
    return [f"49151{index:08d}" for index in range(count)]


def template_body(to: str) -> bytes:
    return orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
    )


def _response_end(buffer: bytearray | bytes) -> tuple[int, int] | None:
    """(status, end offset) of the first complete HTTP/1.1 response in ``buffer``."""
    header_end = buffer.find(b"\r\n\r\n")
    if header_end < 0:
        return None
    head = bytes(buffer[:header_end]).lower()
    status = int(head[9:12])
    position = head.find(b"\r\ncontent-length:")
    if position >= 0:
        line_end = head.find(b"\r\n", position + 2)
        length = int(head[position + 17 : line_end if line_end >= 0 else None])
        end = header_end + 4 + length
        return (status, end) if len(buffer) >= end else None
    if b"transfer-encoding: chunked" in head:
        terminator = buffer.find(b"0\r\n\r\n", header_end + 4)
        return (status, terminator + 5) if terminator >= 0 else None
    return status, header_end + 4


class _LoadRun:
    """Shared state of one measurement: requests to send, outcomes, the deadline."""

    def __init__(self, requests: list[bytes], seconds: float, *, cycle: bool = True) -> None:
        self.requests = requests
        # False: each request is sent once (distinct webhooks must not repeat).
        self.cycle = cycle
        self.next_index = 0
        self.deadline = time.perf_counter() + seconds
        self.ok = 0
        self.errors = 0
        self.errors_by_status: dict[int, int] = {}
        self.latencies: list[float] = []
        self.open_connections = 0
        self.finished = asyncio.get_running_loop().create_future()

    def next_request(self) -> bytes | None:
        if time.perf_counter() >= self.deadline:
            return None
        if not self.cycle and self.next_index >= len(self.requests):
            return None
        request = self.requests[self.next_index % len(self.requests)]
        self.next_index += 1
        return request

    def record(self, status: int, latency: float) -> None:
        self.latencies.append(latency)
        if status == 200:
            self.ok += 1
        else:
            self.errors += 1
            self.errors_by_status[status] = self.errors_by_status.get(status, 0) + 1

    def connection_done(self) -> None:
        self.open_connections -= 1
        if self.open_connections == 0 and not self.finished.done():
            self.finished.set_result(None)


class _ClientConnection(asyncio.Protocol):
    """One keep-alive connection that sends the next request when the last one is answered."""

    def __init__(self, run: _LoadRun) -> None:
        self.run = run
        self.buffer = bytearray()
        self.started = 0.0
        self.transport: asyncio.Transport | None = None
        self.is_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send_next()

    def _send_next(self) -> None:
        assert self.transport is not None
        request = self.run.next_request()
        if request is None:
            self._finish()
            return
        self.started = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (found := _response_end(self.buffer)) is not None:
            status, end = found
            del self.buffer[:end]
            self.run.record(status, time.perf_counter() - self.started)
            self._send_next()
            if self.is_done:
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.is_done:
            # An unanswered request in flight counts as an error.
            self.run.errors += 1
            self.run.errors_by_status[0] = self.run.errors_by_status.get(0, 0) + 1
            self._finish()

    def _finish(self) -> None:
        if self.is_done:
            return
        self.is_done = True
        if self.transport is not None:
            self.transport.close()
        self.run.connection_done()


async def _hammer(
    host: str,
    port: int,
    requests: list[bytes],
    seconds: float,
    concurrency: int,
    *,
    cycle: bool = True,
) -> _LoadRun:
    loop = asyncio.get_running_loop()
    run = _LoadRun(requests, seconds, cycle=cycle)
    run.open_connections = concurrency
    for _ in range(concurrency):
        await loop.create_connection(lambda: _ClientConnection(run), host, port)
    await run.finished
    return run


def measure_capacity(
    base_url: str,
    *,
    phone_number_id: str,
    access_token: str,
    seconds: float = 5.0,
    concurrency: int = 64,
    recipients: list[str] | None = None,
) -> dict[str, Any]:
    """Send template messages for ``seconds`` with ``concurrency`` requests in flight.

    Returns accepted sends per second (``msg_s``), the number of non-200 answers and lost
    connections (``errors``), and the 50th/99th percentile latency in milliseconds.
    """
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    path = f"/{API_VERSION}/{phone_number_id}/messages"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {access_token}\r\nContent-Type: application/json\r\n"
    ).encode()
    requests = [
        head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        for body in map(template_body, recipients or recipients_for(DEFAULT_RECIPIENT_COUNT))
    ]
    started = time.perf_counter()
    run = asyncio.run(_hammer(host, port, requests, seconds, concurrency))
    elapsed = time.perf_counter() - started
    latencies = sorted(run.latencies)

    def percentile(fraction: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000, 2)

    return {
        "msg_s": round(run.ok / elapsed, 1),
        "sent": run.ok,
        "errors": run.errors,
        "errors_by_status": run.errors_by_status,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "seconds": round(elapsed, 2),
    }


# --- the webhook receiver -----------------------------------------------------------------------


class _ReceiverConnection(asyncio.Protocol):
    """Answers 200 to every request; ``GET /_counts`` answers what arrived so far."""

    counts = {"requests": 0, "statuses": 0}

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            header_end = self.buffer.find(b"\r\n\r\n")
            if header_end < 0:
                return
            head = bytes(self.buffer[:header_end]).lower()
            position = head.find(b"\r\ncontent-length:")
            length = 0
            if position >= 0:
                line_end = head.find(b"\r\n", position + 2)
                length = int(head[position + 17 : line_end if line_end >= 0 else None])
            end = header_end + 4 + length
            if len(self.buffer) < end:
                return
            body = bytes(self.buffer[header_end + 4 : end])
            del self.buffer[:end]
            if head.startswith(b"get /_counts"):
                answer = orjson.dumps(self.counts)
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
                continue
            self.counts["requests"] += 1
            self.counts["statuses"] += body.count(b'"status":"')
            self.transport.write(RECEIVER_OK)


async def _serve_receiver(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_ReceiverConnection, "127.0.0.1", port, backlog=1024)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with server:
        await stop


# --- processes ----------------------------------------------------------------------------------


def _process_tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        pid, parent = int(entry), int(fields[1])
        children.setdefault(parent, []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SIMULATOR_")
    }
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    # Our own interpreter running our own modules with our own flags.
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def run_scenario(
    name: str,
    simulator_flags: list[str],
    *,
    seconds: float,
    concurrency: int,
    threads: int,
    drain_timeout: float = 120.0,
) -> dict[str, Any]:
    """Start receiver + simulator, measure, wait for every webhook, stop both."""
    receiver_port, simulator_port = free_port(), free_port()
    receiver = _spawn([sys.executable, __file__, "receiver", "--port", str(receiver_port)])
    simulator = _spawn(
        [
            sys.executable,
            "-m",
            "townhall.simulator",
            "--port",
            str(simulator_port),
            "--threads",
            str(threads),
            "--webhook-url",
            f"http://127.0.0.1:{receiver_port}/webhooks/whatsapp/",
            "--throughput-per-second",
            "1000000",
            *simulator_flags,
        ]
    )
    base_url = f"http://127.0.0.1:{simulator_port}"
    client = httpx.Client(base_url=base_url, timeout=10.0, trust_env=False)
    try:

        def is_ready() -> bool:
            if simulator.poll() is not None:
                raise RuntimeError("the simulator exited during start")
            try:
                return client.get("/_sim/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(is_ready, timeout=30, interval=0.1)
        cpu_before = _process_tree_cpu_seconds(simulator.pid)
        result = measure_capacity(
            base_url,
            phone_number_id=DEFAULT_PHONE_NUMBER_ID,
            access_token=DEFAULT_ACCESS_TOKEN,
            seconds=seconds,
            concurrency=concurrency,
        )
        cpu_sending = _process_tree_cpu_seconds(simulator.pid) - cpu_before
        drain_started = time.perf_counter()
        stats = client.get("/_sim/stats").json()
        while stats["webhooks"]["pending"] and time.perf_counter() - drain_started < drain_timeout:
            time.sleep(0.1)
            stats = client.get("/_sim/stats").json()
        drain_seconds = time.perf_counter() - drain_started
        cpu_total = _process_tree_cpu_seconds(simulator.pid) - cpu_before
        received = httpx.get(f"http://127.0.0.1:{receiver_port}/_counts", trust_env=False).json()
    finally:
        client.close()
        _stop(simulator)
        _stop(receiver)
    accepted = stats["sends"]["accepted"]
    # The last message's read status is due READ_DELAY_SECONDS after it was sent; any longer
    # drain is a backlog of statuses, so the sustainable rate counts it.
    backlog_seconds = max(0.0, drain_seconds - READ_DELAY_SECONDS)
    return {
        "scenario": name,
        "simulator_flags": simulator_flags,
        **result,
        "sustained_msg_s": round(accepted / (result["seconds"] + backlog_seconds), 1),
        "simulator_cpu_percent_while_sending": round(cpu_sending / result["seconds"] * 100, 1),
        "simulator_cpu_ms_per_message": round(cpu_total * 1000 / max(1, accepted), 3),
        "drain_seconds": round(drain_seconds, 2),
        "status_backlog_seconds": round(backlog_seconds, 2),
        "webhooks_pending_after_drain": stats["webhooks"]["pending"],
        "webhook_posts_received": received["requests"],
        "statuses_received": received["statuses"],
        "statuses_per_message": round(received["statuses"] / max(1, accepted), 3),
    }


READ_DELAY_SECONDS = 1.0
SCENARIOS: dict[str, list[str]] = {
    # Every message gets sent → delivered → read, one status per webhook, as Meta does.
    "statuses_on": ["--read-delay-seconds", str(READ_DELAY_SECONDS)],
    # The same statuses, up to 50 per webhook (for benchmarks on small machines).
    "statuses_batched": [
        "--read-delay-seconds",
        str(READ_DELAY_SECONDS),
        "--statuses-per-webhook",
        "50",
    ],
    # No status webhooks: the send endpoint alone.
    "statuses_off": ["--status-sample-rate", "0"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "receiver"])
    parser.add_argument("--port", type=int, default=0, help="receiver mode: port to listen on")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--threads", type=int, default=8, help="the simulator's --threads")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: all"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object, nothing else")
    args = parser.parse_args(argv)
    if args.mode == "receiver":
        asyncio.run(_serve_receiver(args.port))
        return 0
    results = []
    for name in args.scenario or list(SCENARIOS):
        result = run_scenario(
            name,
            SCENARIOS[name],
            seconds=args.seconds,
            concurrency=args.concurrency,
            threads=args.threads,
        )
        results.append(result)
        if not args.json:
            print(json.dumps(result), file=sys.stderr, flush=True)
    print(
        json.dumps(
            {"cpu_count": os.cpu_count(), "results": results}, indent=None if args.json else 2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
