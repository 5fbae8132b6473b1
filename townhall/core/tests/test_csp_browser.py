"""The strict Content-Security-Policy in Debian's Chromium: no page of the staff app or the
public site breaks it (no inline script, handler or eval), and htmx still polls."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from townhall.inbox.tests.factories import (
    PASSWORD,
    citizen_writes,
    make_chat_citizen,
    open_around_the_clock,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]


def collect_violations(page: Any) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "unsafe-eval" in message.text
            else None
        ),
    )
    return violations


@pytest.mark.django_db(transaction=True)
def test_staff_and_public_pages_run_under_the_policy(live_server, new_page) -> None:
    # given
    open_around_the_clock()
    conversation = citizen_writes(make_chat_citizen("Anna Schneider"), "Wann ist Sperrmüll?")
    get_user_model().objects.create_superuser("leitung", password=PASSWORD)
    page = new_page()
    violations = collect_violations(page)
    page.goto(live_server.url + reverse("staff:login"))
    page.fill("#id_username", "leitung")
    page.fill("#id_password", PASSWORD)
    page.click("form .button--primary")
    page.wait_for_load_state()
    # when: pages with htmx, polling, charts and forms
    paths = [
        reverse("inbox:list"),
        reverse("inbox:conversation", args=[conversation.pk]),
        reverse("staff:message_log"),
        reverse("staff:subscribers"),
        reverse("channel:posts"),
        reverse("citizens:subscribe"),
        reverse("citizens:privacy"),
    ]
    for path in paths:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    # then: the conversation page polls its history (every 3 s) without eval
    page.goto(live_server.url + reverse("inbox:conversation", args=[conversation.pk]))
    with page.expect_request(lambda request: "/history/" in request.url, timeout=8000):
        pass
    assert violations == []
