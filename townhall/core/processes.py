"""Start Townhall's real processes (web server, worker, simulator) on loopback.

Used by the end-to-end tests and the benchmarks, which must exercise the same servers a
city runs. Every wait is bounded; every process is stopped when the ``Stack`` closes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent.parent
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers (any HTTP status), or fail with the process's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@dataclass
class Stack:
    """Townhall web + worker + simulator, wired to each other on free loopback ports."""

    env: dict[str, str]
    log_dir: Path
    web_port: int = field(default_factory=free_port)
    simulator_port: int = field(default_factory=free_port)
    web_workers: int = 1
    # granian's threads per worker: each waits ~1-3 ms for its commit, so 4 left the CPU
    # idle under webhook load (docs/benchmarks.md, "Webhook intake").
    web_threads: int = 8
    worker_threads: int = 2
    processes: list[subprocess.Popen] = field(default_factory=list)
    worker: subprocess.Popen | None = None
    _named: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.web_url}/webhooks/whatsapp/"

    def process_env(self) -> dict[str, str]:
        from townhall.core import clock

        return {
            **os.environ,
            **clock.environment_for_children(),
            **self.env,
            "WHATSAPP_API_BASE_URL": self.simulator_url,
            "DJANGO_SETTINGS_MODULE": "townhall.settings",
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_file = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - fixed argument lists of our own programs
            args,
            cwd=BASE_DIR,
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        self._named[name] = process
        return process

    def _process_named(self, name: str) -> subprocess.Popen:
        return self._named[name]

    def start_simulator(self, extra_args: tuple[str, ...] = (), *, wait: bool = True) -> None:
        env = self.process_env()
        self._spawn(
            "simulator",
            [
                sys.executable,
                "-m",
                "townhall.simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.simulator_port),
                "--webhook-url",
                self.webhook_url,
                "--app-secret",
                env.get("WHATSAPP_APP_SECRET", "simulator-app-secret"),
                "--access-token",
                env.get("WHATSAPP_ACCESS_TOKEN", "simulator-access-token"),
                *extra_args,
            ],
            env,
        )
        if wait:
            self.wait_for_simulator()

    def wait_for_simulator(self) -> None:
        wait_for_http(f"{self.simulator_url}/_sim/stats", self._process_named("simulator"))

    def start_web(self, *, wait: bool = True) -> None:
        self._spawn(
            "web",
            [
                str(BIN_DIR / "granian"),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--workers",
                str(self.web_workers),
                "--blocking-threads",
                str(self.web_threads),
                "--log-level",
                "warning",
                "townhall.wsgi:application",
            ],
            self.process_env(),
        )
        if wait:
            self.wait_for_web()

    def wait_for_web(self) -> None:
        wait_for_http(f"{self.web_url}/webhooks/whatsapp/", self._process_named("web"))

    def start_worker(self) -> None:
        self.worker = self._spawn(
            "worker",
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "run_huey",
                "--workers",
                str(self.worker_threads),
                "--worker-type",
                "thread",
                "--delay",
                "0.05",
                "--max-delay",
                "0.2",
            ],
            self.process_env(),
        )

    def wait_for_worker(self, timeout: float = 30.0) -> None:
        """Wait until the worker's consumer runs (its start line in the log)."""
        log = self.log_dir / "worker.log"
        deadline = time.monotonic() + timeout
        while "Huey consumer started" not in (
            log.read_text(errors="replace") if log.exists() else ""
        ):
            if self._process_named("worker").poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.logs()}")
            time.sleep(0.05)

    def kill_worker(self) -> None:
        """Crash the task worker: SIGKILL, no cleanup; whatever it had in flight is lost."""
        if self.worker is None:
            raise RuntimeError("the worker was not started")
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)
        self.processes.remove(self.worker)
        self.worker = None

    def start(self) -> Stack:
        try:
            # Side by side: each spends seconds importing Python and Django. The worker
            # comes last, as in production: its periodic tasks (e.g. the template sync)
            # find the simulator up when they first run.
            self.start_simulator(wait=False)
            self.start_web(wait=False)
            self.wait_for_simulator()
            self.wait_for_web()
            self.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            # Children (e.g. granian's workers) that outlived their parent.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def logs(self) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# How the child processes' sessions appear in pg_stat_activity (tests end leftover ones).
CHILD_APPLICATION_NAME = "townhall-child"


def database_url_for_current_connection() -> str:
    """A DATABASE_URL for child processes that points at the database this process uses
    (the test database during tests)."""
    from django.db import connection

    config = connection.settings_dict
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(config['NAME']).resolve()}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{config['PORT']}" if config.get("PORT") else ""
    host = config.get("HOST") or "127.0.0.1"
    return (
        f"postgres://{credentials}{host}{port}/{config['NAME']}"
        f"?application_name={CHILD_APPLICATION_NAME}"
    )


# Debian's Chromium, never a downloaded browser. Without the background-networking flags
# Chromium keeps trying to reach Google's hosts, which this closed network refuses.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium for browser tests, from a Playwright instance."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
