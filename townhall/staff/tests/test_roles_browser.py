"""Roles and login security in Debian's Chromium: the second factor, the lockout, each
role's navigation and the audit log."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

PASSWORD = "Rathaus-Test-2025"
# The navigation each role sees (townhall/web/navigation.py, docs/permissions.md).
NAVIGATION = {
    "Administration": ["settings", "audit", "admin"],
    "Bürgermeister/in": [
        "dashboard",
        "inbox",
        "channel",
        "templates",
        "subscribers",
        "statistics",
        "messages",
        "office_hours",
        "audit",
    ],
    "Büro": [
        "dashboard",
        "inbox",
        "templates",
        "subscribers",
        "statistics",
        "messages",
        "office_hours",
    ],
    "Redaktion": ["channel", "templates", "office_hours"],
    "Freigabe": ["channel", "templates", "office_hours"],
    "Auswertung": ["dashboard", "channel", "subscribers", "statistics", "office_hours"],
}


def member(username: str, role: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def submit_login(page: Any, live_server: Any, username: str, password: str) -> None:
    page.goto(live_server.url + reverse("staff:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form .button--primary")


@pytest.mark.django_db(transaction=True)
def test_log_in_with_the_code_of_an_authenticator_app(live_server, new_page) -> None:
    user = member("sachbearbeitung", "Büro")
    device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
    page = new_page()

    submit_login(page, live_server, "sachbearbeitung", PASSWORD)
    page.wait_for_url(f"**{reverse('staff:two_factor_verify')}**")
    page.fill("#id_token", f"{totp(device.bin_key):06d}")
    page.click("form .button--primary")

    # the start page of the role (the dashboard), with the inbox in the navigation
    page.wait_for_url(f"**{reverse('staff:dashboard')}")
    assert page.locator('.mainnav [data-nav="inbox"]').is_visible()


@pytest.mark.django_db(transaction=True)
def test_the_sixth_wrong_password_is_refused(live_server, new_page) -> None:
    member("sachbearbeitung", "Büro")
    page = new_page()

    for _attempt in range(5):
        submit_login(page, live_server, "sachbearbeitung", "falsch-geraten-1")
        page.wait_for_load_state()
        assert page.get_by_text("Benutzername oder Passwort ist falsch.").is_visible()
    submit_login(page, live_server, "sachbearbeitung", "falsch-geraten-1")
    page.wait_for_load_state()

    assert page.locator('[data-testid="locked-out"]').is_visible()
    assert (
        "Zu viele fehlgeschlagene Anmeldungen"
        in page.locator('[data-testid="locked-out"]').inner_text()
    )


@pytest.mark.django_db(transaction=True)
def test_each_role_sees_only_the_navigation_it_may_use(live_server, new_page) -> None:
    for number, (role, expected) in enumerate(NAVIGATION.items()):
        member(f"rolle{number}", role)
        page = new_page()
        submit_login(page, live_server, f"rolle{number}", PASSWORD)
        page.wait_for_selector(".mainnav")

        shown = page.locator(".mainnav a").evaluate_all(
            "links => links.map(link => link.dataset.nav)"
        )

        assert shown == expected, role
        page.context.close()


@pytest.mark.django_db(transaction=True)
def test_an_audited_action_appears_in_the_audit_log(live_server, new_page) -> None:
    member("verwaltung", "Administration")
    page = new_page()
    # a failed and a successful login: both audited
    submit_login(page, live_server, "verwaltung", "falsch-geraten-1")
    page.wait_for_load_state()
    submit_login(page, live_server, "verwaltung", PASSWORD)
    page.goto(live_server.url + reverse("audit:log"))

    page.select_option("#id_actor_name", "verwaltung")
    page.click(".audit-filter .button--primary")
    page.wait_for_url("**actor_name=verwaltung**")

    rows = page.locator('[data-testid="audit-entry"]')
    assert rows.count() == 1
    assert rows.first.get_attribute("data-action") == "login"
    assert "Angemeldet" in rows.first.inner_text()
    assert page.locator('[data-action="login_failed"]').count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["de", "en"])
def test_the_navigation_fits_one_line_on_a_laptop_and_sticky_parts_stay_below_it(
    live_server, new_page, language
) -> None:
    # given: the role with the most entries, on a 1280 px wide screen
    member("buergermeisterin", "Bürgermeister/in")
    page = new_page(viewport={"width": 1280, "height": 800})
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    submit_login(page, live_server, "buergermeisterin", PASSWORD)
    page.wait_for_selector(".mainnav")

    # when
    link_tops = page.locator(".mainnav a").evaluate_all(
        "links => links.map(link => Math.round(link.getBoundingClientRect().top))"
    )
    bar_height = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")
    # The offset sticky side panels keep from the top (channel.css, inbox.css).
    sticky_offset = page.evaluate(
        """() => {
            const probe = document.createElement('div');
            probe.style.height = 'var(--topbar-height)';
            document.body.append(probe);
            const height = probe.getBoundingClientRect().height;
            probe.remove();
            return height;
        }"""
    )

    # then: nine entries on one line, and what sticks under the bar starts below it
    assert len(link_tops) == 9
    assert len(set(link_tops)) == 1, link_tops
    assert abs(bar_height - sticky_offset) <= 2, (bar_height, sticky_offset)


@pytest.mark.django_db(transaction=True)
def test_sticky_parts_stay_below_a_navigation_that_wraps(live_server, new_page) -> None:
    # given: a window too narrow for the mayor's nine entries on one line
    member("buergermeisterin", "Bürgermeister/in")
    page = new_page(viewport={"width": 900, "height": 800})
    submit_login(page, live_server, "buergermeisterin", PASSWORD)
    page.wait_for_selector(".mainnav")

    # when
    link_tops = page.locator(".mainnav a").evaluate_all(
        "links => links.map(link => Math.round(link.getBoundingClientRect().top))"
    )
    bar_height = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")
    page.wait_for_function(
        """height => {
            const probe = document.createElement('div');
            probe.style.height = 'var(--topbar-height)';
            document.body.append(probe);
            const offset = probe.getBoundingClientRect().height;
            probe.remove();
            return Math.abs(offset - height) <= 2;
        }""",
        arg=bar_height,
        timeout=3000,
    )

    # then: two lines of navigation, and the offset of sticky panels is the bar's height
    assert len(set(link_tops)) == 2, link_tops
