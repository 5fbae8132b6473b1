import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from time_machine import TimeMachineFixture, travel

from townhall.citizens.actions import (
    do_erase_citizen,
    do_request_erasure,
    do_request_subscription,
    do_set_notification_mode,
    do_set_topics,
    do_subscribe_directly,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    NotificationMode,
    Offering,
    Subscription,
)
from townhall.core import clock
from townhall.staff.access import (
    access_subscriber_erasure,
    access_subscriber_export,
    access_subscriber_search,
)
from townhall.staff.subscribers import HISTORY_DAYS, subscriber_history
from townhall.whatsapp.models import Message
from townhall.whatsapp.tests.factories import make_citizen, make_inbound

CHAT, INFO = Offering.CHAT, Offering.INFO
BUTTON = ConsentRecord.Channel.WHATSAPP_BUTTON
KEYWORD = ConsentRecord.Channel.WHATSAPP_KEYWORD
STAFF = ConsentRecord.Channel.STAFF
OVERVIEW_URL = reverse("staff:subscribers")
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
CHAT_LABEL = "Chat with the mayor's office"
INFO_LABEL = "Info channel"


# --- helpers ------------------------------------------------------------------------------------


def subscribe(
    wa_id: str, name: str, offerings: Sequence[str], topics: Sequence[str] = ()
) -> Citizen:
    citizen = make_citizen(wa_id, name)
    do_subscribe_directly(citizen, offerings, channel=BUTTON)
    if topics:
        do_set_topics(citizen, topics, channel=BUTTON)
    return citizen


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


@contextmanager
def recorded_at(moment: datetime) -> Iterator[None]:
    """Run the actions inside the block at ``moment`` (the clock stands still there), then
    come back to the test's present."""
    with travel(moment, tick=False):
        yield


@pytest.fixture
def frozen_today(time_machine: TimeMachineFixture) -> date:
    """The city's date of the test's present, which stands still: a run that crosses
    midnight cannot move "today" between the given and the then."""
    time_machine.move_to(clock.now(), tick=False)
    return clock.today()


def grant(user: User, *codenames: str) -> User:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="citizens", codename__in=codenames)
    )
    # A fresh object: Django caches a user's permissions on the instance.
    return User.objects.get(pk=user.pk)


@pytest.fixture
def staff_user(db: None) -> User:
    """Reads subscriber numbers and consent histories, but may neither search by number nor
    export nor erase: tests grant those rights one by one."""
    user = User.objects.create_user(
        "sachbearbeitung", password="Rathaus-Test-2025", is_staff=True, first_name="Maria"
    )
    return grant(user, "view_subscriber_statistics", "view_citizen")


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


class _TableParser(HTMLParser):
    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of the table with ``table_id``, row by row (header included)."""
    parser = _TableParser(table_id)
    parser.feed(html)
    return parser.rows


def chart_lines(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-series="([^"]+)" data-last-value="([^"]+)"', html)


# --- counts -------------------------------------------------------------------------------------


@pytest.fixture
def town(db: None) -> dict[str, Citizen]:
    """Citizens in every state: both offerings, one each, waiting, ended, erased."""
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT, INFO], ["dringend", "verkehr"])
    anna = subscribe("4915112345601", "Anna Schneider", [INFO], ["verkehr"])
    jonas = subscribe("4916012345602", "Jonas Wagner", [CHAT])
    lena = make_citizen("4917012345607", "Lena Hoffmann")
    do_request_subscription(lena, [CHAT, INFO], channel=KEYWORD)
    # Ended the info channel: keeps the topic choice, which no longer counts.
    ben = subscribe("4917212345608", "Ben Schulz", [INFO], ["veranstaltungen"])
    do_withdraw_subscriptions(ben, channel=KEYWORD)
    mia = subscribe("4917312345609", "Mia Braun", [CHAT, INFO], ["stadt"])
    do_erase_citizen(mia, channel=KEYWORD)
    return {"klaus": klaus, "anna": anna, "jonas": jonas, "lena": lena, "ben": ben, "mia": mia}


def test_counts_active_subscribers_per_offering_topic_and_pending(
    staff_client: Client, town: dict[str, Citizen]
) -> None:
    # when
    response = staff_client.get(OVERVIEW_URL, **ENGLISH)

    # then
    assert response.status_code == 200
    counts = response.context["counts"]
    assert [(row.offering, row.active, row.pending) for row in counts.offerings] == [
        ("chat", 2, 1),
        ("info", 2, 1),
    ]
    assert (counts.both, counts.total, counts.pending_citizens) == (1, 3, 1)
    assert [(row.topic.slug, row.subscribers) for row in response.context["topics"]] == [
        ("dringend", 1),
        ("verkehr", 2),
        ("veranstaltungen", 0),
        ("stadt", 0),
    ]
    html = response.content.decode()
    assert table_rows(html, "offering-table") == [
        ["Offering", "Active", "Waiting for confirmation"],
        [CHAT_LABEL, "2", "1"],
        [INFO_LABEL, "2", "1"],
        ["Both offerings", "1", "–"],
        ["Citizens in total", "3", "1"],
    ]
    assert table_rows(html, "topic-table") == [
        ["Topic", "Subscribers"],
        ["Urgent alerts", "1"],
        ["Traffic & roadworks", "2"],
        ["Events", "0"],
        ["City news", "0"],
    ]


def test_page_draws_one_line_per_offering_and_one_bar_per_topic(
    staff_client: Client, town: dict[str, Citizen]
) -> None:
    html = staff_client.get(OVERVIEW_URL, **ENGLISH).content.decode()

    assert html.count("<polyline ") == 2
    assert chart_lines(html) == [("Chat with the mayor&#x27;s office", "2"), (INFO_LABEL, "2")]
    assert re.findall(r'class="chart__bar" data-label="([^"]+)" data-value="(\d+)"', html) == [
        ("Urgent alerts", "1"),
        ("Traffic &amp; roadworks", "2"),
        ("Events", "0"),
        ("City news", "0"),
    ]
    assert '<title id="subscribers-over-time-title">Subscribers over time</title>' in html
    assert '<title id="subscribers-per-topic-title">Subscribers per topic</title>' in html
    # Nothing loaded from elsewhere: the charts are part of the page.
    assert '<script src="http' not in html
    # (a host name, not the letters: a random CSRF token once contained "cdn")
    assert not re.search(r"//[\w.-]*cdn", html.lower())


@pytest.mark.django_db
def test_empty_town_shows_zeros(staff_client: Client) -> None:
    response = staff_client.get(OVERVIEW_URL, **ENGLISH)

    html = response.content.decode()
    assert response.status_code == 200
    assert table_rows(html, "offering-table")[1:3] == [
        [CHAT_LABEL, "0", "0"],
        [INFO_LABEL, "0", "0"],
    ]
    assert chart_lines(html) == [("Chat with the mayor&#x27;s office", "0"), (INFO_LABEL, "0")]


# --- subscribers over time ----------------------------------------------------------------------


@pytest.mark.django_db
def test_history_is_grants_minus_withdrawals_per_day_and_keeps_erased_citizens(
    frozen_today: date,
) -> None:
    # given
    today = frozen_today

    def days_ago(days: int) -> datetime:
        return noon(today - timedelta(days=days))

    with recorded_at(days_ago(200)):  # before the chart's window: the starting value
        subscribe("4916012345602", "Jonas Wagner", [CHAT])
    with recorded_at(days_ago(10)):
        klaus = subscribe("4917612345604", "Klaus Becker", [CHAT, INFO])
    with recorded_at(days_ago(5)):
        subscribe("4915112345601", "Anna Schneider", [INFO])
    with recorded_at(days_ago(3)):
        mia = subscribe("4917312345609", "Mia Braun", [CHAT])
    with recorded_at(days_ago(2)):
        do_withdraw_subscriptions(klaus, [CHAT], channel=KEYWORD)
    do_erase_citizen(mia, channel=KEYWORD)

    # when
    history = subscriber_history()

    # then: position 89 is today, position 89 - n is n days ago
    assert len(history.days) == HISTORY_DAYS == 90
    assert history.days[0] == today - timedelta(days=89)
    assert history.days[-1] == today
    assert history.values["chat"] == [1] * 79 + [2] * 7 + [3] + [2] * 2 + [1]
    assert history.values["info"] == [0] * 79 + [1] * 5 + [2] * 6


@pytest.mark.django_db
def test_history_counts_calendar_days_of_the_city(frozen_today: date) -> None:
    # given: half past midnight in Berlin is still the day before in UTC
    today = frozen_today
    two_days_ago = today - timedelta(days=2)
    just_after_midnight = datetime.combine(
        two_days_ago, time(0, 30), tzinfo=timezone.get_current_timezone()
    )
    assert just_after_midnight.astimezone(UTC).date() == two_days_ago - timedelta(days=1)
    with recorded_at(just_after_midnight):
        subscribe("4917612345604", "Klaus Becker", [CHAT])

    # when
    history = subscriber_history(days=4)

    # then
    assert history.days == [today - timedelta(days=offset) for offset in (3, 2, 1, 0)]
    assert history.values == {"chat": [0, 1, 1, 1], "info": [0, 0, 0, 0]}


@pytest.mark.django_db
def test_chart_and_day_table_follow_a_withdrawal(staff_client: Client, frozen_today: date) -> None:
    # given
    today = frozen_today
    with recorded_at(noon(today - timedelta(days=1))):
        klaus = subscribe("4917612345604", "Klaus Becker", [CHAT, INFO])
        subscribe("4915112345601", "Anna Schneider", [CHAT])
    do_withdraw_subscriptions(klaus, [CHAT], channel=KEYWORD)

    # when
    html = staff_client.get(OVERVIEW_URL, **ENGLISH).content.decode()

    # then
    assert chart_lines(html) == [("Chat with the mayor&#x27;s office", "1"), (INFO_LABEL, "1")]
    rows = table_rows(html, "history-table")
    assert rows[0] == ["Day", CHAT_LABEL, INFO_LABEL]
    assert len(rows) == 1 + HISTORY_DAYS
    assert [row[1:] for row in rows[1:4]] == [["1", "1"], ["2", "1"], ["0", "0"]]


# --- search by number ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_without_permission_see_no_search_and_get_403(staff_client: Client) -> None:
    make_citizen("4917612345604", "Klaus Becker")

    page = staff_client.get(OVERVIEW_URL, **ENGLISH)
    search = staff_client.get(OVERVIEW_URL, {"number": "0176 1234"}, **ENGLISH)
    empty_search = staff_client.get(OVERVIEW_URL, {"number": ""}, **ENGLISH)

    assert page.status_code == 200
    assert 'name="number"' not in page.content.decode()
    assert search.status_code == 403
    assert "Klaus" not in search.content.decode()
    assert empty_search.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+49 176 1234", ["Klaus Becker"]),
        ("0049 176 12345604", ["Klaus Becker"]),
        ("0176 1234", ["Klaus Becker"]),
        ("0151-123", ["Anna Schneider"]),
        ("1234560", ["Anna Schneider", "Klaus Becker"]),
        ("0170 9999", []),
    ],
)
def test_search_finds_numbers_in_every_format(
    client: Client, staff_user: User, number: str, expected: list[str]
) -> None:
    # given
    make_citizen("4917612345604", "Klaus Becker")
    make_citizen("4915112345601", "Anna Schneider")
    client = logged_in(client, grant(staff_user, "search_by_number"))

    # when
    response = client.get(OVERVIEW_URL, {"number": number}, **ENGLISH)

    # then
    assert response.status_code == 200
    assert [citizen.profile_name for citizen in response.context["search"]["results"]] == expected


@pytest.mark.django_db
def test_search_results_show_masked_numbers_and_link_to_the_citizen(
    client: Client, staff_user: User
) -> None:
    klaus = make_citizen("4917612345604", "Klaus Becker")
    client = logged_in(client, grant(staff_user, "search_by_number"))

    html = client.get(OVERVIEW_URL, {"number": "0176 1234"}, **ENGLISH).content.decode()

    results = html[html.index('id="search-results"') :]
    assert f'href="{reverse("staff:subscriber", args=[klaus.pk])}">Klaus Becker</a>' in results
    assert "+49 176 •••• 5604" in results
    assert "4917612345604" not in html
    assert "12345604" not in html


@pytest.mark.django_db
def test_search_needs_enough_digits_and_never_finds_erased_citizens(
    client: Client, staff_user: User
) -> None:
    # given
    mia = subscribe("4917312345609", "Mia Braun", [CHAT])
    do_erase_citizen(mia, channel=KEYWORD)
    make_citizen("4917612345604", "Klaus Becker")
    client = logged_in(client, grant(staff_user, "search_by_number"))

    # when
    short = client.get(OVERVIEW_URL, {"number": "+49"}, **ENGLISH)
    everyone = client.get(OVERVIEW_URL, {"number": "4917"}, **ENGLISH)

    # then
    assert short.context["search"]["results"] == []
    assert "Please type at least 4 digits of the number." in short.content.decode()
    assert [citizen.profile_name for citizen in everyone.context["search"]["results"]] == [
        "Klaus Becker"
    ]


@pytest.mark.django_db
def test_superusers_may_search(client: Client) -> None:
    admin = User.objects.create_superuser("admin", password="Rathaus-Test-2025")
    make_citizen("4917612345604", "Klaus Becker")
    client.force_login(admin)

    response = client.get(OVERVIEW_URL, {"number": "+49 176 1234"}, **ENGLISH)

    assert 'name="number"' in response.content.decode()
    assert [citizen.profile_name for citizen in response.context["search"]["results"]] == [
        "Klaus Becker"
    ]


@pytest.mark.django_db
def test_access_functions_check_each_permission(staff_user: User) -> None:
    citizen = make_citizen()
    with pytest.raises(PermissionDenied):
        access_subscriber_search(staff_user)
    for access in (access_subscriber_export, access_subscriber_erasure):
        with pytest.raises(PermissionDenied):
            access(staff_user, citizen.pk)

    user = grant(staff_user, "search_by_number", "export_citizen_data", "erase_citizen")

    access_subscriber_search(user)
    assert access_subscriber_export(user, citizen.pk) == citizen
    assert access_subscriber_erasure(user, citizen.pk) == citizen
    # Permissions without staff status open nothing.
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    with pytest.raises(PermissionDenied):
        access_subscriber_search(User.objects.get(pk=user.pk))


# --- one citizen --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_citizen_page_shows_subscriptions_topics_and_consent_history_in_order(
    client: Client, staff_user: User
) -> None:
    # given
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT, INFO], ["verkehr"])
    do_withdraw_subscriptions(klaus, [CHAT], channel=KEYWORD)
    client = logged_in(client, grant(staff_user, "export_citizen_data"))
    client.post(reverse("staff:subscriber_export", args=[klaus.pk]))

    # when
    response = client.get(reverse("staff:subscriber", args=[klaus.pk]), **ENGLISH)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Klaus Becker</h1>" in html
    assert "+49 176 •••• 5604" in html
    assert f'href="{reverse("staff:citizen_log", args=[klaus.pk])}"' in html
    assert table_rows(html, "consent-history")[1:] == [
        [time_cell(record), label, subject, channel, version, user]
        for record, (label, subject, channel, version, user) in zip(
            ConsentRecord.objects.filter(citizen=klaus).order_by("created_at", "id"),
            [
                ("Asked to subscribe", CHAT_LABEL, "WhatsApp button", "–", "–"),
                ("Asked to subscribe", INFO_LABEL, "WhatsApp button", "–", "–"),
                ("Consent given", CHAT_LABEL, "WhatsApp button", "2026-12", "–"),
                ("Consent given", INFO_LABEL, "WhatsApp button", "2026-12", "–"),
                ("Topic added", "Traffic & roadworks", "WhatsApp button", "–", "–"),
                ("Consent withdrawn", CHAT_LABEL, "WhatsApp keyword", "–", "–"),
                ("Data exported", "–", "Staff on request", "–", "Maria"),
            ],
            strict=True,
        )
    ]
    assert table_rows(html, "subscription-table")[1:] == [
        [CHAT_LABEL, "Ended", time_cell_of(klaus, CHAT, "ended_at"), "–"],
        [INFO_LABEL, "Active", time_cell_of(klaus, INFO, "confirmed_at"), "2026-12"],
    ]
    assert "<li>Traffic &amp; roadworks</li>" in html


def time_cell(record: ConsentRecord) -> str:
    return english_datetime(record.created_at)


def time_cell_of(citizen: Citizen, offering: str, field: str) -> str:
    return english_datetime(
        getattr(Subscription.objects.get(citizen=citizen, offering=offering), field)
    )


def english_datetime(value: datetime) -> str:
    with translation.override("en"):
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


@pytest.mark.django_db
def test_citizen_page_shows_the_bell_and_when_it_was_chosen(staff_client: Client) -> None:
    # given: one citizen who never chose, one who chose the daily summary by keyword
    never = subscribe("4917612345611", "Anna Schneider", [INFO], ["verkehr"])
    daily = subscribe("4917612345612", "Jonas Weber", [INFO], ["verkehr"])
    do_set_notification_mode(daily, NotificationMode.DIGEST, channel=KEYWORD)
    record = ConsentRecord.objects.get(citizen=daily, kind="notifications")

    # when
    never_page = staff_client.get(reverse("staff:subscriber", args=[never.pk]), **ENGLISH)
    daily_page = staff_client.get(reverse("staff:subscriber", args=[daily.pk]), **ENGLISH)

    # then
    assert notification_line(never_page.content.decode()) == (
        "Every post at once (never chosen: the default)"
    )
    assert notification_line(daily_page.content.decode()) == (
        f"Daily summary (chosen {time_cell(record)})"
    )
    assert table_rows(daily_page.content.decode(), "consent-history")[-1] == [
        time_cell(record),
        "Notifications changed",
        "Info channel: Daily summary",
        "WhatsApp keyword",
        "–",
        "–",
    ]


def notification_line(html: str) -> str:
    match = re.search(r'data-testid="notification-mode">(.*?)</p>', html, re.S)
    assert match is not None
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


@pytest.mark.django_db
def test_citizen_page_hides_buttons_without_permission(staff_client: Client) -> None:
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])

    html = staff_client.get(reverse("staff:subscriber", args=[klaus.pk]), **ENGLISH).content
    html_text = html.decode()

    assert reverse("staff:subscriber_export", args=[klaus.pk]) not in html_text
    assert reverse("staff:subscriber_erase", args=[klaus.pk]) not in html_text
    assert "Export data (on request)" not in html_text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("channel", "shown"),
    [
        (ConsentRecord.Channel.WEB_FORM, "(Web form)"),
        (ConsentRecord.Channel.WHATSAPP_KEYWORD, "(WhatsApp keyword)"),
    ],
)
def test_citizen_page_says_where_a_pending_erasure_was_asked_for(
    staff_client: Client, channel: str, shown: str
) -> None:
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])
    # Not run: the erasure waits for the goodbye message, so the page shows it as pending.
    do_request_erasure(klaus, channel=channel)

    html = staff_client.get(reverse("staff:subscriber", args=[klaus.pk]), **ENGLISH).content
    notice = html.decode().split('class="subs-notice"')[1].split("</p>")[0]

    assert "The citizen asked for erasure on" in notice
    assert shown in notice


@pytest.mark.django_db
def test_unknown_citizen_is_not_found(staff_client: Client) -> None:
    response = staff_client.get(reverse("staff:subscriber", args=[999]))

    assert response.status_code == 404


# --- export -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_downloads_json_and_records_who_exported(
    client: Client, staff_user: User, frozen_today: date
) -> None:
    # given
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT, INFO], ["verkehr"])
    make_inbound(klaus, "Wann ist der Wertstoffhof offen?")
    user = grant(staff_user, "export_citizen_data")
    client = logged_in(client, user)
    page = client.get(reverse("staff:subscriber", args=[klaus.pk]), **ENGLISH).content.decode()
    assert "Export data (on request)" in page

    # when
    response = client.post(reverse("staff:subscriber_export", args=[klaus.pk]))

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="citizen-{klaus.pk}-{frozen_today:%Y-%m-%d}.json"'
    )
    data = json.loads(response.content)
    assert data["wa_id"] == "4917612345604"
    assert data["profile_name"] == "Klaus Becker"
    assert [message["text"] for message in data["messages"]] == ["Wann ist der Wertstoffhof offen?"]
    assert data["consent_history"][-1]["kind"] == "data_exported"
    record = ConsentRecord.objects.filter(citizen=klaus).last()
    assert record is not None
    assert (record.kind, record.channel, record.acting_user) == ("data_exported", "staff", user)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_export_without_permission_is_refused_and_records_nothing(
    staff_client: Client,
) -> None:
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])
    records_before = ConsentRecord.objects.count()

    response = staff_client.post(reverse("staff:subscriber_export", args=[klaus.pk]))

    assert response.status_code == 403
    assert ConsentRecord.objects.count() == records_before


@pytest.mark.django_db
def test_export_needs_a_post(client: Client, staff_user: User) -> None:
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])
    client = logged_in(client, grant(staff_user, "export_citizen_data"))

    response = client.get(reverse("staff:subscriber_export", args=[klaus.pk]))

    assert response.status_code == 405
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.DATA_EXPORTED).exists()


@pytest.mark.django_db
def test_export_needs_the_csrf_token(staff_user: User) -> None:
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])
    client = Client(enforce_csrf_checks=True)
    client.force_login(grant(staff_user, "export_citizen_data"))

    response = client.post(reverse("staff:subscriber_export", args=[klaus.pk]))

    assert response.status_code == 403
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.DATA_EXPORTED).exists()


# --- erasure ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_erasure_without_permission_is_refused_and_changes_nothing(
    staff_client: Client,
) -> None:
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])
    erase_url = reverse("staff:subscriber_erase", args=[klaus.pk])

    confirmation = staff_client.get(erase_url)
    erasure = staff_client.post(erase_url)

    assert (confirmation.status_code, erasure.status_code) == (403, 403)
    klaus.refresh_from_db()
    assert (klaus.wa_id, klaus.profile_name, klaus.erased_at) == (
        "4917612345604",
        "Klaus Becker",
        None,
    )
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.ERASED).exists()
    assert Subscription.objects.get(citizen=klaus).state == Subscription.State.ACTIVE


@pytest.mark.django_db
def test_erasure_asks_for_confirmation_then_anonymises_at_once(
    client: Client, staff_user: User
) -> None:
    # given
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT, INFO], ["verkehr"])
    make_inbound(klaus, "Bitte löschen Sie meine Daten.")
    user = grant(staff_user, "erase_citizen")
    client = logged_in(client, user)
    erase_url = reverse("staff:subscriber_erase", args=[klaus.pk])

    # when: the confirmation page
    confirmation = client.get(erase_url, **ENGLISH)

    # then nothing happened yet
    assert confirmation.status_code == 200
    assert "Erase this citizen's data?" in confirmation.content.decode()
    klaus.refresh_from_db()
    assert klaus.erased_at is None

    # when: confirmed
    response = client.post(erase_url, **ENGLISH)

    # then
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW_URL
    klaus.refresh_from_db()
    assert klaus.wa_id != "4917612345604"
    assert klaus.wa_id.startswith("erased-")
    assert klaus.profile_name == ""
    assert klaus.erased_at is not None
    assert list(
        ConsentRecord.objects.filter(citizen=klaus, channel=STAFF).values_list(
            "kind", "offering", "acting_user"
        )
    ) == [("withdrawn", "chat", user.pk), ("withdrawn", "info", user.pk), ("erased", "", user.pk)]
    assert not Message.objects.filter(text="Bitte löschen Sie meine Daten.").exists()
    # No goodbye message: the citizen asked the city directly.
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    page = client.get(OVERVIEW_URL, **ENGLISH).content.decode()
    assert f"The personal data of citizen #{klaus.pk} has been erased." in page


@pytest.mark.django_db
def test_erased_citizen_shows_only_anonymous_data(client: Client, staff_user: User) -> None:
    # given
    klaus = subscribe("4917612345604", "Klaus Becker", [CHAT])
    client = logged_in(client, grant(staff_user, "erase_citizen", "export_citizen_data"))
    client.post(reverse("staff:subscriber_erase", args=[klaus.pk]))

    # when
    response = client.get(reverse("staff:subscriber", args=[klaus.pk]), **ENGLISH)

    # then
    html = response.content.decode()
    assert f"<h1>Erased citizen #{klaus.pk}</h1>" in html
    assert "Klaus" not in html
    # Neither in full nor masked ("+49 176 •••• 5604"); the bare digits could be part of a
    # random token on the page.
    assert "12345604" not in html
    assert "• 5604" not in html
    assert "176 " not in html.split('id="main"')[1]
    assert "/messages/" not in html.split('id="main"')[1]
    assert reverse("staff:subscriber_export", args=[klaus.pk]) not in html
    assert reverse("staff:subscriber_erase", args=[klaus.pk]) not in html
    assert [row[1] for row in table_rows(html, "consent-history")[1:]] == [
        "Asked to subscribe",
        "Consent given",
        "Consent withdrawn",
        "Personal data erased",
    ]
    # A second erasure or an export does nothing.
    assert client.post(reverse("staff:subscriber_erase", args=[klaus.pk])).status_code == 302
    assert client.post(reverse("staff:subscriber_export", args=[klaus.pk])).status_code == 302
    assert ConsentRecord.objects.filter(citizen=klaus).count() == 4


# --- access and query counts --------------------------------------------------------------------


def subscriber_urls(citizen_id: int) -> list[str]:
    return [
        OVERVIEW_URL,
        reverse("staff:subscriber", args=[citizen_id]),
        reverse("staff:subscriber_erase", args=[citizen_id]),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("url_index", [0, 1, 2])
def test_anonymous_users_are_sent_to_the_login_page(client: Client, url_index: int) -> None:
    url = subscriber_urls(make_citizen().pk)[url_index]

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('staff:login')}?next={url}"


@pytest.mark.django_db
@pytest.mark.parametrize("url_index", [0, 1, 2])
def test_users_without_staff_rights_are_refused(
    client: Client, citizen_user: User, url_index: int
) -> None:
    citizen = make_citizen()
    user = grant(citizen_user, "search_by_number", "export_citizen_data", "erase_citizen")
    client.force_login(user)

    response = client.get(subscriber_urls(citizen.pk)[url_index])

    assert response.status_code == 403


@pytest.mark.django_db
def test_navigation_links_to_the_subscribers(staff_client: Client) -> None:
    html = staff_client.get(OVERVIEW_URL, **ENGLISH).content.decode()

    assert (
        f'<a href="{OVERVIEW_URL}" data-nav="subscribers" aria-current="page">Subscribers</a>'
        in html
    )


def make_town(size: int, start: int = 0) -> None:
    for index in range(start, start + size):
        citizen = make_citizen(f"49151{index:08d}", f"Bürger {index}")
        do_subscribe_directly(citizen, [CHAT, INFO][: 1 + index % 2], channel=BUTTON)
        do_set_topics(citizen, ["verkehr", "stadt"][: index % 3], channel=BUTTON)
        if index % 4 == 3:
            do_withdraw_subscriptions(citizen, [CHAT], channel=KEYWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [3, 30])
def test_overview_runs_a_constant_number_of_queries(
    client: Client, staff_user: User, django_assert_max_num_queries, size: int
) -> None:
    # given
    make_town(size)
    client = logged_in(client, grant(staff_user, "search_by_number"))

    # when / then: session, user, permissions (2), counts, topics, history (2), search,
    # the search's audit entry and the navigation's inbox unread total
    with django_assert_max_num_queries(11):
        response = client.get(OVERVIEW_URL, {"number": "0151 0000"})

    assert response.status_code == 200
    assert len(response.context["search"]["results"]) == min(size, 20)


@pytest.mark.django_db
def test_overview_and_citizen_page_queries_do_not_grow(client: Client, staff_user: User) -> None:
    client = logged_in(client, grant(staff_user, "search_by_number", "export_citizen_data"))

    def queries(url: str, data: dict[str, str] | None = None) -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url, data).status_code == 200
        return len(context.captured_queries)

    make_town(3)
    first = Citizen.objects.order_by("id").first()
    assert first is not None
    small = (queries(OVERVIEW_URL, {"number": "0151"}), queries(subscriber_urls(first.pk)[1]))
    make_town(27, start=3)
    do_set_topics(first, ["verkehr", "stadt", "dringend"], channel=BUTTON)
    large = (queries(OVERVIEW_URL, {"number": "0151"}), queries(subscriber_urls(first.pk)[1]))

    assert small == large
