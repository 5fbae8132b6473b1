"""Every URL of the project × every role (and anonymous) against docs/permissions.md.

The table in the docs is the contract: a page added without a row fails here with the row
to add, and a role that can suddenly open (or no longer open) a page fails with the cell
that changed. Each request runs in its own rolled-back transaction with a fresh login, so
POST-only pages (tried with an empty POST when GET answers 405) change nothing for the next.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from townhall.channel.actions import do_save_draft
from townhall.channel.models import MessagePrice
from townhall.citysettings import texts
from townhall.core import clock
from townhall.inbox.models import ClosedDay
from townhall.inbox.tests.factories import make_conversation
from townhall.staff import roles
from townhall.whatsapp.models import Message, MessageTemplate

TABLE = Path(__file__).resolve().parents[3] / "docs" / "permissions.md"
ANONYMOUS = "anonymous"
COLUMNS = [ANONYMOUS, *roles.ROLES]
OUTCOMES = {"ok", "redirect", "login", "403", "404", "400"}


@dataclass(frozen=True)
class Route:
    name: str
    regex: str
    parameters: tuple[str, ...]


def _walk(resolver: URLResolver, namespace: str = "", prefix: str = "") -> list[Route]:
    routes: list[Route] = []
    for pattern in resolver.url_patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            routes.extend(_walk(pattern, inner, regex))
        elif isinstance(pattern, URLPattern):
            name = pattern.name or "<unnamed>/" + _readable(regex)
            full_name = f"{namespace}:{name}" if namespace else name
            parameters = tuple(re.compile(regex).groupindex)
            routes.append(Route(full_name, regex, parameters))
    return routes


def _readable(regex: str) -> str:
    """``admin/auth/user/(?P<object_id>.+)/\\Z`` -> ``admin/auth/user/<object_id>/``."""
    readable = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", r"<\1>", regex)
    return readable.replace("\\Z", "").replace("$", "").replace("\\", "")


def all_routes() -> list[Route]:
    return _walk(get_resolver())


def read_table() -> dict[str, dict[str, str]]:
    """Rows of the table: URL name (or glob) -> {column: outcome}."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None if not line.strip() else header
            continue
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if cells[0] == "URL name":
            header = cells
            continue
        if header is None or set(cells[0]) <= {"-", ":"}:
            continue
        row = dict(zip(header, cells, strict=True))
        rows[row["URL name"]] = {column: row[column] for column in COLUMNS}
    return rows


def row_for(name: str, table: dict[str, dict[str, str]]) -> dict[str, str] | None:
    if name in table:
        return table[name]
    for key, row in table.items():
        if "*" in key and fnmatch.fnmatchcase(name, key):
            return row
    return None


@dataclass
class Samples:
    values: dict[str, str]
    # Per URL name, where a parameter's name means another object (the admin's ``pk``).
    overrides: dict[str, dict[str, str]]


def make_samples() -> Samples:
    conversation = make_conversation("Klaus Becker", "Die Laterne ist aus.")
    citizen = conversation.citizen
    message = Message.objects.filter(wa_id=citizen.wa_id, direction="in").first()
    editor = User.objects.create_user("sample-editor", is_staff=True)
    editor.groups.add(Group.objects.get(name=roles.EDITORS))
    post = do_save_draft(
        author=User.objects.get(pk=editor.pk),
        kind="normal",
        topics=[],
        versions={"de": ("Sperrung", "Die Hauptstraße ist gesperrt.")},
    )
    template = MessageTemplate.objects.create(
        name="sample", language="de", body="Hallo {{1}}", status="APPROVED"
    )
    price = MessagePrice.objects.create(category="marketing", price="0.1", valid_from=clock.today())
    device = TOTPDevice.objects.create(user=editor, name="sample", confirmed=True)
    closed_day = ClosedDay.objects.create(date=clock.today(), reason="Betriebsausflug")
    device_pk = {"pk": str(device.pk)}
    return Samples(
        {
            "pk": str(conversation.pk),
            "post_id": str(post.pk),
            "citizen_id": str(citizen.pk),
            "message_id": str(message.pk),
            "template_id": str(template.pk),
            "price_id": str(price.pk),
            "public_id": str(getattr(post, "public_id", post.pk)),
            "topic_slug": "verkehr",
            "token": "sample-token",
            "uidb64": urlsafe_base64_encode(b"999999"),
            "object_id": "999999",
            "id": "999999",
            "content_type_id": "1",
            "app_label": "auth",
            "url": "nowhere/",
            "path": "nothing.txt",
            "closed_day_id": str(closed_day.pk),
            "key": next(iter(texts.SPECS)),
            "language": "de",
        },
        {
            "admin:otp_totp_totpdevice_config": device_pk,
            "admin:otp_totp_totpdevice_qrcode": device_pk,
        },
    )


def sample_path(route: Route, samples: Samples) -> str:
    """The route's regex with each group replaced by its sample value."""
    path = route.regex
    values = {**samples.values, **samples.overrides.get(route.name, {})}
    for parameter in route.parameters:
        path = re.sub(rf"\(\?P<{parameter}>(?:[^()]|\([^()]*\))*\)", values[parameter], path)
    path = path.replace("\\Z", "").replace("$", "").replace("\\", "")
    return "/" + path


def outcome(response: Any) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        location = response["Location"]
        logins = (reverse("staff:login"), reverse("admin:login"))
        return "login" if location.startswith(logins) else "redirect"
    if 200 <= response.status_code < 300:
        return "ok"
    return str(response.status_code)


def request_as(user: User | None, path: str, query: dict[str, str]) -> str:
    with transaction.atomic():
        client = Client()
        if user is not None:
            client.force_login(user)
        response = client.get(path, query)
        if response.status_code == 405:
            response = client.post(path, {})
        result = outcome(response)
        transaction.set_rollback(True)
    return result


def role_user(role: str) -> User | None:
    if role == ANONYMOUS:
        return None
    username = "role-" + re.sub(r"\W", "", role.lower())
    user, _created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.groups.set([Group.objects.get(name=role)])
    return User.objects.get(pk=user.pk)


# Pages that need a query string to be the page at all.
QUERIES = {
    "whatsapp:webhook": {
        "hub.mode": "subscribe",
        "hub.verify_token": "simulator-verify-token",
        "hub.challenge": "1",
    }
}


def test_every_url_has_a_row_in_the_permissions_table() -> None:
    table = read_table()
    missing = [route.name for route in all_routes() if row_for(route.name, table) is None]

    assert missing == [], (
        f"URLs without a row in {TABLE.name}; add one per URL (see the top of the file): "
        + ", ".join(missing)
    )
    for name, row in table.items():
        assert set(row.values()) <= OUTCOMES, f"{name}: unknown outcome in {row}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", COLUMNS)
def test_each_role_opens_exactly_the_pages_the_table_allows(role: str) -> None:
    # given: one of each object the pages show, and a user with exactly this role
    samples = make_samples()
    user = role_user(role)
    table = read_table()

    # when: the user opens every URL
    differences = []
    for route in all_routes():
        row = row_for(route.name, table)
        if row is None:
            continue  # reported by the test above
        actual = request_as(user, sample_path(route, samples), QUERIES.get(route.name, {}))
        if actual != row[role]:
            differences.append(f"{route.name}: table says {row[role]}, the page answers {actual}")

    # then: each answer is the table's
    assert differences == []
