"""CPU per request of the async HTTP clients the send path could use, against the simulator.

    .venv/bin/python bench/http_clients.py [--requests 3000] [--in-flight 100]

Starts the simulator (throughput limit lifted, no status webhooks), then sends the same
text message ``--requests`` times with ``--in-flight`` requests at once, once through
httpx.AsyncClient and once through aiohttp, each in a fresh event loop, and prints wall
time, requests per second and this process's CPU per request. The choice of aiohttp for
``CloudAPIClient.send_many`` rests on this (docs/benchmarks.md).
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


async def with_aiohttp(url: str, requests: int, in_flight: int) -> list[int]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:

        async def one(index: int) -> int:
            async with session.post(url, data=body(index)) as response:
                await response.read()
                return response.status

        return await asyncio.gather(*(one(index) for index in range(requests)))


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
        for name, run in (("httpx", with_httpx), ("aiohttp", with_aiohttp)):
            started, cpu = time.perf_counter(), time.process_time()
            statuses = asyncio.run(run(url, args.requests, args.in_flight))
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"{name:8} {dict(Counter(statuses))} {wall:6.2f} s {args.requests / wall:7.0f} req/s"
                f" {1000 * used / args.requests:6.3f} ms CPU per request"
            )
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
