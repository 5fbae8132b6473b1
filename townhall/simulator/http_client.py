"""A lean asyncio HTTP/1.1 client for the simulator's webhook POSTs.

The simulator must deliver thousands of status webhooks per second from one process that
also serves the Graph API. A general-purpose client (httpx) spends ~0.3 ms of CPU per request;
this one writes a prebuilt request and parses only what a webhook sender needs from the
answer (status code, body framing, keep-alive), which is a few tens of microseconds.
Each ``KeepAliveConnection`` is used by one sender coroutine at a time.

Supported: http and https, ``Content-Length``, chunked and close-delimited bodies,
``Connection: close``, one transparent retry when a reused keep-alive connection turns out to
have been closed by the server before answering (the POST may then arrive twice, which
webhook receivers must tolerate anyway: delivery is at least once).
"""

import asyncio
import functools
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024
CONNECT_TIMEOUT_SECONDS = 5.0


class ResponseError(Exception):
    """The server's answer is not an HTTP/1.1 response we can read."""


class ConnectionClosedError(ConnectionError):
    """The connection closed before a complete response arrived."""


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go, and the start of every request to it."""

    scheme: str
    host: str
    port: int
    request_line_and_host: bytes


@functools.lru_cache(maxsize=64)
def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    head = f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\n".encode("idna")
    return Target(parts.scheme, parts.hostname, port, head)


def _chunked_body_end(buffer: bytearray, start: int) -> int | None:
    """Offset after a complete chunked body starting at ``start``, or None if incomplete."""
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        try:
            size = int(bytes(buffer[position:line_end]).split(b";")[0].strip(), 16)
        except ValueError as error:
            raise ResponseError("invalid chunk size") from error
        position = line_end + 2
        if size == 0:
            if buffer[position : position + 2] == b"\r\n":
                return position + 2
            trailer_end = buffer.find(b"\r\n\r\n", position)
            return None if trailer_end < 0 else trailer_end + 4
        position += size + 2
        if position > len(buffer):
            return None


class _ResponseReader(asyncio.Protocol):
    """Reads one response per request; the caller awaits ``(status, keep_alive)``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.is_closed = False
        self.has_received_bytes = False
        # A response without Content-Length or chunking ends when the server closes.
        self._close_delimited_status: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, data: bytes) -> "asyncio.Future[tuple[int, bool]]":
        if self.transport is None:
            raise ConnectionClosedError("not connected")
        self.waiter = asyncio.get_running_loop().create_future()
        self.has_received_bytes = False
        self.buffer.clear()
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.has_received_bytes = True
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            # Bytes nobody asked for: the connection's framing is lost.
            self.close()
            return
        try:
            self._parse()
        except (ResponseError, ValueError) as error:
            self._fail(ResponseError(str(error)))
            self.close()

    def _parse(self) -> None:
        if self._close_delimited_status is not None:
            return
        header_end = self.buffer.find(b"\r\n\r\n")
        if header_end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise ResponseError("response header too large")
            return
        lines = bytes(self.buffer[:header_end]).split(b"\r\n")
        status_line = lines[0].split(b" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise ResponseError("not an HTTP/1.x response")
        status = int(status_line[1])
        if 100 <= status < 200:
            # An interim response (100 Continue): the real one follows.
            del self.buffer[: header_end + 4]
            self._parse()
            return
        keep_alive = status_line[0] == b"HTTP/1.1"
        content_length: int | None = None
        is_chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                content_length = int(value)
            elif name == b"transfer-encoding":
                is_chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.strip().lower()
                keep_alive = token == b"keep-alive" or (keep_alive and token != b"close")
        body_start = header_end + 4
        if status in (204, 304):
            end: int | None = body_start
        elif is_chunked:
            end = _chunked_body_end(self.buffer, body_start)
        elif content_length is not None:
            end = body_start + content_length
            if end > len(self.buffer):
                return
        else:
            self._close_delimited_status = status
            return
        if end is None:
            return
        if end < len(self.buffer):
            keep_alive = False  # pipelined bytes we never asked for
        self._resolve(status, keep_alive)

    def _resolve(self, status: int, keep_alive: bool) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, keep_alive))

    def _fail(self, error: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def time_out(self) -> None:
        self._fail(TimeoutError("webhook request timed out"))
        self.close()

    def close(self) -> None:
        self.is_closed = True
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        if self._close_delimited_status is not None:
            self._resolve(self._close_delimited_status, False)
        self._fail(ConnectionClosedError("connection closed before the response was complete"))


class KeepAliveConnection:
    """One reusable connection; opened on first use and whenever the target changes."""

    def __init__(self, *, user_agent: str) -> None:
        self._user_agent = user_agent.encode()
        self._reader: _ResponseReader | None = None
        self._target: Target | None = None
        self._ssl_context: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """POST ``body``; returns the status code. Raises OSError/TimeoutError/ResponseError."""
        target = parse_target(url)
        head = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        request = b"%sUser-Agent: %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
            target.request_line_and_host,
            self._user_agent,
            head,
            len(body),
            body,
        )
        is_reused = self._reader is not None and not self._reader.is_closed
        if is_reused and self._target != target:
            self.close()
            is_reused = False
        try:
            return await self._exchange(target, request, timeout)
        except ConnectionError:
            if not is_reused:
                raise
            # The server closed the idle keep-alive connection: once more on a fresh one.
            return await self._exchange(target, request, timeout)

    async def _exchange(self, target: Target, request: bytes, timeout: float) -> int:
        reader = self._reader
        if reader is None or reader.is_closed:
            reader = await self._open(target)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, reader.time_out)
        try:
            status, keep_alive = await reader.send(request)
        except BaseException:
            self.close()
            raise
        finally:
            timer.cancel()
        if not keep_alive:
            self.close()
        return status

    async def _open(self, target: Target) -> _ResponseReader:
        self.close()
        loop = asyncio.get_running_loop()
        ssl_context = None
        if target.scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            ssl_context = self._ssl_context
        _transport, reader = await asyncio.wait_for(
            loop.create_connection(_ResponseReader, target.host, target.port, ssl=ssl_context),
            CONNECT_TIMEOUT_SECONDS,
        )
        self._reader, self._target = reader, target
        return reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader = None
