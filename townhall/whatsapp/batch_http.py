"""The HTTP side of a broadcast: one POST per message, many in flight, each at its send slot.

libcurl's multi interface (pycurl) runs a batch on the calling thread: every request is
added when its slot comes, up to ``MAX_IN_FLIGHT`` travel at once over kept-alive
connections (HTTP/2 where the server offers it), and the thread waits in ``select`` without
the GIL. aiohttp did the same from an event-loop thread at 0.25 ms of CPU per request in
isolation and 0.68 ms inside the worker, next to the dispatchers (a third of the worker's
CPU); libcurl does it at 0.06-0.10 ms (``bench/http_clients.py``, docs/benchmarks.md).

The sender only moves bytes: what an answer means is ``CloudAPIClient``'s business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import certifi
import pycurl

# Requests one dispatcher keeps in flight at once. The Graph API answers each send in tens
# of milliseconds; 100 in flight carry 1,000 msg/s with room.
MAX_IN_FLIGHT = 100
# The longest one wait in ``select`` lasts while requests are in flight: libcurl's own
# timers (timeouts, connects) are looked at least this often.
_MAX_WAIT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Answered:
    """The server answered: its HTTP status and body."""

    status: int
    content: bytes


@dataclass(frozen=True, slots=True)
class NotSent:
    """Nothing of the request left us (refused or unreachable): safe to send again."""

    reason: str


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The request was written but no answer came (timeout, reset): the server may have it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Late:
    """Not sent: its slot had passed by more than the caller allows."""

    late_seconds: float


Outcome = Answered | NotSent | NoAnswer | Late


class BatchSender:
    """POSTs bodies to one URL with fixed headers; one per client, used by many threads
    (each thread has its own libcurl handles: a handle is never shared between threads)."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        timeout_seconds: float,
        connect_timeout_seconds: float,
        proxy: str | None,
    ) -> None:
        self._url = url
        # "Expect:" turns off curl's wait for "100 Continue" before a body over 1 KB.
        self._headers = [f"{name}: {value}" for name, value in headers.items()] + ["Expect:"]
        self._timeout_ms = int(timeout_seconds * 1000)
        self._connect_timeout_ms = int(connect_timeout_seconds * 1000)
        self._proxy = proxy or ""
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all_handles: list[pycurl.Curl | pycurl.CurlMulti] = []

    def send(
        self,
        bodies: Sequence[bytes],
        *,
        first_at: float = 0.0,
        spacing: float = 0.0,
        late_limit: float | None = None,
    ) -> list[Outcome]:
        """One outcome per body, in order. Body ``i`` leaves at ``first_at + i * spacing``
        (``time.monotonic()`` seconds), or at once where that has passed, unless it has
        passed by more than ``late_limit``: then it is ``Late`` and not sent."""
        multi, idle = self._handles()
        outcomes: list[Outcome | None] = [None] * len(bodies)
        in_flight: dict[pycurl.Curl, tuple[int, BytesIO]] = {}
        next_index = 0
        while next_index < len(bodies) or in_flight:
            now = time.monotonic()
            while next_index < len(bodies) and len(in_flight) < MAX_IN_FLIGHT:
                slot = first_at + next_index * spacing
                if slot > now:
                    break
                if late_limit is not None and now - slot > late_limit:
                    outcomes[next_index] = Late(now - slot)
                else:
                    handle = idle.pop() if idle else self._new_handle()
                    answer = BytesIO()
                    handle.setopt(pycurl.POSTFIELDS, bodies[next_index])
                    handle.setopt(pycurl.WRITEDATA, answer)
                    multi.add_handle(handle)
                    in_flight[handle] = (next_index, answer)
                next_index += 1
            _perform(multi)
            self._collect(multi, in_flight, outcomes, idle)
            wait = _MAX_WAIT_SECONDS
            if next_index < len(bodies) and len(in_flight) < MAX_IN_FLIGHT:
                wait = min(wait, max(0.0, first_at + next_index * spacing - time.monotonic()))
            if in_flight:
                curl_wait = multi.timeout()
                if curl_wait >= 0:
                    wait = min(wait, curl_wait / 1000)
                multi.select(wait)
            elif next_index < len(bodies) and wait > 0:
                time.sleep(wait)
        # Every body has its outcome by now (the loop runs until none is left).
        return [outcome for outcome in outcomes if outcome is not None]

    def close(self) -> None:
        """Close every handle of every thread (when no batch is running)."""
        with self._lock:
            handles, self._all_handles = self._all_handles, []
        for handle in handles:
            handle.close()
        self._local = threading.local()

    def _handles(self) -> tuple[pycurl.CurlMulti, list[pycurl.Curl]]:
        local = self._local
        if not hasattr(local, "multi"):
            local.multi = pycurl.CurlMulti()
            local.idle = []
            with self._lock:
                self._all_handles.append(local.multi)
        return local.multi, local.idle

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, self._url)
        handle.setopt(pycurl.POST, 1)
        handle.setopt(pycurl.HTTPHEADER, self._headers)
        handle.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, self._connect_timeout_ms)
        # "" = no proxy, also none from the environment (the caller decided already).
        handle.setopt(pycurl.PROXY, self._proxy)
        handle.setopt(pycurl.CAINFO, certifi.where())
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.USERAGENT, "Townhall")
        with self._lock:
            self._all_handles.append(handle)
        return handle

    @staticmethod
    def _collect(
        multi: pycurl.CurlMulti,
        in_flight: dict[pycurl.Curl, tuple[int, BytesIO]],
        outcomes: list[Outcome | None],
        idle: list[pycurl.Curl],
    ) -> None:
        while True:
            remaining, finished, failed = multi.info_read()
            for handle in finished:
                index, answer = in_flight.pop(handle)
                outcomes[index] = Answered(handle.getinfo(pycurl.RESPONSE_CODE), answer.getvalue())
                multi.remove_handle(handle)
                idle.append(handle)
            for handle, errno, message in failed:
                index, _answer = in_flight.pop(handle)
                reason = f"curl error {errno}: {message}"
                # Bytes of the request written: none means it never left us.
                if handle.getinfo(pycurl.REQUEST_SIZE) == 0:
                    outcomes[index] = NotSent(reason)
                else:
                    outcomes[index] = NoAnswer(reason)
                multi.remove_handle(handle)
                idle.append(handle)
            if not remaining:
                return


def _perform(multi: pycurl.CurlMulti) -> None:
    while True:
        status, _running = multi.perform()
        if status != pycurl.E_CALL_MULTI_PERFORM:
            return
