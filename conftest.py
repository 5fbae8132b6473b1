"""Fixtures shared by all apps' tests.

- ``fake_cloud_api``: the Cloud API faked at the client boundary (httpx transport), for unit
  tests of our sending code. Nothing else of ours is ever mocked.
- ``live_stack``: the real web server, worker and simulator as processes on loopback, for
  end-to-end tests; they share the test database with the test process and its clock.
- The clock: ``TOWNHALL_TEST_NOW=<ISO 8601 with offset>`` starts the whole run at that
  instant (ticking); tests that need a date travel with time-machine on top of it.
- A task that raises fails the test (``fail_on_task_errors``); a test that provokes one on
  purpose says so with ``expect_task_errors``.
"""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
import time_machine
from django.apps import apps as django_apps
from django.conf import settings
from django.utils import translation
from huey.contrib.djhuey import HUEY
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from townhall.citysettings import config as city_config
from townhall.core import clock
from townhall.core.processes import (
    CHILD_APPLICATION_NAME,
    Stack,
    database_url_for_current_connection,
)
from townhall.whatsapp import client as client_module
from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.types import webhook_envelope

if TYPE_CHECKING:
    from townhall.core.pytest_plugin import TaskErrors

pytest_plugins = ["townhall.core.pytest_plugin", "pytester"]

# Property-based tests (hypothesis) run with a fixed budget: the same examples on every run
# (derandomize, no example database), no per-example deadline (CI machines vary). Locally,
# HYPOTHESIS_PROFILE=explore searches wider and at random.
_HYPOTHESIS_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    # The database fixtures are function-scoped on purpose: each example adds its own rows.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
hypothesis_settings.register_profile(
    "ci", max_examples=150, derandomize=True, print_blob=True, **_HYPOTHESIS_COMMON
)
hypothesis_settings.register_profile("explore", max_examples=5_000, **_HYPOTHESIS_COMMON)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def install_defaults(request: pytest.FixtureRequest) -> Iterator[None]:
    """The topics and consent text every install has from its data migration.

    A transactional test (live servers, end-to-end) ends by emptying all tables, taking the
    migration's rows with it; tests after it must still see a fresh install.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional_fixtures = {"transactional_db", "live_server", "live_stack"}
    if transactional_fixtures & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    ):
        request.getfixturevalue("transactional_db")
    elif marker is not None or "db" in request.fixturenames:
        request.getfixturevalue("db")
    else:
        # No database: the city's settings are the environment's defaults.
        city_config.prime(city_config.Snapshot(), keep=True)
        yield
        city_config.invalidate()
        return
    migration = importlib.import_module(
        "townhall.citizens.migrations.0003_default_topics_and_consent_text"
    )
    migration.create_defaults(django_apps, None)
    if "transactional_db" in request.fixturenames:
        # The flush took the roles of the staff app's data migration with it.
        from townhall.staff.roles import ensure_roles

        ensure_roles(django_apps)
    importlib.import_module(
        "townhall.citizens.migrations.0007_consent_text_with_age"
    ).create_consent_text(django_apps, None)
    # Settings saved by an earlier test are gone with its transaction; loaded now, so the
    # first read inside a query-count assertion costs nothing.
    city_config.prime()
    yield
    city_config.invalidate()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Each test ends in the default language: a test client request (LocaleMiddleware)
    leaves the language it negotiated active in the thread, and the next test's German
    messages would come out in English."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_rate_limiter(settings: Any) -> Iterator[None]:
    """Each test starts with full rate-limit buckets (in this process and in Redis); bot
    conversations in tests are faster than any citizen, so the pair limit's burst and the
    send rate are wide unless a test narrows them."""
    from townhall.whatsapp.rate_limit import clear_limiters

    settings.WHATSAPP = {
        **settings.WHATSAPP,
        "PAIR_LIMIT_BURST": 1000,
        "SEND_RATE_PER_SECOND": 100_000,
        # Backoff of retries follows the test's clock (next_attempt_at); the limiter's pause
        # runs on the real one, so tests of it turn it on themselves.
        "THROUGHPUT_BACKOFF_SECONDS": 0,
    }
    clear_limiters()
    if settings.REDIS_URL:
        import redis

        connection = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(connection.scan_iter(f"townhall:{settings.HUEY['name']}:rate:*"))
        if keys:
            connection.delete(*keys)
    yield
    clear_limiters()


@dataclass
class FakeCloudAPI:
    """Answers Graph API calls like Meta; ``fail_next`` queues error answers."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    queued_errors: list[tuple[int, dict[str, Any]] | Exception] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Called with (message id, request body) after "Meta" accepted a message and before the
    # answer is returned: a status webhook can overtake the answer.
    before_answer: Callable[[str, dict[str, Any]], None] | None = None

    def fail_next(self, code: int, *, http_status: int = 400, message: str = "error") -> None:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Atr"}
        self.queued_errors.append((http_status, {"error": error}))

    def time_out_next(self) -> None:
        """The next request reaches "Meta" (it is recorded) but its answer never comes."""
        self.queued_errors.append(httpx.ReadTimeout("timed out"))

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content) if request.content else {}
        self.requests.append({"path": request.url.path, "body": body, "headers": request.headers})
        if self.queued_errors:
            queued = self.queued_errors.pop(0)
            if isinstance(queued, Exception):
                next(self.ids)  # Meta did accept it, under an id we never learn
                raise queued
            status, error_body = queued
            return httpx.Response(status, json=error_body)
        if body.get("status") == "read":
            return httpx.Response(200, json={"success": True})
        message_id = f"wamid.fake-{next(self.ids)}"
        if self.before_answer is not None:
            self.before_answer(message_id, body)
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": message_id}],
            },
        )

    @property
    def sent_bodies(self) -> list[dict[str, Any]]:
        return [request["body"] for request in self.requests]


@pytest.fixture
def fake_cloud_api(monkeypatch: pytest.MonkeyPatch) -> FakeCloudAPI:
    fake = FakeCloudAPI()
    config = settings.WHATSAPP
    client = client_module.CloudAPIClient(
        base_url=config["API_BASE_URL"],
        api_version=config["API_VERSION"],
        phone_number_id=config["PHONE_NUMBER_ID"],
        access_token=config["ACCESS_TOKEN"],
        transport=httpx.MockTransport(fake.handler),
    )
    monkeypatch.setattr(client_module, "get_client", lambda: client)
    monkeypatch.setattr("townhall.whatsapp.actions.get_client", lambda: client)
    return fake


_inbound_ids = itertools.count(1)


@pytest.fixture
def deliver_inbound(django_capture_on_commit_callbacks, fake_cloud_api):
    """Deliver one citizen message as Meta would (signed body → intake → worker tasks →
    handlers) and return the request bodies our code sent to the Cloud API in response.

    ``at`` is when the citizen wrote it; the clock stands there while it is delivered and
    handled, unless ``delivered_at`` says the webhook came later (Meta re-delivers for up to
    7 days). Without either, the message is written and delivered now.
    """

    def deliver(
        message: dict[str, Any],
        *,
        wa_id: str,
        name: str,
        at: datetime | None = None,
        delivered_at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        before = len(fake_cloud_api.requests)
        written_at = at or delivered_at or clock.now()
        message = {
            "from": wa_id,
            "id": f"wamid.test-inbound-{next(_inbound_ids)}",
            "timestamp": str(int(written_at.timestamp())),
            **message,
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": settings.WHATSAPP["DISPLAY_PHONE_NUMBER"],
                "phone_number_id": settings.WHATSAPP["PHONE_NUMBER_ID"],
            },
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [message],
        }
        with (
            time_machine.travel(delivered_at or written_at, tick=True),
            django_capture_on_commit_callbacks(execute=True),
        ):
            do_record_webhook_event(orjson.dumps(webhook_envelope(value)))
        return fake_cloud_api.sent_bodies[before:]

    return deliver


@pytest.fixture
def live_stack_env() -> dict[str, str]:
    """Extra environment for the live stack's processes; a test module overrides it, e.g.
    to set the send rate of a broadcast test."""
    return {}


@pytest.fixture
def live_stack(
    transactional_db: None,
    tmp_path: Path,
    fail_on_task_errors: TaskErrors,
    live_stack_env: dict[str, str],
) -> Iterator[Stack]:
    """Simulator, web server and worker as real processes sharing the test database and
    the test's clock. A task that raised in the worker fails the test too."""
    HUEY.immediate = False
    HUEY.flush()
    env = {
        "DATABASE_URL": database_url_for_current_connection(),
        # The goodbye message is out within a second; tests need not wait 30 s for erasure.
        "TOWNHALL_ERASURE_DELAY_SECONDS": "1",
        # Inbox tests open the office around the clock; a holiday must not close it.
        "TOWNHALL_OFFICE_OBSERVES_HOLIDAYS": "0",
        **live_stack_env,
    }
    stack = Stack(env=env, log_dir=tmp_path / "logs")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        _end_leftover_database_sessions()
        HUEY.flush()
    worker_log = (tmp_path / "logs" / "worker.log").read_text(errors="replace")
    for line in worker_log.splitlines():
        if "Unhandled exception in task" in line:
            fail_on_task_errors.errors.append(("worker", RuntimeError(line)))


def _end_leftover_database_sessions() -> None:
    """A stopped server's worker processes may keep their PostgreSQL session open for a
    moment; the next test's flush and the final DROP DATABASE need the database free.
    Only the stack's sessions: the test process's own (e.g. live_server's) stay."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [CHILD_APPLICATION_NAME],
        )


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_until


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright's sync API, for browser tests."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    from townhall.core.processes import launch_chromium

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test
    # itself are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            # Connections opened while the loop ran belong to its context; closed here,
            # they do not keep the test database busy when it is dropped.
            connections.close_all()
            browser.close()


@pytest.fixture
def new_page(chromium: Any) -> Callable[..., Any]:
    """Opens a page as a staff member in Musterstadt would: German, Berlin time; keyword
    arguments go to the browser context (e.g. ``viewport``)."""

    def open_page(*, timeout_seconds: float = 10, **context_options: Any) -> Any:
        options = {"locale": "de-DE", "timezone_id": "Europe/Berlin", **context_options}
        context = chromium.new_context(**options)
        if abs(clock.offset_from_machine_clock()) > 1:
            # The page's Date runs on the test's clock too (it keeps ticking from there).
            context.clock.install(time=clock.now())
        page = context.new_page()
        page.set_default_timeout(timeout_seconds * 1000)
        return page

    return open_page
