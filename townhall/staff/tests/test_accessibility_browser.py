"""axe-core in Debian's Chromium on every staff and public page, with the demo's data:
no serious or critical accessibility violation (WCAG 2.1 AA rules and axe's best
practices). axe comes from the ``axe-playwright-python`` package (``axe.min.js`` inside it);
nothing is fetched from the internet."""

from __future__ import annotations

import contextlib
import importlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from townhall.channel.models import MessagePrice, Post
from townhall.channel.public_queries import published_posts
from townhall.citizens.links import make_token
from townhall.citizens.models import Citizen, Offering, Subscription
from townhall.core import clock
from townhall.inbox.models import Conversation
from townhall.staff.roles import ensure_roles
from townhall.whatsapp.models import MessageTemplate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

AXE_SCRIPT = Path(axe_playwright_python.__file__).with_name("axe.min.js")
BLOCKING_IMPACTS = ("serious", "critical")
ANNA = "4915112345601"


def _citizen() -> Citizen:
    return Citizen.objects.get(wa_id=ANNA)


def _password_reset_path() -> str:
    # The link of the reset e-mail; opening it leads on to the form for the new password.
    user = get_user_model().objects.get(username="barrierefrei")
    return reverse(
        "staff:password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    )


def _chat_only_citizen() -> Citizen:
    info = Subscription.objects.filter(offering=Offering.INFO, state=Subscription.State.ACTIVE)
    return Citizen.objects.exclude(pk__in=info.values("citizen")).filter(
        subscriptions__offering=Offering.CHAT
    )[0]


def _post_with_approval_trail() -> Post:
    return Post.objects.exclude(state=Post.State.DRAFT).order_by("-pk").first()  # type: ignore[return-value]


def _post_in(state: str) -> Post:
    post = Post.objects.filter(state=state).order_by("pk").first()
    if post is None:
        raise LookupError(f"the demo has no post in state {state}")
    return post


# (name, who looks, the page's path built from the demo data)
PAGES: list[tuple[str, str, Callable[[], str]]] = [
    ("login", "anonymous", lambda: reverse("staff:login")),
    ("password_reset", "anonymous", lambda: reverse("staff:password_reset")),
    ("password_reset_done", "anonymous", lambda: reverse("staff:password_reset_done")),
    ("password_reset_confirm", "anonymous", lambda: _password_reset_path()),
    ("password_reset_complete", "anonymous", lambda: reverse("staff:password_reset_complete")),
    ("subscribe", "anonymous", lambda: reverse("citizens:subscribe")),
    ("privacy", "anonymous", lambda: reverse("citizens:privacy")),
    ("archive", "anonymous", lambda: reverse("channel_public:list")),
    (
        "archive_post",
        "anonymous",
        lambda: reverse("channel_public:post", args=[published_posts().first().public_id]),  # type: ignore[union-attr]
    ),
    (
        "preferences",
        "anonymous",
        lambda: reverse("citizens:preferences", args=[make_token(_citizen(), "preferences")]),
    ),
    (
        # Topics shown while the info channel is not ticked.
        "preferences_chat_only",
        "anonymous",
        lambda: reverse(
            "citizens:preferences", args=[make_token(_chat_only_citizen(), "preferences")]
        ),
    ),
    (
        "erase_confirm",
        "anonymous",
        lambda: reverse("citizens:erase", args=[make_token(_citizen(), "preferences")]),
    ),
    ("dashboard", "staff", lambda: reverse("staff:dashboard")),
    ("settings", "staff", lambda: reverse("citysettings:index")),
    ("settings_city", "staff", lambda: reverse("citysettings:city")),
    ("settings_privacy", "staff", lambda: reverse("citysettings:privacy")),
    ("settings_office_hours", "staff", lambda: reverse("citysettings:office_hours")),
    ("settings_channel", "staff", lambda: reverse("citysettings:channel")),
    ("settings_whatsapp", "staff", lambda: reverse("citysettings:whatsapp")),
    ("settings_texts", "staff", lambda: reverse("citysettings:texts")),
    ("audit_log", "staff", lambda: reverse("audit:log")),
    ("two_factor_setup", "staff", lambda: reverse("staff:two_factor_setup")),
    ("message_log", "staff", lambda: reverse("staff:message_log")),
    ("citizen_log", "staff", lambda: reverse("staff:citizen_log", args=[_citizen().pk])),
    ("inbox", "staff", lambda: reverse("inbox:list")),
    (
        "conversation",
        "staff",
        lambda: reverse(
            "inbox:conversation", args=[Conversation.objects.get(citizen=_citizen()).pk]
        ),
    ),
    ("inbox_metrics", "staff", lambda: reverse("inbox_metrics:overview")),
    ("subscribers", "staff", lambda: reverse("staff:subscribers")),
    ("subscriber", "staff", lambda: reverse("staff:subscriber", args=[_citizen().pk])),
    ("subscriber_erase", "staff", lambda: reverse("staff:subscriber_erase", args=[_citizen().pk])),
    ("posts", "staff", lambda: reverse("channel:posts")),
    ("compose", "staff", lambda: reverse("channel:compose")),
    ("post", "staff", lambda: reverse("channel:post", args=[_post_with_approval_trail().pk])),
    # A sent post shows its delivery bar.
    ("post_sent", "staff", lambda: reverse("channel:post", args=[_post_in(Post.State.SENT).pk])),
    ("post_edit", "staff", lambda: reverse("channel:edit", args=[_post_in(Post.State.DRAFT).pk])),
    (
        "send_urgent",
        "staff",
        lambda: reverse("channel:send_urgent", args=[_post_in(Post.State.DRAFT).pk]),
    ),
    (
        "post_report",
        "staff",
        lambda: reverse("channel:report", args=[_post_in(Post.State.SENT).pk]),
    ),
    ("post_compare", "staff", lambda: reverse("channel:compare")),
    ("rate_card", "staff", lambda: reverse("channel:rate_card")),
    (
        "price_edit",
        "staff",
        lambda: reverse(
            "channel:price_edit", args=[MessagePrice.objects.order_by("pk").first().pk]
        ),  # type: ignore[union-attr]
    ),
    ("templates", "staff", lambda: reverse("staff:templates")),
    ("template_new", "staff", lambda: reverse("staff:template_new")),
    ("admin", "staff", lambda: reverse("admin:index")),
    (
        "template_detail",
        "staff",
        lambda: reverse(
            "staff:template_detail", args=[MessageTemplate.objects.order_by("pk").first().pk]
        ),  # type: ignore[union-attr]
    ),
]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']} – {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary'][:300]}")
    return "\n".join(lines)


@dataclass(frozen=True)
class DemoSite:
    url: str
    session_cookie: dict[str, str]
    paths: dict[str, str]


@contextlib.contextmanager
def _test_database() -> Iterator[None]:
    """pytest-django creates the test database only when a selected test asks for ``db``;
    these tests do not (each would run in a transaction the server could not see past)."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
        yield
        return
    config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        yield
    finally:
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="module")
def demo_site(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoSite]:
    """The demo's data seeded once for all pages, served by a server of this module.

    Seeding takes seconds; the pages only read. The tests themselves touch no database: the
    paths and a superuser's session are made here, and the data is removed at the end.
    """
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock(), _test_database():
        # What a fresh install has from its data migrations (an earlier transactional test
        # may have emptied the tables).
        importlib.import_module(
            "townhall.citizens.migrations.0003_default_topics_and_consent_text"
        ).create_defaults(django_apps, None)
        importlib.import_module(
            "townhall.channel.migrations.0002_rate_card_window_rules_and_meta_defaults"
        ).create_default_prices(django_apps, None)
        importlib.import_module(
            "townhall.citizens.migrations.0007_consent_text_with_age"
        ).create_consent_text(django_apps, None)
        ensure_roles(django_apps)
        call_command("seed_demo", "--password", "Barrierefrei-2026", stdout=StringIO())
        client = Client()
        # Every page, as the one account that may see them all.
        client.force_login(
            get_user_model().objects.create_superuser("barrierefrei", password="Axe-2026-Core")
        )
        paths = {name: path() for name, _who, path in PAGES}
        server = LiveServer("localhost")
        try:
            yield DemoSite(
                url=server.url,
                session_cookie={
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": server.url,
                },
                paths=paths,
            )
        finally:
            server.stop()
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for all pages (a launch costs seconds); each test gets a fresh context."""
    from playwright.sync_api import sync_playwright

    from townhall.core.processes import launch_chromium

    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an event loop in this thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def browser_context(browser: Any) -> Iterator[Any]:
    # As a staff member in Musterstadt sees it (like conftest's new_page).
    # bypass_csp: the pages forbid inline scripts (as they should); axe is injected as one.
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin", bypass_csp=True)
    if abs(clock.offset_from_machine_clock()) > 1:
        context.clock.install(time=clock.now())
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.mark.parametrize(("name", "who"), [page[:2] for page in PAGES], ids=[p[0] for p in PAGES])
def test_no_serious_accessibility_violations(
    name: str, who: str, demo_site: DemoSite, browser_context: Any
) -> None:
    # given: the page with the demo's data, as the person who uses it (staff: a superuser)
    if who == "staff":
        browser_context.add_cookies([demo_site.session_cookie])
    page = browser_context.new_page()
    url = demo_site.url + demo_site.paths[name]

    # when: axe checks the page as it is shown
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.add_script_tag(path=str(AXE_SCRIPT))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")

    # then
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert blocking == [], f"{name} ({url}):\n{describe(blocking)}"


def test_no_page_breaks_the_content_security_policy(demo_site: DemoSite, browser: Any) -> None:
    """Every page of the demo under the real policy (no bypass): no style attribute, no
    <style> without the response's nonce, no inline script; labels keep their colours."""
    # given: the pages as their users see them, reporting every violation
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    context.add_cookies([demo_site.session_cookie])
    page = context.new_page()
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', event =>"
        " window.violations.push(event.violatedDirective + ' ' + event.blockedURI));"
    )
    found: dict[str, list[str]] = {}
    # when
    for name, _who, _path in PAGES:
        response = page.goto(demo_site.url + demo_site.paths[name])
        assert response is not None and response.status == 200, name
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        violations = page.evaluate("window.violations")
        if violations:
            found[name] = violations
    page.goto(demo_site.url + demo_site.paths["inbox"])
    label_colours = page.locator(".inbox-label").evaluate_all(
        "chips => chips.map(chip => getComputedStyle(chip).getPropertyValue('--label-color'))"
    )
    context.close()
    # then
    assert found == {}
    assert "#b45309" in label_colours, label_colours


@pytest.mark.parametrize(
    ("name", "who"), [("privacy", "anonymous"), ("archive", "anonymous"), ("inbox", "staff")]
)
def test_the_language_buttons_are_finger_sized_on_a_phone(
    name: str, who: str, demo_site: DemoSite, browser: Any
) -> None:
    # given: a phone 375 px wide
    context = browser.new_context(
        locale="de-DE", timezone_id="Europe/Berlin", viewport={"width": 375, "height": 740}
    )
    if who == "staff":
        context.add_cookies([demo_site.session_cookie])
    page = context.new_page()

    # when
    page.goto(demo_site.url + demo_site.paths[name])
    boxes = [
        element.bounding_box()
        for element in page.locator(".langswitch button, .langswitch a").all()
    ]
    context.close()

    # then: DE and EN, each at least 44 × 44 px (they were 33 × 23)
    assert len(boxes) == 2
    for box in boxes:
        assert box is not None
        assert box["width"] >= 44 and box["height"] >= 44, box


# Routes that are no page of their own: form targets (POST), fragments that pages poll or
# load, downloads and feeds. Every other route must be in PAGES.
NOT_PAGES = {
    "set_language",
    "whatsapp:webhook",
    "citizens:export",
    "channel_public:attachment",
    "channel_public:feed",
    "channel_public:topic_feed",
    "staff:home",
    "staff:logout",
    "staff:citizen_history",
    "staff:retry_inbound_message",
    "staff:subscriber_export",
    "staff:subscriber_revoke_links",
    "staff:template_check",
    "staff:template_sync",
    "staff:template_submit",
    "inbox:list_poll",
    "inbox:history",
    "inbox:reply",
    "inbox:preview",
    "inbox:template",
    "inbox:note",
    "inbox:assign",
    "inbox:state",
    "inbox:priority",
    "inbox:labels",
    "inbox:react",
    "inbox:choices",
    "channel:autosave",
    "channel:preview",
    "channel:audience",
    "channel:progress",
    "channel:submit",
    "channel:approve",
    "channel:request_changes",
    "channel:review_after",
    "channel:pause",
    "channel:resume",
    "channel:cancel",
    "channel:price_add",
    "channel:price_delete",
    "citysettings:closed_day_add",
    "citysettings:closed_day_remove",
    "citysettings:text_save",
    "city_logo",
    "city_theme",
    "admin_login",  # sends visitors to the staff login
    "audit:export",
    "channel:poll_results",
    "channel:poll_csv",
    "channel:poll_close",
    "channel:poll_reopen",
    "channel:poll_send_results",
    # Pages that need a state the demo does not have; still to be checked (see the report):
    "staff:two_factor_verify",  # only between password and code of a login with TOTP
    "channel:poll",  # the demo has no poll yet
}
PAGE_ROUTES = {
    "login": "staff:login",
    "subscribe": "citizens:subscribe",
    "privacy": "citizens:privacy",
    "archive": "channel_public:list",
    "archive_post": "channel_public:post",
    "preferences": "citizens:preferences",
    "preferences_chat_only": "citizens:preferences",
    "erase_confirm": "citizens:erase",
    "dashboard": "staff:dashboard",
    "settings": "citysettings:index",
    "settings_city": "citysettings:city",
    "settings_privacy": "citysettings:privacy",
    "settings_office_hours": "citysettings:office_hours",
    "settings_channel": "citysettings:channel",
    "settings_whatsapp": "citysettings:whatsapp",
    "settings_texts": "citysettings:texts",
    "audit_log": "audit:log",
    "two_factor_setup": "staff:two_factor_setup",
    "password_reset": "staff:password_reset",
    "password_reset_done": "staff:password_reset_done",
    "password_reset_confirm": "staff:password_reset_confirm",
    "password_reset_complete": "staff:password_reset_complete",
    "message_log": "staff:message_log",
    "citizen_log": "staff:citizen_log",
    "inbox": "inbox:list",
    "conversation": "inbox:conversation",
    "inbox_metrics": "inbox_metrics:overview",
    "subscribers": "staff:subscribers",
    "subscriber": "staff:subscriber",
    "subscriber_erase": "staff:subscriber_erase",
    "posts": "channel:posts",
    "compose": "channel:compose",
    "post": "channel:post",
    "post_sent": "channel:post",
    "post_edit": "channel:edit",
    "send_urgent": "channel:send_urgent",
    "post_report": "channel:report",
    "post_compare": "channel:compare",
    "rate_card": "channel:rate_card",
    "price_edit": "channel:price_edit",
    "templates": "staff:templates",
    "template_new": "staff:template_new",
    "admin": "admin:index",
    "template_detail": "staff:template_detail",
}


def _route_names(patterns: list[Any], namespace: str | None = None) -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # Django's admin: checked by its index and one list above
            yield from _route_names(pattern.url_patterns, pattern.namespace or namespace)
        elif pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_page_of_townhall_is_checked() -> None:
    # A new page is checked by axe as soon as it has a route.
    assert set(PAGE_ROUTES) == {page[0] for page in PAGES}
    assert set(_route_names(get_resolver().url_patterns)) - NOT_PAGES == {
        route for route in PAGE_ROUTES.values() if not route.startswith("admin:")
    }
