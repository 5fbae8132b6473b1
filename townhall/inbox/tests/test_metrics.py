"""Inbox metrics: the percentile and duration arithmetic on hand-built events, the backlog and
one conversation through the real actions, and the metrics page."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from time_machine import TimeMachineFixture

from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import ConsentRecord, Offering
from townhall.core import clock
from townhall.inbox.actions import do_assign, do_receive_chat_message, do_reply, do_set_state
from townhall.inbox.metrics import (
    DurationStats,
    GroupTimes,
    Period,
    TeamBacklog,
    inbox_metrics,
    percentile,
)
from townhall.inbox.models import Conversation, ConversationEvent, Team
from townhall.inbox.views_metrics import format_duration
from townhall.whatsapp.tests.factories import make_citizen, make_inbound

BERLIN = ZoneInfo("Europe/Berlin")
MARCH_2025 = Period(start=date(2025, 3, 1), end=date(2025, 3, 31))
# Not a holiday in North Rhine-Westphalia; within office hours.
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
METRICS_URL = reverse("inbox_metrics:overview")
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
NO_STAFF, NO_TEAM = "(nobody)", "(no team)"
FIRST_RESPONSE = ConversationEvent.Kind.FIRST_RESPONSE
RESOLVED = ConversationEvent.Kind.RESOLVED
OPENED = ConversationEvent.Kind.OPENED
REOPENED = ConversationEvent.Kind.REOPENED
# Queries of inbox_metrics(): teams, staff names, durations, backlog, daily counts.
METRICS_QUERIES = 5

_numbers = itertools.count(1)


# --- helpers ------------------------------------------------------------------------------------


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def staff_member(username: str, first_name: str = "", last_name: str = "") -> object:
    """A member of the role Büro, which may use the inbox and read its statistics."""
    user = get_user_model().objects.create_user(
        username,
        password="x-Passwort-2026",
        is_staff=True,
        first_name=first_name,
        last_name=last_name,
    )
    user.groups.add(Group.objects.get(name="Büro"))
    return user


def conversation(
    *, team: Team | None = None, assignee: object = None, acting_user: object = None
) -> Conversation:
    """A citizen with a chat subscription writes once (through the inbox action)."""
    citizen = make_citizen(f"491600000{next(_numbers):04d}", "Murat Yilmaz", clock.now())
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    result = do_receive_chat_message(citizen, make_inbound(citizen, "Hallo", at=clock.now()))
    if team is not None or assignee is not None:
        do_assign(result, assignee=assignee, team=team, acting_user=acting_user)
    return result


def event(
    on: Conversation,
    kind: str,
    at: datetime,
    office_seconds: int | None = None,
    actor: object = None,
) -> ConversationEvent:
    """A metrics event with a chosen time and duration (the actions stamp the current time)."""
    return ConversationEvent.objects.create(
        conversation=on,
        kind=kind,
        created_at=at,
        office_seconds=office_seconds,
        actor=actor,
        # The team as stored now (the actions lock and re-read the row, so ``on`` may be stale).
        team_id=Conversation.objects.values_list("team_id", flat=True).get(pk=on.pk),
    )


@pytest.fixture(autouse=True)
def on_a_working_day(time_machine: TimeMachineFixture) -> None:
    """Every test runs on an ordinary Monday at 10:00 in Musterstadt: the office is open, so
    a citizen's message gets no auto-reply, and "today" is a known date."""
    time_machine.move_to(MONDAY_MORNING)


@pytest.fixture
def staff_client(client: Client, db: None) -> Client:
    client.force_login(staff_member("sachbearbeitung", "Maria", "Schmitz"))
    return client


# --- arithmetic ---------------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks_like_percentile_cont() -> None:
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    assert percentile([10, 20, 30, 40, 50], 0.5) == 30
    assert percentile([7], 0.9) == 7
    assert percentile([], 0.5) is None


def test_duration_stats_sort_their_values() -> None:
    assert DurationStats.of([300, 60, 120]) == DurationStats(count=3, median=120, p90=264)
    assert DurationStats.of([]) == DurationStats(count=0, median=None, p90=None)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (0, "0 s"),
        (45, "45 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),
        (12 * 60 + 20, "12 min"),
        (3600, "1 h"),
        (80 * 60, "1 h 20 min"),
        (80 * 60 + 29, "1 h 20 min"),
        (100_000, "27 h 47 min"),
    ],
)
def test_durations_read_as_hours_and_minutes(seconds: float | None, text: str) -> None:
    with translation.override("en"):
        assert format_duration(seconds) == text


# --- metrics from hand-built events --------------------------------------------------------------


@pytest.mark.django_db
def test_times_overall_per_staff_member_and_per_team() -> None:
    # given
    maria = staff_member("maria", "Maria", "Schmitz")
    jan = staff_member("jan")  # no name: the username is shown
    citizens_office = Team.objects.create(name="Bürgerbüro")
    public_order = Team.objects.create(name="Ordnungsamt")
    first = conversation(team=citizens_office)
    second = conversation(team=citizens_office)
    third = conversation(team=public_order)
    fourth = conversation()
    event(first, FIRST_RESPONSE, berlin(2025, 3, 3, 9), 600, maria)
    event(first, RESOLVED, berlin(2025, 3, 4, 11), 7200, maria)
    event(second, FIRST_RESPONSE, berlin(2025, 3, 5, 10), 1800, jan)
    event(second, RESOLVED, berlin(2025, 3, 5, 12), 3600, maria)
    event(third, FIRST_RESPONSE, berlin(2025, 3, 1, 0, 0), 300, maria)  # first moment
    event(third, RESOLVED, berlin(2025, 3, 31, 23, 59), 86_400, jan)  # last minute
    event(fourth, FIRST_RESPONSE, berlin(2025, 3, 10, 8, 30), 120)  # actor unknown
    # Outside the period (local days), or not a duration: ignored.
    event(first, FIRST_RESPONSE, berlin(2025, 2, 28, 23, 59), 99_999, maria)
    event(first, RESOLVED, berlin(2025, 4, 1, 0, 0), 99_999, maria)
    event(second, OPENED, berlin(2025, 3, 5, 9))

    # when
    metrics = inbox_metrics(MARCH_2025, no_staff=NO_STAFF, no_team=NO_TEAM)

    # then: first responses 120, 300, 600, 1800; resolutions 3600, 7200, 86400
    assert metrics.first_response == DurationStats(count=4, median=450, p90=pytest.approx(1440))
    assert metrics.resolution == DurationStats(count=3, median=7200, p90=pytest.approx(70_560))
    assert metrics.by_staff == [
        GroupTimes(
            key=jan.pk,
            name="jan",
            first_response=DurationStats(count=1, median=1800, p90=1800),
            resolution=DurationStats(count=1, median=86_400, p90=86_400),
        ),
        GroupTimes(
            key=maria.pk,
            name="Maria Schmitz",
            first_response=DurationStats(count=2, median=450, p90=pytest.approx(570)),
            resolution=DurationStats(count=2, median=5400, p90=pytest.approx(6840)),
        ),
        GroupTimes(
            key=None,
            name=NO_STAFF,
            first_response=DurationStats(count=1, median=120, p90=120),
            resolution=DurationStats(count=0, median=None, p90=None),
        ),
    ]
    assert metrics.by_team == [
        GroupTimes(
            key=citizens_office.pk,
            name="Bürgerbüro",
            first_response=DurationStats(count=2, median=1200, p90=pytest.approx(1680)),
            resolution=DurationStats(count=2, median=5400, p90=pytest.approx(6840)),
        ),
        GroupTimes(
            key=public_order.pk,
            name="Ordnungsamt",
            first_response=DurationStats(count=1, median=300, p90=300),
            resolution=DurationStats(count=1, median=86_400, p90=86_400),
        ),
        GroupTimes(
            key=None,
            name=NO_TEAM,
            first_response=DurationStats(count=1, median=120, p90=120),
            resolution=DurationStats(count=0, median=None, p90=None),
        ),
    ]


@pytest.mark.django_db
def test_opened_and_resolved_per_calendar_day_of_the_city() -> None:
    # given
    first, second = conversation(), conversation()
    period = Period(start=date(2025, 3, 1), end=date(2025, 3, 3))
    event(first, OPENED, berlin(2025, 3, 1, 0, 0))
    event(second, OPENED, berlin(2025, 3, 1, 23, 59))
    event(first, RESOLVED, berlin(2025, 3, 2, 0, 30), 1800)  # 23:30 UTC on March 1st
    event(first, REOPENED, berlin(2025, 3, 3, 9))
    event(first, FIRST_RESPONSE, berlin(2025, 3, 3, 9, 5), 300)  # not counted per day
    event(second, OPENED, berlin(2025, 2, 28, 23, 59))  # the day before
    event(second, RESOLVED, berlin(2025, 3, 4, 0, 0), 60)  # the day after

    # when
    daily = inbox_metrics(period, no_staff=NO_STAFF, no_team=NO_TEAM).daily

    # then
    assert daily.days == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    assert daily.opened == [2, 0, 1]
    assert daily.resolved == [0, 1, 0]


@pytest.mark.django_db
def test_times_stay_with_the_team_that_answered_after_a_move() -> None:
    # given: the Bürgerbüro resolves a conversation, later it moves to the Ordnungsamt
    maria = staff_member("maria", "Maria", "Schmitz")
    citizens_office = Team.objects.create(name="Bürgerbüro")
    public_order = Team.objects.create(name="Ordnungsamt")
    answered = conversation(team=citizens_office)
    do_set_state(answered, Conversation.State.RESOLVED, acting_user=maria)
    do_assign(answered, team=public_order, acting_user=maria)

    # when
    metrics = inbox_metrics(Period.last_days(1), no_staff=NO_STAFF, no_team=NO_TEAM)

    # then
    assert [(group.name, group.resolution.count) for group in metrics.by_team] == [
        ("Bürgerbüro", 1)
    ]


@pytest.mark.django_db
def test_backlog_counts_unresolved_conversations_per_team_now() -> None:
    # given
    maria = staff_member("maria", "Maria", "Schmitz")
    building = Team.objects.create(name="Bauamt")
    citizens_office = Team.objects.create(name="Bürgerbüro")
    Team.objects.create(name="Standesamt")  # nothing to do
    conversation(team=building)  # new
    conversation(team=building, assignee=maria, acting_user=maria)  # open
    waiting = conversation(team=building)
    do_set_state(waiting, Conversation.State.WAITING, acting_user=maria)
    done = conversation(team=citizens_office)
    do_set_state(done, Conversation.State.RESOLVED, acting_user=maria)
    conversation(team=citizens_office)  # new
    conversation()  # new, no team

    # when
    metrics = inbox_metrics(MARCH_2025, no_staff=NO_STAFF, no_team=NO_TEAM)

    # then
    assert metrics.backlog == [
        TeamBacklog(team_id=building.pk, name="Bauamt", new=1, open=1, waiting=1),
        TeamBacklog(team_id=citizens_office.pk, name="Bürgerbüro", new=1, open=0, waiting=0),
        TeamBacklog(
            team_id=Team.objects.get(name="Standesamt").pk,
            name="Standesamt",
            new=0,
            open=0,
            waiting=0,
        ),
        TeamBacklog(team_id=None, name=NO_TEAM, new=1, open=0, waiting=0),
    ]
    assert metrics.backlog_total == 5


@pytest.mark.django_db
def test_a_conversation_through_the_actions_is_counted(fake_cloud_api) -> None:
    # given: a citizen writes, Maria answers and resolves it
    maria = staff_member("maria", "Maria", "Schmitz")
    team = Team.objects.create(name="Bürgerbüro")
    talk = conversation(team=team, assignee=maria, acting_user=maria)
    do_reply(talk, "Wir kümmern uns.", acting_user=maria)
    do_set_state(talk, Conversation.State.RESOLVED, acting_user=maria)
    first_response = talk.events.get(kind=FIRST_RESPONSE)
    resolution = talk.events.get(kind=RESOLVED)

    # when
    metrics = inbox_metrics(Period.last_days(7), no_staff=NO_STAFF, no_team=NO_TEAM)

    # then
    assert metrics.daily.opened[-1] == 1
    assert metrics.daily.resolved[-1] == 1
    assert sum(metrics.daily.opened) == 1
    assert metrics.first_response == DurationStats.of([first_response.office_seconds])
    assert metrics.resolution == DurationStats.of([resolution.office_seconds])
    assert [
        (row.name, row.first_response.count, row.resolution.count) for row in metrics.by_staff
    ] == [("Maria Schmitz", 1, 1)]
    assert [(row.name, row.resolution.count) for row in metrics.by_team] == [("Bürgerbüro", 1)]
    assert metrics.backlog_total == 0


@pytest.mark.django_db
def test_default_period_is_the_last_thirty_days_including_today(
    time_machine: TimeMachineFixture,
) -> None:
    # given: half past midnight on New Year's Day in Musterstadt, still 2027 in UTC
    time_machine.move_to(berlin(2028, 1, 1, 0, 30))

    metrics = inbox_metrics(no_staff=NO_STAFF, no_team=NO_TEAM)

    assert metrics.period.end == date(2028, 1, 1)
    assert metrics.period.length == 30
    assert len(metrics.daily.days) == 30


@pytest.mark.django_db
def test_metrics_run_a_constant_number_of_queries(django_assert_num_queries) -> None:
    # given: a little data
    maria = staff_member("maria", "Maria", "Schmitz")
    team = Team.objects.create(name="Bürgerbüro")
    talk = conversation(team=team)
    event(talk, FIRST_RESPONSE, berlin(2025, 3, 3, 9), 600, maria)
    with django_assert_num_queries(METRICS_QUERIES):
        inbox_metrics(MARCH_2025, no_staff=NO_STAFF, no_team=NO_TEAM)

    # when: more staff, teams, conversations and events
    for index in range(5):
        person = staff_member(f"person{index}", "Person", str(index))
        other = conversation(team=Team.objects.create(name=f"Team {index}"))
        event(other, OPENED, berlin(2025, 3, 4 + index, 9))
        event(other, FIRST_RESPONSE, berlin(2025, 3, 4 + index, 10), 60 * index, person)
        event(other, RESOLVED, berlin(2025, 3, 5 + index, 10), 600 * index, person)

    # then
    with django_assert_num_queries(METRICS_QUERIES):
        metrics = inbox_metrics(MARCH_2025, no_staff=NO_STAFF, no_team=NO_TEAM)
    assert metrics.first_response.count == 6


# --- the page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_shows_charts_and_tables_for_staff(staff_client: Client) -> None:
    # given
    maria = staff_member("maria", "Maria", "Schmitz")
    team = Team.objects.create(name="Bürgerbüro")
    talk = conversation(team=team)
    event(talk, OPENED, berlin(2025, 3, 3, 8))
    event(talk, FIRST_RESPONSE, berlin(2025, 3, 3, 9), 80 * 60, maria)
    event(talk, RESOLVED, berlin(2025, 3, 4, 9), 3 * 3600, maria)

    # when
    response = staff_client.get(
        METRICS_URL, {"start": "2025-03-01", "end": "2025-03-31"}, **ENGLISH
    )

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Inbox metrics</h1>" in html
    for chart_id in ("inbox-daily", "inbox-first-response-per-staff", "inbox-backlog-per-team"):
        assert f'<svg id="{chart_id}"' in html
    for table_id in ("daily-table", "staff-table", "team-table", "backlog-table"):
        assert f'id="{table_id}"' in html
    assert '<g class="chart__bar" data-label="Maria Schmitz" data-value="80">' in html
    assert '<g class="chart__bar" data-label="Bürgerbüro" data-value="1">' in html
    assert '<g class="chart__series" data-series="Opened" data-last-value="0">' in html
    assert "<strong>1 h 20 min</strong> <span>Median first response</span>" in html
    assert "<strong>3 h</strong> <span>Median time to resolution</span>" in html
    assert 'value="2025-03-01"' in html and 'value="2025-03-31"' in html


@pytest.mark.django_db
def test_page_without_data_shows_the_last_thirty_days(staff_client: Client) -> None:
    response = staff_client.get(METRICS_URL, **ENGLISH)

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["metrics"].period == Period.last_days()
    assert "No first responses or resolutions in this period." in html
    assert '<svg id="inbox-first-response-per-staff"' not in html
    assert '<svg id="inbox-daily"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2025-03-31", "2025-03-01", "The first day must not be after the last day."),
        ("2024-01-01", "2025-03-01", "Please choose at most 366 days."),
        ("gestern", "2025-03-01", "Enter a valid date."),
    ],
)
def test_invalid_period_is_explained_and_the_default_shown(
    staff_client: Client, start: str, end: str, error: str
) -> None:
    response = staff_client.get(METRICS_URL, {"start": start, "end": end}, **ENGLISH)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert response.context["metrics"].period == Period.last_days()


@pytest.mark.django_db
def test_page_refuses_users_without_staff_rights(client: Client) -> None:
    client.force_login(get_user_model().objects.create_user("buerger", password="x-Passwort-2026"))

    assert client.get(METRICS_URL).status_code == 403


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login_page(client: Client) -> None:
    response = client.get(METRICS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))


@pytest.mark.django_db
def test_page_queries_do_not_grow_with_the_data(staff_client: Client) -> None:
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(METRICS_URL, {"start": "2025-03-01", "end": "2025-03-31"})
        assert response.status_code == 200
        return len(queries)

    maria = staff_member("maria", "Maria", "Schmitz")
    event(conversation(), FIRST_RESPONSE, berlin(2025, 3, 3, 9), 600, maria)
    few = page_queries()
    for index in range(4):
        person = staff_member(f"person{index}", "Person", str(index))
        talk = conversation(team=Team.objects.create(name=f"Team {index}"))
        event(talk, FIRST_RESPONSE, berlin(2025, 3, 10, 9) + timedelta(days=index), 60, person)
        event(talk, RESOLVED, berlin(2025, 3, 11, 9) + timedelta(days=index), 600, person)

    assert page_queries() == few
