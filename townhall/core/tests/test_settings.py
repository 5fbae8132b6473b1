"""Settings that the demo and an install depend on, read as a fresh process reads them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PRINT_PUBLIC_URL = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'townhall.settings'; "
    "django.setup(); from django.conf import settings; print(settings.PUBLIC_BASE_URL)"
)


def public_url(**env: str) -> str:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TOWNHALL_PUBLIC_URL", "TOWNHALL_PORT", "TOWNHALL_HOST"}
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_PUBLIC_URL],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        # TOWNHALL_PORT=28000 ./run.sh demo: the links citizens get point at port 28000.
        ({"TOWNHALL_PORT": "28000"}, "http://127.0.0.1:28000"),
        ({"TOWNHALL_HOST": "192.168.1.20", "TOWNHALL_PORT": "28000"}, "http://192.168.1.20:28000"),
        (
            {"TOWNHALL_PORT": "28000", "TOWNHALL_PUBLIC_URL": "https://rathaus.example/"},
            "https://rathaus.example",
        ),
    ],
)
def test_the_public_url_follows_the_port_unless_it_is_set(
    env: dict[str, str], expected: str
) -> None:
    assert public_url(**env) == expected
