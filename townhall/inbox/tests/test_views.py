"""The shared inbox pages: access, list filters and search, the conversation, every action
endpoint, the live-update polls and their query counts.

Data is built through the actions; nothing is sent anywhere (on-commit callbacks are
captured without running, or the Cloud API is faked at its HTTP boundary).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from townhall.citizens.actions import (
    do_set_topics,
    do_subscribe_directly,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import ConsentRecord, Offering
from townhall.inbox.actions import (
    do_add_note,
    do_assign,
    do_reply,
    do_set_labels,
    do_set_state,
)
from townhall.inbox.models import (
    CannedResponse,
    Conversation,
    ConversationEvent,
    Label,
    Note,
    Team,
)
from townhall.inbox.tests.factories import (
    citizen_writes,
    make_chat_citizen,
    make_conversation,
    make_staff,
    open_around_the_clock,
)
from townhall.whatsapp.models import Message
from townhall.whatsapp.tests.factories import make_outbound

LIST_URL = reverse("inbox:list")
POLL_URL = reverse("inbox:list_poll")
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
HTMX = {"HX-Request": "true"}
SIGNATURE = "– Ihr Bürgermeisterbüro"


def url(name: str, conversation: Conversation) -> str:
    return reverse(f"inbox:{name}", args=[conversation.pk])


def outbound_count() -> int:
    return Message.objects.filter(direction=Message.Direction.OUTBOUND).count()


@pytest.fixture(autouse=True)
def office_open(db: None, settings: Any) -> None:
    settings.INBOX_OBSERVES_HOLIDAYS = False
    settings.INBOX_SIGNATURE = SIGNATURE
    open_around_the_clock()


@pytest.fixture
def staff(db: None) -> Any:
    return make_staff()


@pytest.fixture
def colleague(db: None) -> Any:
    return make_staff("kollegin", first_name="Petra", last_name="Lange")


@pytest.fixture
def staff_client(client: Client, staff: Any) -> Client:
    client.force_login(staff)
    return client


@pytest.fixture
def conversation(db: None) -> Conversation:
    return make_conversation("Klaus Becker", "Die Laterne in der Lindenstraße ist aus.")


@pytest.fixture
def not_sending(django_capture_on_commit_callbacks):
    """Outbound messages stay queued: the send tasks are captured, never run."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        yield callbacks


def listed_names(response) -> list[str]:
    return [c.citizen.profile_name for c in response.context["page"].object_list]


# --- access -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login(client: Client, conversation) -> None:
    for page_url in (LIST_URL, url("conversation", conversation)):
        response = client.get(page_url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("staff:login"))


@pytest.mark.django_db
def test_anonymous_htmx_poll_is_told_to_load_the_login_page(client: Client, conversation) -> None:
    response = client.get(url("history", conversation), headers=HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("staff:login"))


@pytest.mark.django_db
def test_users_without_staff_rights_are_refused(client: Client, conversation) -> None:
    # given
    user = get_user_model().objects.create_user("buerger", password="x-Passwort-2026")
    client.force_login(user)

    # when / then
    assert client.get(LIST_URL).status_code == 403
    assert client.get(url("conversation", conversation)).status_code == 403
    assert client.get(POLL_URL).status_code == 403
    response = client.post(url("reply", conversation), {"text": "Hallo"})
    assert response.status_code == 403
    assert client.post(url("state", conversation), {"state": "resolved"}).status_code == 403

    # and nothing changed
    assert outbound_count() == 0
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.NEW
    assert conversation.unread_count == 1


@pytest.mark.django_db
def test_inactive_staff_is_refused(client: Client, conversation) -> None:
    client.force_login(make_staff("ehemalig", is_active=False))

    # An inactive user's session is not authenticated any more: back to the login.
    assert client.get(LIST_URL).status_code == 302


@pytest.mark.django_db
def test_unknown_conversation_is_404(staff_client: Client) -> None:
    assert staff_client.get(reverse("inbox:conversation", args=[999])).status_code == 404
    assert staff_client.post(reverse("inbox:note", args=[999]), {"text": "x"}).status_code == 404


@pytest.mark.django_db
def test_mutations_need_post(staff_client: Client, conversation) -> None:
    for name in ("reply", "template", "note", "assign", "state", "priority", "labels", "preview"):
        assert staff_client.get(url(name, conversation)).status_code == 405, name


# --- the list -----------------------------------------------------------------------------------


@pytest.fixture
def varied(staff, colleague) -> dict[str, Conversation]:
    """Five conversations: mine, a colleague's, unassigned (team + label), resolved, waiting."""
    now = timezone.now()
    bauhof = Team.objects.create(name="Bauhof")
    urgent = Label.objects.create(name="Dringend", color="#b42318")
    mine = make_conversation("Anna Mine", "Parkplatz", at=now - timedelta(minutes=50))
    do_assign(mine, assignee=staff, acting_user=staff)
    theirs = make_conversation("Bernd Kollege", "Spielplatz", at=now - timedelta(minutes=40))
    do_assign(theirs, assignee=colleague, acting_user=colleague)
    unassigned = make_conversation("Clara Team", "Baum umgestürzt", at=now - timedelta(minutes=30))
    do_assign(unassigned, team=bauhof, acting_user=staff)
    do_set_labels(unassigned, [urgent], acting_user=staff)
    resolved = make_conversation("Dieter Erledigt", "Danke!", at=now - timedelta(minutes=20))
    do_set_state(resolved, Conversation.State.RESOLVED, acting_user=staff)
    waiting = make_conversation("Erika Wartet", "Wann?", at=now - timedelta(minutes=10))
    do_set_state(waiting, Conversation.State.WAITING, acting_user=staff)
    return {
        "mine": mine,
        "theirs": theirs,
        "unassigned": unassigned,
        "resolved": resolved,
        "waiting": waiting,
        "team": bauhof,  # type: ignore[dict-item]
        "label": urgent,  # type: ignore[dict-item]
    }


@pytest.mark.django_db
def test_list_shows_unresolved_conversations_newest_activity_first(
    staff_client: Client, varied
) -> None:
    response = staff_client.get(LIST_URL)

    assert response.status_code == 200
    assert listed_names(response) == ["Erika Wartet", "Clara Team", "Bernd Kollege", "Anna Mine"]
    html = response.content.decode()
    assert "+49 17" in html and "••••" in html
    assert varied["mine"].citizen.wa_id not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"view": "mine"}, ["Anna Mine"]),
        ({"view": "unassigned"}, ["Erika Wartet", "Clara Team"]),
        ({"view": "all"}, ["Erika Wartet", "Clara Team", "Bernd Kollege", "Anna Mine"]),
        ({"state": "resolved"}, ["Dieter Erledigt"]),
        ({"state": "waiting"}, ["Erika Wartet"]),
        ({"state": "open"}, ["Bernd Kollege", "Anna Mine"]),
        ({"state": "new"}, ["Clara Team"]),
        ({"view": "mine", "state": "resolved"}, []),
        ({"view": "bogus", "state": "bogus", "page": "x"}, None),
    ],
)
def test_list_filters(staff_client: Client, varied, query, expected) -> None:
    response = staff_client.get(LIST_URL, query)

    assert response.status_code == 200
    if expected is None:  # invalid values fall back to the defaults
        expected = ["Erika Wartet", "Clara Team", "Bernd Kollege", "Anna Mine"]
    assert listed_names(response) == expected


@pytest.mark.django_db
def test_list_filters_by_team_and_label(staff_client: Client, varied) -> None:
    by_team = staff_client.get(LIST_URL, {"team": varied["team"].pk})
    by_label = staff_client.get(LIST_URL, {"label": varied["label"].pk})
    other_team = Team.objects.create(name="Ordnungsamt")
    by_other_team = staff_client.get(LIST_URL, {"team": other_team.pk})

    assert listed_names(by_team) == ["Clara Team"]
    assert listed_names(by_label) == ["Clara Team"]
    assert listed_names(by_other_team) == []


@pytest.mark.django_db
def test_sidebar_counts(staff_client: Client, varied) -> None:
    response = staff_client.get(LIST_URL, {"view": "mine"})

    sidebar = response.context["sidebar"]
    assert (sidebar.mine, sidebar.unassigned, sidebar.all) == (1, 2, 4)
    assert {s.state: s.count for s in sidebar.states} == {
        "new": 0,
        "open": 1,
        "waiting": 0,
        # Not counted: every conversation ever closed, of little use and costly.
        "resolved": None,
    }
    assert sidebar.not_resolved_in_view == 1


@pytest.mark.django_db
def test_list_rows_show_state_priority_owner_labels_unread_and_flags(
    staff_client: Client, varied
) -> None:
    Conversation.objects.filter(pk=varied["unassigned"].pk).update(
        is_unsubscribed=True, priority=Conversation.Priority.URGENT
    )

    html = staff_client.get(LIST_URL, {"view": "unassigned"}).content.decode()

    row = html[html.index(f'data-conversation-id="{varied["unassigned"].pk}"') :]
    row = row[: row.index("</li>")]
    assert "Baum umgestürzt" in row
    assert "inbox-chip--new" in row
    assert "inbox-priority--3" in row
    assert "Bauhof" in row
    assert "Dringend" in row
    assert "inbox-flag" in row
    assert 'class="inbox-unread">1<' in row


@pytest.mark.django_db
def test_search_finds_message_text_and_names(staff_client: Client, varied) -> None:
    citizen_writes(varied["theirs"].citizen, "Die Schaukel ist kaputt")

    by_text = staff_client.get(LIST_URL, {"q": "schaukel"})
    by_older_text = staff_client.get(LIST_URL, {"q": "Spielplatz"})
    by_name = staff_client.get(LIST_URL, {"q": "clara"})
    nothing = staff_client.get(LIST_URL, {"q": "Hundesteuer"})

    assert listed_names(by_text) == ["Bernd Kollege"]
    assert listed_names(by_older_text) == ["Bernd Kollege"]
    assert listed_names(by_name) == ["Clara Team"]
    assert listed_names(nothing) == []
    assert "Hundesteuer" in nothing.content.decode()


@pytest.mark.django_db
def test_search_rows_show_the_matching_message_with_the_match_marked(
    staff_client: Client, varied
) -> None:
    citizen_writes(varied["theirs"].citizen, "<b>Die Schaukel</b> ist kaputt")
    citizen_writes(varied["theirs"].citizen, "Und wann kommt jemand?")

    html = staff_client.get(LIST_URL, {"q": "schaukel"}).content.decode()

    row = html[html.index(f'data-conversation-id="{varied["theirs"].pk}"') :]
    row = row[: row.index("</li>")]
    # The older matching message, not the newest one; the citizen's markup stays text.
    assert "&lt;b&gt;Die <mark>Schaukel</mark>&lt;/b&gt; ist kaputt" in row
    assert "Und wann kommt jemand?" not in row


@pytest.mark.django_db
@pytest.mark.parametrize("match_cap", [2000, 1], ids=["matches-collected", "many-matches"])
def test_search_gives_the_same_list_for_rare_and_common_words(
    staff_client: Client, varied, match_cap: int, monkeypatch
) -> None:
    # A common word (more matching messages than the cap) walks the conversations instead
    # of collecting the matching citizens first; the staff member sees no difference.
    monkeypatch.setattr("townhall.inbox.queries.SEARCH_MATCH_CAP", match_cap)
    citizen_writes(varied["theirs"].citizen, "Wann kommt der Sperrmüll?")
    citizen_writes(varied["mine"].citizen, "Sperrmüll steht noch da")
    citizen_writes(varied["resolved"].citizen, "Sperrmüll abgeholt, danke")
    do_set_state(varied["resolved"], Conversation.State.RESOLVED, acting_user=None)

    open_matches = staff_client.get(LIST_URL, {"q": "sperrmüll"})
    resolved_matches = staff_client.get(LIST_URL, {"q": "Sperrmüll", "state": "resolved"})
    short_word = staff_client.get(LIST_URL, {"q": "da"})

    assert listed_names(open_matches) == ["Anna Mine", "Bernd Kollege"]
    assert listed_names(resolved_matches) == ["Dieter Erledigt"]
    assert "Anna Mine" in listed_names(short_word)


@pytest.mark.django_db
def test_search_pages_say_whether_more_follow_without_counting(staff_client: Client) -> None:
    for index in range(27):
        make_conversation(
            f"Bürger {index}", "Frage zur Grundsteuer", at=timezone.now() - timedelta(minutes=index)
        )

    first = staff_client.get(LIST_URL, {"q": "Grundsteuer"})
    second = staff_client.get(LIST_URL, {"q": "Grundsteuer", "page": 2})

    assert len(listed_names(first)) == 25
    first_html = first.content.decode()
    # "Page 1", not "Page 1 of 2": the total is not counted.
    assert 'rel="next"' in first_html and first.context["page"].num_pages is None
    assert listed_names(second) == ["Bürger 25", "Bürger 26"]
    second_html = second.content.decode()
    assert 'rel="prev"' in second_html and 'rel="next"' not in second_html


@pytest.mark.django_db
def test_a_page_past_the_end_shows_the_last_page(staff_client: Client) -> None:
    for index in range(3):
        make_conversation(f"Bürger {index}", at=timezone.now() - timedelta(minutes=index))

    response = staff_client.get(LIST_URL, {"page": 9})

    assert listed_names(response) == ["Bürger 0", "Bürger 1", "Bürger 2"]


@pytest.mark.django_db
def test_search_as_you_type_returns_the_list_fragment(staff_client: Client, varied) -> None:
    response = staff_client.get(
        LIST_URL, {"q": "clara"}, headers={**HTMX, "HX-Target": "inbox-list"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'id="inbox-list"' in html
    assert 'id="inbox-sidebar" class="inbox-sidebar"' in html and 'hx-swap-oob="outerHTML"' in html
    assert listed_names(response) == ["Clara Team"]


@pytest.mark.django_db
def test_list_paginates_by_25(staff_client: Client) -> None:
    for index in range(27):
        make_conversation(f"Bürger {index}", at=timezone.now() - timedelta(minutes=index))

    first = staff_client.get(LIST_URL)
    second = staff_client.get(LIST_URL, {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert 'rel="next"' in first.content.decode()
    assert listed_names(second) == ["Bürger 25", "Bürger 26"]


@pytest.mark.django_db
def test_label_colours_come_in_the_pages_nonced_style_block_and_nothing_else(
    staff_client: Client, conversation: Conversation
) -> None:
    # given: labels with a hex colour, a colour name and a colour that would end the rule
    hex_label = Label.objects.create(name="Straßen", color="#b45309")
    named = Label.objects.create(name="Lob", color="green")
    hostile = Label.objects.create(name="Test", color="red}*{display:none")
    conversation.labels.set([hex_label, named, hostile])

    # when
    response = staff_client.get(LIST_URL)

    # then: one block with the response's nonce, the unsafe colour left to the default
    html = response.content.decode()
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'.inbox-label[data-label="{hex_label.pk}"]' in html
    assert f'[data-label="{named.pk}"]{{--label-color:green}}' in html
    assert "display:none" not in html
    assert f'<style nonce="{nonce}">.inbox-label[data-label=' in html
    assert f'<span class="inbox-label" data-label="{hostile.pk}">Test</span>' in html


def count_queries(client: Client, page_url: str, **extra: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page_url, **extra)
    assert response.status_code == 200
    return len(captured)


def make_many(count: int, staff: Any) -> None:
    """``count`` conversations, each assigned, in a team and with two labels."""
    team = Team.objects.get_or_create(name="Bauhof")[0]
    labels = [Label.objects.get_or_create(name=name)[0] for name in ("Licht", "Straße")]
    for _ in range(count):
        conversation = make_conversation("Bürgerin", "Frage")
        do_assign(conversation, assignee=staff, team=team, acting_user=staff)
        do_set_labels(conversation, labels, acting_user=staff)


# Session, user, count, rows, labels, the navigation's unread total, sidebar counts, teams,
# labels of the sidebar, the user's and their groups' permissions (navigation). The poll's
# version needs no query of its own.
LIST_QUERIES = 11


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_conversations(
    staff_client: Client, staff, django_assert_max_num_queries
) -> None:
    # given
    make_many(3, staff)
    with django_assert_max_num_queries(LIST_QUERIES):
        three = staff_client.get(LIST_URL)
    make_many(27, staff)

    # when / then
    with django_assert_max_num_queries(LIST_QUERIES):
        thirty = staff_client.get(LIST_URL)
    with django_assert_max_num_queries(LIST_QUERIES):
        staff_client.get(POLL_URL)
    assert len(three.context["page"].object_list) == 3
    assert len(thirty.context["page"].object_list) == 25  # a full page
    assert count_queries(staff_client, LIST_URL) == LIST_QUERIES


# Session, user, the user's rights (2), conversation, mark read, version (3), messages, status events, reactions, notes,
# canned responses, users, teams, labels, the conversation's labels, the citizen's
# subscriptions and topics, the user's own and group permissions (full number or masked,
# navigation).
CONVERSATION_QUERIES = 21


@pytest.mark.django_db
def test_conversation_query_count_does_not_grow(
    staff_client: Client, staff, django_assert_max_num_queries
) -> None:
    # given: a conversation with a message, a note and a reply, among 3 conversations
    make_many(2, staff)
    conversation = make_conversation("Klaus Becker", "Erste Frage")
    do_add_note(conversation, "Notiz 1", acting_user=staff)
    make_outbound(conversation.citizen, "Antwort", at=timezone.now())
    page_url = url("conversation", conversation)
    with django_assert_max_num_queries(CONVERSATION_QUERIES):
        staff_client.get(page_url)

    # when: 27 more conversations and more of everything in this one
    make_many(27, staff)
    for index in range(10):
        citizen_writes(conversation.citizen, f"Nachtrag {index}")
        do_add_note(conversation, f"Notiz {index}", acting_user=staff)
        make_outbound(conversation.citizen, f"Antwort {index}", at=timezone.now())
    CannedResponse.objects.create(title="Danke", body="Danke, {citizen_name}!")

    # then
    with django_assert_max_num_queries(CONVERSATION_QUERIES):
        response = staff_client.get(page_url)
    assert len(response.context["history"].items) == 3 + 3 * 10
    citizen_writes(conversation.citizen, "Noch eine Frage")
    with django_assert_max_num_queries(CONVERSATION_QUERIES):
        staff_client.get(url("history", conversation), headers=HTMX)


# --- the conversation ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_opening_a_conversation_marks_it_read(staff_client: Client, conversation) -> None:
    citizen_writes(conversation.citizen, "Noch etwas")
    conversation.refresh_from_db()
    assert conversation.unread_count == 2

    response = staff_client.get(url("conversation", conversation))

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


@pytest.mark.django_db
def test_history_interleaves_messages_and_notes(staff_client: Client, staff) -> None:
    # given
    start = timezone.now() - timedelta(hours=2)
    citizen = make_chat_citizen("Klaus Becker", at=start)
    conversation = citizen_writes(citizen, "Erste Nachricht", at=start)
    note = do_add_note(conversation, "Bauhof informiert", acting_user=staff)
    Note.objects.filter(pk=note.pk).update(created_at=start + timedelta(minutes=5))
    citizen_writes(citizen, "Zweite Nachricht", at=start + timedelta(minutes=10))

    # when
    response = staff_client.get(url("conversation", conversation))

    # then
    html = response.content.decode()
    first = html.index("Erste Nachricht")
    note_at = html.index("Bauhof informiert")
    second = html.index("Zweite Nachricht")
    assert first < note_at < second
    assert f'id="note-{note.pk}" class="inbox-note"' in html
    assert "Internal note — not visible to the citizen" in html or "Interne Notiz" in html
    assert "Maria Schulz" in html


@pytest.mark.django_db
def test_media_and_locations_are_shown_inline(staff_client: Client, conversation) -> None:
    citizen_writes(
        conversation.citizen,
        "Hier das Foto",
        type="image",
        content={"id": "media-1", "mime_type": "image/jpeg", "caption": "Hier das Foto"},
    )
    citizen_writes(
        conversation.citizen,
        "",
        type="location",
        content={"latitude": 51.2277, "longitude": 6.7735, "name": "Rathaus"},
    )

    html = staff_client.get(url("conversation", conversation)).content.decode()

    assert "image/jpeg" in html
    assert "Hier das Foto" in html
    assert "https://www.openstreetmap.org/?mlat=51.227700&amp;mlon=6.773500" in html


@pytest.mark.django_db
def test_our_replies_show_ticks(staff_client: Client, conversation) -> None:
    make_outbound(conversation.citizen, "Wir kümmern uns.", at=timezone.now())

    html = staff_client.get(url("conversation", conversation)).content.decode()

    assert "ticks--read" in html
    assert "Wir kümmern uns." in html


@pytest.mark.django_db
def test_composer_offers_canned_responses(staff_client: Client, conversation) -> None:
    CannedResponse.objects.create(title="Weitergeleitet", body="Danke {citizen_name}!")

    html = staff_client.get(url("conversation", conversation)).content.decode()

    assert 'data-body="Danke {citizen_name}!"' in html
    assert ">Weitergeleitet</option>" in html
    assert 'id="reply-text"' in html
    assert "data-template-offer" not in html


@pytest.mark.django_db
def test_preview_fills_placeholders_and_adds_the_signature(
    staff_client: Client, conversation
) -> None:
    response = staff_client.post(
        url("preview", conversation), {"text": "Danke {citizen_name}, {staff_name} hier."}
    )

    assert response.status_code == 200
    assert response.content.decode() == (
        f"<p>Danke Klaus Becker, Maria Schulz hier.</p><p>{SIGNATURE}</p>"
    )
    assert staff_client.post(url("preview", conversation), {"text": ""}).content == b""


@pytest.mark.django_db
def test_preview_shows_whatsapp_formatting_like_the_phone(
    staff_client: Client, conversation
) -> None:
    response = staff_client.post(
        url("preview", conversation), {"text": "*Wichtig:* _morgen_ <i>zu</i>\n> Ihre Frage"}
    )

    assert response.content.decode() == (
        "<p><strong>Wichtig:</strong> <em>morgen</em> &lt;i&gt;zu&lt;/i&gt;</p>"
        f"<blockquote><p>Ihre Frage</p></blockquote><p>{SIGNATURE}</p>"
    )


# --- replying -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reply_queues_a_message_with_signature(
    staff_client: Client, staff, conversation, not_sending
) -> None:
    # when
    response = staff_client.post(url("reply", conversation), {"text": "Danke, {citizen_name}."})

    # then
    assert response.status_code == 302
    assert response["Location"] == url("conversation", conversation) + "#composer"
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.text == f"Danke, Klaus Becker.\n\n{SIGNATURE}"
    assert message.status == Message.Status.QUEUED
    assert message.wa_id == conversation.citizen.wa_id
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.WAITING
    assert conversation.first_response_at is not None
    assert conversation.events.filter(kind=ConversationEvent.Kind.FIRST_RESPONSE).count() == 1


@pytest.mark.django_db
def test_htmx_reply_returns_composer_history_and_panel(
    staff_client: Client, conversation, not_sending
) -> None:
    response = staff_client.post(
        url("reply", conversation), {"text": "Wir kümmern uns."}, headers=HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="composer"')
    assert 'id="history"' in html and "Wir kümmern uns." in html
    assert 'id="panel"' in html
    assert 'id="state-waiting"' in html
    waiting_button = html[html.index('id="state-waiting"') :]
    assert 'aria-pressed="true"' in waiting_button[: waiting_button.index(">")]


@pytest.mark.django_db
def test_reply_is_sent_to_the_cloud_api(
    staff_client: Client, conversation, fake_cloud_api, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url("reply", conversation), {"text": "Erledigt."})

    assert fake_cloud_api.sent_bodies[-1]["text"]["body"] == f"Erledigt.\n\n{SIGNATURE}"


@pytest.mark.django_db
def test_empty_reply_is_refused(staff_client: Client, conversation, not_sending) -> None:
    response = staff_client.post(url("reply", conversation), {"text": "   "}, headers=HTMX)

    assert response.status_code == 200
    assert 'id="reply-errors"' in response.content.decode()
    assert outbound_count() == 0


@pytest.mark.django_db
def test_reply_to_an_unsubscribed_citizen_is_refused(
    staff_client: Client, conversation, not_sending
) -> None:
    from townhall.citizens.actions import do_withdraw_subscriptions
    from townhall.citizens.models import ConsentRecord, Offering

    do_withdraw_subscriptions(
        conversation.citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON
    )

    response = staff_client.post(url("reply", conversation), {"text": "Hallo"}, headers=HTMX)

    assert 'id="reply-errors"' in response.content.decode()
    assert outbound_count() == 0


@pytest.fixture
def late_conversation(db: None) -> Conversation:
    """The citizen's last message is 30 hours old: the 24-hour window has closed."""
    at = timezone.now() - timedelta(hours=30)
    return make_conversation("Klaus Becker", "Hallo?", at=at)


@pytest.mark.django_db
def test_outside_the_window_the_page_offers_the_template(
    staff_client: Client, late_conversation
) -> None:
    html = staff_client.get(url("conversation", late_conversation)).content.decode()

    assert 'id="template-offer"' in html
    assert 'id="reply-text"' not in html
    assert url("template", late_conversation) in html


@pytest.mark.django_db
def test_outside_the_window_a_reply_is_refused_and_kept(
    staff_client: Client, late_conversation, not_sending
) -> None:
    # when (htmx)
    response = staff_client.post(
        url("reply", late_conversation), {"text": "Entschuldigung, spät."}, headers=HTMX
    )

    # then: the explanation, the template button, the unsent text; nothing queued
    html = response.content.decode()
    assert 'id="template-offer"' in html
    assert 'role="alert"' in html
    assert "Entschuldigung, spät." in html
    assert outbound_count() == 0
    late_conversation.refresh_from_db()
    assert late_conversation.state == Conversation.State.NEW

    # when (plain form post): redirected with a flash message
    response = staff_client.post(
        url("reply", late_conversation), {"text": "Entschuldigung, spät."}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] != []
    assert outbound_count() == 0


@pytest.mark.django_db
def test_template_button_queues_the_reengagement_template(
    staff_client: Client, late_conversation, not_sending
) -> None:
    response = staff_client.post(url("template", late_conversation), headers=HTMX)

    assert response.status_code == 200
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.type == "template"
    assert message.payload["template"]["name"] == "wieder_erreichbar"
    assert message.status == Message.Status.QUEUED
    assert (
        late_conversation.events.filter(kind=ConversationEvent.Kind.TEMPLATE_OFFERED).count() == 1
    )
    # the composer says so, and offers to send it again rather than first
    html = response.content.decode()
    assert 'class="inbox-window-closed__sent"' in html
    assert 'class="button" data-send-template' in html


@pytest.mark.django_db
def test_a_reply_failed_with_131047_keeps_its_text_and_offers_the_template(
    staff_client: Client, conversation, staff, not_sending
) -> None:
    # given: WhatsApp answered our reply with a failed status, code 131047
    reply = do_reply(conversation, "Die Hundesteuer beträgt 96 Euro.", acting_user=staff)
    Message.objects.filter(pk=reply.pk).update(
        status=Message.Status.FAILED, error_code=131047, error_title="Re-engagement message"
    )

    # when
    html = staff_client.get(url("conversation", conversation)).content.decode()

    # then
    assert "Die Hundesteuer beträgt 96 Euro." in html
    assert 'id="template-offer-failed"' in html
    assert html.index(f'id="message-{reply.pk}"') < html.index('id="template-offer-failed"')


@pytest.mark.django_db
def test_other_failures_do_not_offer_the_template(
    staff_client: Client, conversation, staff, not_sending
) -> None:
    reply = do_reply(conversation, "Antwort", acting_user=staff)
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.FAILED, error_code=131026)

    html = staff_client.get(url("conversation", conversation)).content.decode()

    assert "data-template-offer" not in html


# --- notes and organising -----------------------------------------------------------------------


@pytest.mark.django_db
def test_note_is_stored_and_never_sent(
    staff_client: Client, staff, conversation, not_sending
) -> None:
    response = staff_client.post(
        url("note", conversation), {"text": "Bauhof informiert"}, headers=HTMX
    )

    assert response.status_code == 200
    note = Note.objects.get()
    assert (note.text, note.author, note.conversation) == ("Bauhof informiert", staff, conversation)
    assert outbound_count() == 0
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="note-form"')
    assert f'id="note-{note.pk}"' in html


@pytest.mark.django_db
def test_empty_note_is_refused(staff_client: Client, conversation) -> None:
    response = staff_client.post(url("note", conversation), {"text": " "}, headers=HTMX)

    assert 'id="note-errors"' in response.content.decode()
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_note_without_htmx_redirects_to_it(staff_client: Client, conversation) -> None:
    response = staff_client.post(url("note", conversation), {"text": "Rückruf morgen"})

    note = Note.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("conversation", conversation) + f"#note-{note.pk}"


@pytest.mark.django_db
def test_assign_to_a_staff_member_and_team(
    staff_client: Client, staff, colleague, conversation
) -> None:
    team = Team.objects.create(name="Bauhof")

    response = staff_client.post(
        url("assign", conversation), {"assignee": colleague.pk, "team": team.pk}, headers=HTMX
    )

    assert response.status_code == 200
    assert 'id="panel"' in response.content.decode()
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.team) == (colleague, team)
    assert conversation.state == Conversation.State.OPEN
    event = conversation.events.get(kind=ConversationEvent.Kind.ASSIGNED)
    assert event.actor == staff


@pytest.mark.django_db
def test_assign_to_someone_without_staff_rights_is_refused(
    staff_client: Client, conversation
) -> None:
    outsider = get_user_model().objects.create_user("buerger", password="x-Passwort-2026")

    response = staff_client.post(url("assign", conversation), {"assignee": outsider.pk})

    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert not conversation.events.filter(kind=ConversationEvent.Kind.ASSIGNED).exists()


@pytest.mark.django_db
def test_unassign(staff_client: Client, staff, conversation) -> None:
    do_assign(conversation, assignee=staff, acting_user=staff)

    staff_client.post(url("assign", conversation), {"assignee": "", "team": ""})

    conversation.refresh_from_db()
    assert conversation.assignee is None


@pytest.mark.django_db
def test_state_priority_and_labels_persist(staff_client: Client, conversation) -> None:
    light, street, _unused = (
        Label.objects.create(name=name) for name in ("Licht", "Straße", "Lärm")
    )

    state = staff_client.post(url("state", conversation), {"state": "resolved"}, headers=HTMX)
    priority = staff_client.post(url("priority", conversation), {"priority": 3})
    labels = staff_client.post(
        url("labels", conversation), {"labels": [light.pk, street.pk]}, headers=HTMX
    )

    assert (state.status_code, priority.status_code, labels.status_code) == (200, 302, 200)
    assert priority["Location"] == url("conversation", conversation) + "#panel"
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.RESOLVED
    assert conversation.resolved_at is not None
    assert conversation.priority == Conversation.Priority.URGENT
    assert set(conversation.labels.values_list("name", flat=True)) == {"Licht", "Straße"}


@pytest.mark.django_db
def test_invalid_state_and_priority_change_nothing(staff_client: Client, conversation) -> None:
    state = staff_client.post(url("state", conversation), {"state": "deleted"}, headers=HTMX)
    priority = staff_client.post(url("priority", conversation), {"priority": 9}, headers=HTMX)

    assert 'class="inbox-panel__error"' in state.content.decode()
    assert 'class="inbox-panel__error"' in priority.content.decode()
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.NEW
    assert conversation.priority == Conversation.Priority.NORMAL


@pytest.mark.django_db
def test_panel_shows_what_the_citizen_receives(staff_client: Client, conversation) -> None:
    citizen = conversation.citizen
    do_subscribe_directly(citizen, [Offering.INFO], channel=ConsentRecord.Channel.WEB_FORM)
    do_set_topics(citizen, ["verkehr"], channel=ConsentRecord.Channel.WEB_FORM)

    html = staff_client.get(url("conversation", conversation), **ENGLISH).content.decode()

    panel = html.split('id="panel-subscriptions"')[1].split("</section>")[0]
    assert panel.count("is-active") == 2
    assert "Topics:" in panel and "roadworks" in panel
    assert reverse("staff:subscriber", args=[citizen.pk]) in panel

    do_withdraw_subscriptions(citizen, [Offering.INFO], channel=ConsentRecord.Channel.WEB_FORM)
    html = staff_client.get(url("conversation", conversation), **ENGLISH).content.decode()
    panel = html.split('id="panel-subscriptions"')[1].split("</section>")[0]
    assert panel.count("is-active") == 1
    assert "Ended" in panel
    # Topics of an info channel the citizen left are not worth showing.
    assert "Topics:" not in panel


# --- live updates -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_poll_is_204_until_something_changes(
    staff_client: Client, staff, conversation
) -> None:
    # given
    page = staff_client.get(LIST_URL)
    version = page.context["poll_query"].split("version=")[1]

    # when nothing changed
    unchanged = staff_client.get(POLL_URL, {"page": 1, "version": version}, headers=HTMX)

    # then
    assert unchanged.status_code == 204

    # when a message arrives
    citizen_writes(make_chat_citizen("Neue Bürgerin"), "Die Straßenlaterne ist aus.")
    changed = staff_client.get(POLL_URL, {"page": 1, "version": version}, headers=HTMX)

    # then
    assert changed.status_code == 200
    assert "Die Straßenlaterne ist aus." in changed.content.decode()
    new_version = changed.context["poll_query"].split("version=")[1]
    assert staff_client.get(POLL_URL, {"page": 1, "version": new_version}).status_code == 204

    # and so do a colleague's assignment and labels
    do_assign(conversation, assignee=staff, acting_user=staff)
    assigned = staff_client.get(POLL_URL, {"page": 1, "version": new_version})
    assert assigned.status_code == 200
    assigned_version = assigned.context["poll_query"].split("version=")[1]
    do_set_labels(conversation, [Label.objects.create(name="Licht")], acting_user=staff)
    assert staff_client.get(POLL_URL, {"page": 1, "version": assigned_version}).status_code == 200


@pytest.mark.django_db
def test_list_poll_updates_the_counts_when_something_changes_elsewhere(
    staff_client: Client, staff, conversation
) -> None:
    # given: "mine" is empty and stays so
    page = staff_client.get(LIST_URL, {"view": "mine"})
    version = page.context["poll_query"].split("version=")[1]
    assert page.context["sidebar"].unassigned == 1

    # when a new citizen writes (unassigned: not on this page)
    citizen_writes(make_chat_citizen("Neue Bürgerin"), "Wann ist Sperrmüll?")
    changed = staff_client.get(
        POLL_URL, {"view": "mine", "page": 1, "version": version}, headers=HTMX
    )

    # then the sidebar and the navigation badge are refreshed
    assert changed.status_code == 200
    assert changed.context["sidebar"].unassigned == 2
    assert 'id="inbox-nav-unread"' in changed.content.decode()


@pytest.mark.django_db
def test_history_poll_is_204_until_something_changes(
    staff_client: Client, staff, conversation
) -> None:
    # given
    page = staff_client.get(url("conversation", conversation))
    version = page.context["history_version"]
    history_url = url("history", conversation)

    # then
    assert staff_client.get(history_url, {"version": version, "window": 1}).status_code == 204

    # when the citizen writes: the new message, marked read because it is on screen
    citizen_writes(conversation.citizen, "Ist schon jemand unterwegs?")
    changed = staff_client.get(history_url, {"version": version, "window": 1}, headers=HTMX)

    assert changed.status_code == 200
    assert "Ist schon jemand unterwegs?" in changed.content.decode()
    assert 'id="composer"' not in changed.content.decode()
    conversation.refresh_from_db()
    assert conversation.unread_count == 0

    # when a colleague adds a note
    version = changed.context["history_version"]
    do_add_note(conversation, "Rückruf vereinbart", acting_user=staff)
    assert staff_client.get(history_url, {"version": version, "window": 1}).status_code == 200


@pytest.mark.django_db
def test_history_poll_replaces_the_composer_when_the_window_opens(
    staff_client: Client, late_conversation
) -> None:
    version = staff_client.get(url("conversation", late_conversation)).context["history_version"]

    citizen_writes(late_conversation.citizen, "Ich bin wieder da.")
    response = staff_client.get(
        url("history", late_conversation), {"version": version, "window": 0}, headers=HTMX
    )

    html = response.content.decode()
    assert 'id="composer" class="inbox-composer" hx-swap-oob="outerHTML"' in html
    assert 'id="reply-text"' in html


# --- navigation ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_navigation_shows_the_unread_total(
    staff_client: Client, conversation, settings, django_assert_max_num_queries
) -> None:
    # given
    citizen_writes(make_chat_citizen("Zweite"), "Eins")
    citizen_writes(Conversation.objects.last().citizen, "Zwei")

    # when
    html = staff_client.get(reverse("staff:message_log")).content.decode()

    # then: 1 + 2 unread
    assert '<span class="badge">3<span class="visually-hidden">' in html
