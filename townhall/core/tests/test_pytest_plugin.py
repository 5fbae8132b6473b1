"""The suite's plugin: a task that raises fails the test that ran it.

Huey's immediate mode logs a task's exception and goes on, so without the plugin a crashing
handler would pass unnoticed. Each test here runs an inner pytest session in a subprocess
with only the plugin and Django's settings, and reads its report.
"""

from __future__ import annotations

import pytest

CRASHING_TASK = """
from huey.contrib.djhuey import task


@task()
def crash():
    raise RuntimeError("the task crashed")
"""

PLUGIN_ARGUMENTS = ("-p", "townhall.core.pytest_plugin", "--ds=townhall.settings", "-q")


@pytest.fixture
def inner_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The plugin imports Huey's Django integration, which reads the settings on import.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "townhall.settings")
    return pytester


def test_a_task_that_raises_fails_the_test(inner_session: pytest.Pytester) -> None:
    # given
    inner_session.makepyfile(
        test_inner=CRASHING_TASK
        + """

def test_calls_a_crashing_task():
    crash()
"""
    )

    # when
    result = inner_session.runpytest_subprocess(*PLUGIN_ARGUMENTS)

    # then
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*1 task(s) raised; first: *crash: RuntimeError: the task crashed*"]
    )
    # the test body itself passed; the failure is reported when the test finishes
    result.assert_outcomes(passed=1, errors=1)


def test_a_test_that_expects_task_errors_passes_and_sees_them(
    inner_session: pytest.Pytester,
) -> None:
    # given
    inner_session.makepyfile(
        test_inner=CRASHING_TASK
        + """

def test_calls_a_crashing_task(expect_task_errors):
    crash()

    assert [(name.rsplit(".", 1)[-1], str(exc)) for name, exc in expect_task_errors.errors] == [
        ("crash", "the task crashed")
    ]
"""
    )

    # when
    result = inner_session.runpytest_subprocess(*PLUGIN_ARGUMENTS)

    # then
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)


def test_a_task_that_succeeds_passes(inner_session: pytest.Pytester) -> None:
    inner_session.makepyfile(
        test_inner="""
from huey.contrib.djhuey import task


@task()
def add(a, b):
    return a + b


def test_calls_a_task():
    assert add(1, 2)() == 3
"""
    )

    result = inner_session.runpytest_subprocess(*PLUGIN_ARGUMENTS)

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
