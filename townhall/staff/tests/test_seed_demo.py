import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from townhall.citizens.models import Citizen
from townhall.inbox.metrics import Period, inbox_metrics
from townhall.inbox.models import Conversation
from townhall.staff import roles
from townhall.staff.dashboard import joins_and_leaves, topic_history
from townhall.staff.management.commands.seed_demo import (
    DEMO_CITIZENS,
    DEMO_USERNAME,
    DEMO_USERS,
)
from townhall.whatsapp.models import Message, MessageStatusEvent


def seed(*args: str) -> str:
    output = StringIO()
    call_command("seed_demo", *args, stdout=output)
    return output.getvalue()


def authenticate(**credentials: str):
    """As the login page does: django-axes counts failures per request."""
    return django_authenticate(RequestFactory().post("/login/"), **credentials)


def printed_password(output: str) -> str:
    match = re.search(r"Password:\s+(\S+)", output)
    assert match, output
    return match.group(1)


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "citizens": Citizen.objects.count(),
        "messages": Message.objects.count(),
        "inbound": Message.objects.filter(direction="in").count(),
        "outbound": Message.objects.filter(direction="out").count(),
        "status_events": MessageStatusEvent.objects.count(),
    }


@pytest.mark.django_db
def test_seed_demo_creates_the_staff_user_and_conversations() -> None:
    output = seed()

    password = printed_password(output)
    assert "Login:     http://localhost:8000/login/" in output
    for role, username, _first_name, _last_name in DEMO_USERS:
        assert f"{role:<18} User: {username}" in output
        user = authenticate(username=username, password=password)
        assert user is not None
        assert user.is_staff
        assert not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert {role for role, *_ in DEMO_USERS} == set(roles.ROLES)
    assert counts()["citizens"] == len(DEMO_CITIZENS) == 8
    assert Message.objects.filter(type="image").count() == 1
    assert Message.objects.filter(type="location").count() == 1
    # The conversations' one failed reply (the info channel's demo posts have their own).
    failed = Message.objects.exclude(purpose="info").get(status="failed")
    assert failed.error_code == 131026
    assert Message.objects.filter(direction="in", handled_at__isnull=True).count() == 0
    assert Message.objects.filter(direction="out", status="queued").count() == 0
    for citizen in Citizen.objects.all():
        last_inbound = (
            Message.objects.filter(wa_id=citizen.wa_id, direction="in")
            .order_by("-created_at")
            .first()
        )
        assert citizen.last_inbound_at == last_inbound.created_at


@pytest.mark.django_db
def test_seed_demo_twice_adds_nothing_and_resets_the_password() -> None:
    first_password = printed_password(seed())
    counts_after_first_run = counts()

    output = seed()

    assert counts() == counts_after_first_run
    second_password = printed_password(output)
    assert second_password != first_password
    assert authenticate(username=DEMO_USERNAME, password=first_password) is None
    assert authenticate(username=DEMO_USERNAME, password=second_password) is not None
    assert "(0 new, 25 already there)" in output


@pytest.mark.django_db
def test_seed_demo_sets_the_given_password() -> None:
    output = seed("--password", "Rathaus-Demo-2025", "--base-url", "https://rathaus.example/")

    assert printed_password(output) == "Rathaus-Demo-2025"
    assert "Login:     https://rathaus.example/login/" in output
    assert authenticate(username=DEMO_USERNAME, password="Rathaus-Demo-2025") is not None


@pytest.mark.django_db
def test_seed_demo_refuses_a_weak_password_and_changes_nothing() -> None:
    with pytest.raises(CommandError):
        seed("--password", "1234")

    assert counts() == {
        "users": 0,
        "citizens": 0,
        "messages": 0,
        "inbound": 0,
        "outbound": 0,
        "status_events": 0,
    }


@pytest.mark.django_db
def test_seed_demo_fills_the_inbox_once() -> None:
    from townhall.inbox.models import CannedResponse, Conversation, Team

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    assert Conversation.objects.count() == 8
    assert Team.objects.count() == 3
    assert CannedResponse.objects.count() == 3
    assert Conversation.objects.filter(state="resolved").count() == 2


@pytest.mark.django_db
def test_seed_demo_gives_the_metrics_page_numbers() -> None:
    seed()

    metrics = inbox_metrics(Period.last_days(), no_staff="-", no_team="-")

    replied = Conversation.objects.filter(first_response_at__isnull=False).count()
    resolved = Conversation.objects.filter(state=Conversation.State.RESOLVED).count()
    assert replied >= 5 and resolved == 2
    assert metrics.first_response.count == replied
    assert metrics.resolution.count == resolved
    assert metrics.first_response.median is not None
    assert {group.name for group in metrics.by_team} >= {"Bürgermeisterbüro", "Ordnungsamt"}
    assert sum(metrics.daily.opened) == Conversation.objects.count()


@pytest.mark.django_db
def test_the_simulator_phones_are_the_seeded_citizens() -> None:
    # given: the demo's phones as the simulator offers them
    from townhall.simulator.engine import Simulator

    phones = {persona["wa_id"]: persona["name"] for persona in Simulator.personas()}

    # when
    seed()

    # then: each phone opens a citizen with a history under the same name, and the README's
    # example is one of them
    seeded = dict(Citizen.objects.filter(wa_id__in=phones).values_list("wa_id", "profile_name"))
    assert seeded == phones
    assert phones["4915112345601"] == "Anna Schneider"
    assert Message.objects.filter(wa_id="4915112345601").count() > 0


@pytest.mark.django_db
def test_the_demo_dashboard_shows_subscribers_joining_over_weeks_not_all_today() -> None:
    seed()
    seed()

    weeks_with_joins = [week for week in joins_and_leaves() if week.joins]
    urgent_alerts = topic_history("de").values["Dringende Meldungen"]

    assert len(weeks_with_joins) >= 4
    assert sum(week.joins for week in weeks_with_joins) == 8 + 6
    # The info channel's readers were there before its first demo post, a month ago.
    assert urgent_alerts[0] == urgent_alerts[-1] == 4
