"""Helpers to run the simulator as a real process in end-to-end tests and benchmarks.

``SimulatorProcess`` starts ``python -m townhall.simulator`` on a free loopback port;
``WebhookReceiver`` stands in for Townhall's webhook endpoint, records what arrives and
checks each signature. Loopback only: nothing here reaches the internet. Both are context
managers, so a crashing benchmark still stops the child process::

    with WebhookReceiver() as receiver, SimulatorProcess(webhook_url=receiver.url) as sim:
        sim.send({...})
"""

import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The simulator's well-known demo credentials (see SimulatorConfig); not secrets.
DEFAULT_ACCESS_TOKEN = "simulator-access-token"  # noqa: S105
DEFAULT_APP_SECRET = "simulator-app-secret"  # noqa: S105
DEFAULT_PHONE_NUMBER_ID = "100000000000001"
API_VERSION = "v21.0"

T = TypeVar("T")


# One client for the tests' calls to the processes they start: ``httpx.get`` builds a new
# client with a fresh TLS context each time (~30 ms), which made a loop over 1,000 phones
# take a minute. Thread-safe, keep-alive; never used for anything but loopback.
local_http = httpx.Client(timeout=30.0, trust_env=False)


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    condition: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Poll until ``condition`` returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def wait_for_items(items: Callable[[], list[T]], count: int, *, timeout: float = 10.0) -> list[T]:
    """Poll ``items`` until it has at least ``count`` entries and return them."""
    return wait_for(lambda: found if len(found := items()) >= count else None, timeout=timeout)


@dataclass(frozen=True)
class ReceivedWebhook:
    """One POST the receiver got."""

    body: bytes
    signature: str
    is_signature_valid: bool
    answered_status: int
    received_at: float

    @property
    def payload(self) -> dict[str, Any]:
        data = orjson.loads(self.body)
        if not isinstance(data, dict):
            raise TypeError("webhook body is not a JSON object")
        return data

    def values(self) -> list[dict[str, Any]]:
        return [change["value"] for entry in self.payload["entry"] for change in entry["changes"]]

    def messages(self) -> list[dict[str, Any]]:
        return [message for value in self.values() for message in value.get("messages", [])]

    def statuses(self) -> list[dict[str, Any]]:
        return [status for value in self.values() for status in value.get("statuses", [])]


class WebhookReceiver:
    """A tiny threaded HTTP server that records signed webhook POSTs."""

    def __init__(self, app_secret: str = DEFAULT_APP_SECRET) -> None:
        self.app_secret = app_secret
        self._lock = threading.Lock()
        self._received: list[ReceivedWebhook] = []
        self._failures_left = 0
        self._failure_status = 500
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, like a real web server; also keeps benchmarks from measuring
            # connection setup.
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                signature = self.headers.get("X-Hub-Signature-256", "")
                status = receiver._answer_status()
                receiver._record(body, signature, status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: request lines would only clutter test output."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/whatsapp/"

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` (to exercise re-delivery)."""
        with self._lock:
            self._failures_left = count
            self._failure_status = status

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._failures_left = 0

    def _answer_status(self) -> int:
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                return self._failure_status
            return 200

    def _record(self, body: bytes, signature: str, status: int) -> None:
        expected = "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        webhook = ReceivedWebhook(
            body=body,
            signature=signature,
            is_signature_valid=hmac.compare_digest(signature, expected),
            answered_status=status,
            received_at=time.monotonic(),
        )
        with self._lock:
            self._received.append(webhook)

    @property
    def received(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self._received)

    def accepted(self) -> list[ReceivedWebhook]:
        """Webhooks answered with 2xx, in arrival order."""
        return [webhook for webhook in self.received if 200 <= webhook.answered_status < 300]

    def statuses_for(self, wamid: str) -> list[str]:
        """Accepted status names for one business message, in arrival order."""
        return [
            status["status"]
            for webhook in self.accepted()
            for status in webhook.statuses()
            if status["id"] == wamid
        ]

    def webhooks_for_message(self, wamid: str) -> list[ReceivedWebhook]:
        """All deliveries (also failed attempts) carrying the inbound message ``wamid``."""
        return [
            webhook
            for webhook in self.received
            if any(message["id"] == wamid for message in webhook.messages())
        ]


class SimulatorProcess:
    """``python -m townhall.simulator`` as a child process on a free loopback port."""

    def __init__(
        self,
        *,
        webhook_url: str,
        settings: Mapping[str, object] | None = None,
        port: int | None = None,
        threads: int = 8,
    ) -> None:
        self.port = port or free_port()
        self.webhook_url = webhook_url
        self.settings = dict(settings or {})
        self.threads = threads
        self.output_lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self.client = httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "SimulatorProcess":
        """Start and wait until ``/_sim/health`` answers."""
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("SIMULATOR_")
        }
        environment["PYTHONUNBUFFERED"] = "1"
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), environment.get("PYTHONPATH")])
        )
        command = [
            sys.executable,
            "-m",
            "townhall.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--threads",
            str(self.threads),
            "--webhook-url",
            self.webhook_url,
        ]
        for name, value in self.settings.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                command.append(flag if value else "--no-" + name.replace("_", "-"))
            else:
                command += [flag, str(value)]
        # The command is this interpreter running our own module with our own flags.
        self._process = subprocess.Popen(  # noqa: S603
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Drain output continuously: a full pipe would block the simulator.
        threading.Thread(target=self._read_output, daemon=True).start()
        wait_for(self._is_ready, timeout=timeout, interval=0.05)
        return self

    def _read_output(self) -> None:
        if self._process is None or self._process.stdout is None:
            return
        for line in self._process.stdout:
            self.output_lines.append(line.rstrip("\n"))

    def _is_ready(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(
                "simulator exited during start:\n" + "\n".join(self.output_lines[-30:])
            )
        try:
            return self.client.get("/_sim/health").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait; returns the exit code (kills after ``timeout``)."""
        self.client.close()
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        return int(self._process.returncode)

    def __enter__(self) -> "SimulatorProcess":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- convenience calls --

    def send(
        self,
        payload: Mapping[str, Any],
        *,
        access_token: str | None = DEFAULT_ACCESS_TOKEN,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    ) -> httpx.Response:
        """``POST /{version}/{phone_number_id}/messages`` as Townhall would."""
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        return self.client.post(
            f"/{API_VERSION}/{phone_number_id}/messages", json=dict(payload), headers=headers
        )

    def control(
        self,
        method: str,
        path: str,
        json: Mapping[str, Any] | None = None,
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Call the control API and return its JSON; raises on HTTP errors.

        For ``/_sim/flush`` pass a ``timeout`` above the flush's own.
        """
        response = self.client.request(
            method, path, json=dict(json) if json is not None else None, timeout=timeout
        )
        response.raise_for_status()
        data = response.json()
        if not isinstance(data, dict):
            raise TypeError(f"{path} did not answer a JSON object")
        return data
