"""Pytest plugin of Townhall's suite: the suite's clock and task failures.

Registered by the root ``conftest.py``; a plugin module (not conftest code) so that a test can
run an inner pytest session with it and prove that a crashing task fails a test.

- ``TOWNHALL_TEST_NOW=<ISO 8601 with offset>`` starts the whole run at that instant (it keeps
  ticking); tests that need a date travel with time-machine on top of it, and end-to-end
  processes follow through ``clock.environment_for_children()``.
- Tasks run immediately in the test process (``huey_immediate``); one that raises fails the
  test (``fail_on_task_errors``) unless the test asks for ``expect_task_errors``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import time_machine
from huey import signals as huey_signals
from huey.contrib.djhuey import HUEY

from townhall.core import clock

TEST_NOW_VARIABLE = "TOWNHALL_TEST_NOW"


def pytest_configure(config: pytest.Config) -> None:
    """Hash test passwords quickly (``core/testing_hashers.py``), and start the suite's
    clock at ``TOWNHALL_TEST_NOW`` (it keeps ticking from there)."""
    from django.conf import settings

    if settings.configured:
        settings.PASSWORD_HASHERS = [
            "townhall.core.testing_hashers.QuickPBKDF2PasswordHasher",
            *settings.PASSWORD_HASHERS,
        ]
    start = os.environ.get(TEST_NOW_VARIABLE)
    if not start:
        return
    instant = datetime.fromisoformat(start)
    if instant.tzinfo is None:
        raise pytest.UsageError(
            f"{TEST_NOW_VARIABLE} needs an offset, e.g. 2027-03-28T01:59:30+01:00"
        )
    time_machine.travel(instant, tick=True).start()


def pytest_report_header(config: pytest.Config) -> str:
    return f"clock: {clock.now().isoformat()} (offset {clock.offset_from_machine_clock():+.0f} s)"


@pytest.fixture(autouse=True)
def huey_immediate() -> Iterator[None]:
    """Tasks run synchronously in the test process unless a test starts a real worker."""
    HUEY.immediate = True
    yield
    HUEY.immediate = False


@dataclass
class TaskErrors:
    """Exceptions raised by tasks during one test (Huey logs them and goes on)."""

    errors: list[tuple[str, BaseException]] = field(default_factory=list)
    expected: bool = False

    def record(self, signal: str, task: Any, exc: BaseException | None = None) -> None:
        if exc is not None:
            self.errors.append((task.name, exc))


_task_errors = TaskErrors()
HUEY.signal(huey_signals.SIGNAL_ERROR)(_task_errors.record)


@pytest.fixture(autouse=True)
def fail_on_task_errors() -> Iterator[TaskErrors]:
    """A task that raises fails the test, unless the test asked for ``expect_task_errors``."""
    _task_errors.errors.clear()
    _task_errors.expected = False
    yield _task_errors
    errors, _task_errors.errors = list(_task_errors.errors), []
    if errors and not _task_errors.expected:
        name, exc = errors[0]
        pytest.fail(
            f"{len(errors)} task(s) raised; first: {name}: {type(exc).__name__}: {exc}",
            pytrace=False,
        )


@pytest.fixture
def expect_task_errors(fail_on_task_errors: TaskErrors) -> TaskErrors:
    """For tests of failure handling: task exceptions are collected, not failures."""
    fail_on_task_errors.expected = True
    return fail_on_task_errors
