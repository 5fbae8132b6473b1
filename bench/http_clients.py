"""CPU per request of the async HTTP clients the send path could use, against the simulator.

    .venv/bin/python bench/http_clients.py [--requests 3000] [--in-flight 100]

Starts the simulator (throughput limit lifted, no status webhooks), then sends the same
text message ``--requests`` times with ``--in-flight`` requests at once, once through
httpx.AsyncClient (in a fresh event loop) and once through libcurl's multi interface as
``townhall.whatsapp.batch_http.BatchSender`` runs it (on this thread, 100 in flight), and
prints wall time, requests per second and this process's CPU per request. The choice of
libcurl for ``CloudAPIClient.send_many`` rests on this (docs/benchmarks.md; aiohttp, used
before, took 0.25-0.28 ms per request here).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from townhall.simulator.testing import SimulatorProcess

PHONE_NUMBER_ID = "100000000000001"
HEADERS = {"Authorization": "Bearer simulator-access-token", "Content-Type": "application/json"}


def body(index: int) -> bytes:
    return orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"49151{index:08d}",
            "type": "text",
            "text": {"body": "Hallo"},
            "biz_opaque_callback_data": f"townhall:{index}",
        }
    )


async def with_httpx(url: str, requests: int, in_flight: int) -> list[int]:
    import httpx

    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        gate = asyncio.Semaphore(in_flight)

        async def one(index: int) -> int:
            async with gate:
                response = await client.post(url, content=body(index), headers=HEADERS)
                return response.status_code

        return await asyncio.gather(*(one(index) for index in range(requests)))


def with_libcurl(url: str, requests: int, in_flight: int) -> list[int]:
    from townhall.whatsapp.batch_http import Answered, BatchSender

    sender = BatchSender(url, HEADERS, timeout_seconds=10, connect_timeout_seconds=5, proxy=None)
    try:
        outcomes = sender.send([body(index) for index in range(requests)])
    finally:
        sender.close()
    return [outcome.status if isinstance(outcome, Answered) else -1 for outcome in outcomes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=100)
    args = parser.parse_args()
    simulator = SimulatorProcess(
        webhook_url="http://127.0.0.1:9/unused",
        settings={"throughput_per_second": 1_000_000, "status_sample_rate": 0.0},
        threads=16,
    ).start()
    url = f"{simulator.base_url}/v21.0/{PHONE_NUMBER_ID}/messages"
    try:
        runs = (
            ("httpx", lambda: asyncio.run(with_httpx(url, args.requests, args.in_flight))),
            ("libcurl", lambda: with_libcurl(url, args.requests, args.in_flight)),
        )
        for name, run in runs:
            started, cpu = time.perf_counter(), time.process_time()
            statuses = run()
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"{name:8} {dict(Counter(statuses))} {wall:6.2f} s {args.requests / wall:7.0f} req/s"
                f" {1000 * used / args.requests:6.3f} ms CPU per request"
            )
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
