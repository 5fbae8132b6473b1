"""The HTTP side of a broadcast: one POST per message, many in flight, each at its send slot.

libcurl's multi interface (pycurl) in one I/O thread per process: the dispatchers hand it
their batches and wait; every request is added when its slot comes, in slot order across
the batches, up to ``MAX_IN_FLIGHT`` travel at once over kept-alive connections (HTTP/2
where the server offers it), and the thread waits in ``select`` without the GIL. One
sender keeps the requests of all dispatchers in one order: when dispatchers sent on their
own threads, one that lost the CPU for a moment sent its slightly late requests among
another's punctual ones, and the simulator counted 130429 in most runs at 1,000/s.
aiohttp did the same from an event loop at 0.25 ms of CPU per request in isolation and
0.68 ms inside the worker (almost half of the worker's CPU); libcurl does it at 0.06-0.13 ms
(``bench/http_clients.py``, docs/benchmarks.md).

The sender only moves bytes: what an answer means is ``CloudAPIClient``'s business.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO

import certifi
import pycurl

logger = logging.getLogger(__name__)

# Requests one sender (all dispatchers of a process) keeps in flight at once. The Graph API
# answers each send in tens of milliseconds; 100 in flight carry 1,000 msg/s with room.
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


@dataclass(eq=False)
class _Batch:
    bodies: Sequence[bytes]
    first_at: float
    spacing: float
    late_limit: float | None
    outcomes: list[Outcome | None]
    done: threading.Event = field(default_factory=threading.Event)
    left: int = 0


class BatchSender:
    """POSTs bodies to one URL with fixed headers, for many threads at once: ``send`` hands
    a batch to the sender's I/O thread (started on first use) and waits for its outcomes."""

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
        self._submitted: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)

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
        if not bodies:
            return []
        batch = _Batch(bodies, first_at, spacing, late_limit, [None] * len(bodies))
        batch.left = len(bodies)
        self._start()
        self._submitted.put(batch)
        os.write(self._wake_write, b"x")
        batch.done.wait()
        # Every body has its outcome by now (the batch is done when none is left).
        return [outcome for outcome in batch.outcomes if outcome is not None]

    def close(self) -> None:
        """Stop the I/O thread once its batches are done; its handles close with it."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._submitted.put(None)
            os.write(self._wake_write, b"x")
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cloud-api-io", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        waiting: list[tuple[float, int, _Batch, int]] = []
        in_flight: dict[pycurl.Curl, tuple[_Batch, int, BytesIO]] = {}
        try:
            self._loop(waiting, in_flight)
        except Exception:
            # A bug here must not leave dispatchers waiting for ever: what never left is
            # NotSent (sent again), what was under way is NoAnswer (reconciled or resent).
            logger.exception("whatsapp.batch_sender_failed")
            with self._lock:
                self._thread = None
            for _slot, _tie, batch, index in waiting:
                _settle(batch, index, NotSent("the sender stopped"))
            for batch, index, _answer in in_flight.values():
                _settle(batch, index, NoAnswer("the sender stopped"))
            while True:
                try:
                    pending = self._submitted.get_nowait()
                except queue.Empty:
                    break
                if pending is not None:
                    for index in range(len(pending.bodies)):
                        _settle(pending, index, NotSent("the sender stopped"))

    def _loop(
        self,
        waiting: list[tuple[float, int, _Batch, int]],
        in_flight: dict[pycurl.Curl, tuple[_Batch, int, BytesIO]],
    ) -> None:
        multi = pycurl.CurlMulti()
        # Keep up to a full pool's connections between batches (by default libcurl keeps
        # four per request in flight, and opened hundreds anew in a broadcast).
        multi.setopt(pycurl.M_MAXCONNECTS, MAX_IN_FLIGHT)
        handles: list[pycurl.Curl] = []
        idle: list[pycurl.Curl] = []
        # ``waiting``: (slot, tie-breaker, batch, index) of every request not yet sent.
        order = itertools.count()
        stopping = False
        while True:
            while True:
                try:
                    batch = self._submitted.get_nowait()
                except queue.Empty:
                    break
                if batch is None:
                    stopping = True
                    continue
                for index in range(len(batch.bodies)):
                    slot = batch.first_at + index * batch.spacing
                    heapq.heappush(waiting, (slot, next(order), batch, index))
            if stopping and not waiting and not in_flight:
                break
            now = time.monotonic()
            while waiting and waiting[0][0] <= now and len(in_flight) < MAX_IN_FLIGHT:
                slot, _tie, batch, index = heapq.heappop(waiting)
                if batch.late_limit is not None and now - slot > batch.late_limit:
                    _settle(batch, index, Late(now - slot))
                    continue
                if not idle:
                    handle = self._new_handle()
                    handles.append(handle)
                    idle.append(handle)
                handle = idle.pop()
                answer = BytesIO()
                handle.setopt(pycurl.POSTFIELDS, batch.bodies[index])
                handle.setopt(pycurl.WRITEDATA, answer)
                multi.add_handle(handle)
                in_flight[handle] = (batch, index, answer)
            _perform(multi)
            _collect(multi, in_flight, idle)
            # Nothing to do: sleep until a batch comes (the pipe wakes us).
            wait: float | None = _MAX_WAIT_SECONDS if waiting or in_flight else None
            if wait is not None and waiting and len(in_flight) < MAX_IN_FLIGHT:
                wait = min(wait, max(0.0, waiting[0][0] - time.monotonic()))
            curl_wait = multi.timeout()
            if wait is not None and in_flight and curl_wait >= 0:
                wait = min(wait, curl_wait / 1000)
            _wait_for_sockets(multi, self._wake_read, wait)
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_read, 4096)
        for handle in handles:
            handle.close()
        multi.close()

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
        return handle


def _wait_for_sockets(multi: pycurl.CurlMulti, wake: int, seconds: float | None) -> None:
    """Until one of libcurl's sockets or the wake pipe is ready, or ``seconds`` pass.
    ``poll``, not ``select``: a process may hold more than 1,024 descriptors (libcurl's
    fdset leaves those out; waits are at most 50 ms while requests are in flight, so such a
    socket is still served, only later)."""
    readable, writable, failed = multi.fdset()
    events: dict[int, int] = {wake: select.POLLIN}
    for fds, flag in (
        (readable, select.POLLIN),
        (writable, select.POLLOUT),
        (failed, select.POLLPRI),
    ):
        for fd in fds:
            events[fd] = events.get(fd, 0) | flag
    poller = select.poll()
    for fd, mask in events.items():
        poller.register(fd, mask)
    poller.poll(None if seconds is None else seconds * 1000)


def _settle(batch: _Batch, index: int, outcome: Outcome) -> None:
    batch.outcomes[index] = outcome
    batch.left -= 1
    if batch.left == 0:
        batch.done.set()


def _collect(
    multi: pycurl.CurlMulti,
    in_flight: dict[pycurl.Curl, tuple[_Batch, int, BytesIO]],
    idle: list[pycurl.Curl],
) -> None:
    while True:
        remaining, finished, failed = multi.info_read()
        for handle in finished:
            batch, index, answer = in_flight.pop(handle)
            multi.remove_handle(handle)
            idle.append(handle)
            _settle(batch, index, Answered(handle.getinfo(pycurl.RESPONSE_CODE), answer.getvalue()))
        for handle, errno, message in failed:
            batch, index, _answer = in_flight.pop(handle)
            reason = f"curl error {errno}: {message}"
            # Bytes of the request written: none means it never left us.
            sent = handle.getinfo(pycurl.REQUEST_SIZE) > 0
            multi.remove_handle(handle)
            idle.append(handle)
            _settle(batch, index, NoAnswer(reason) if sent else NotSent(reason))
        if not remaining:
            return


def _perform(multi: pycurl.CurlMulti) -> None:
    while True:
        status, _running = multi.perform()
        if status != pycurl.E_CALL_MULTI_PERFORM:
            return
