"""The inbox's business rules, through the real intake path with the Cloud API faked at
its HTTP boundary: routing, office hours and auto-replies, replies and the 24-h window."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from townhall.citizens.actions import (
    do_erase_citizen,
    do_subscribe_directly,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.inbox.actions import (
    OutsideServiceWindow,
    do_add_note,
    do_assign,
    do_reply,
    do_send_reengagement_template,
    do_set_state,
)
from townhall.inbox.models import Conversation, ConversationEvent, Note
from townhall.whatsapp.actions import do_record_webhook_event, do_requeue_stale_work
from townhall.whatsapp.errors import OutsideServiceWindow as CloudOutsideServiceWindow
from townhall.whatsapp.models import Message
from townhall.whatsapp.types import webhook_envelope

BERLIN = ZoneInfo("Europe/Berlin")
WA_ID = "4916012340002"
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
MONDAY_EVENING = datetime(2026, 11, 23, 19, 30, tzinfo=BERLIN)
TUESDAY_NIGHT = datetime(2026, 11, 24, 2, 0, tzinfo=BERLIN)
TUESDAY_EVENING = datetime(2026, 11, 24, 20, 0, tzinfo=BERLIN)
CHRISTMAS_DAY = datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "sachbearbeitung",
        password="x-Passwort-2026",
        is_staff=True,
        first_name="Petra",
        last_name="Lange",
    )


@pytest.fixture
def chat_citizen(db):
    citizen = Citizen.objects.create(wa_id=WA_ID, profile_name="Murat Yilmaz")
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    return citizen


@pytest.fixture
def sends_now(django_capture_on_commit_callbacks):
    """Run an action and the sends it queued, as the worker would after commit."""

    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    return run


@pytest.fixture
def writes(deliver_inbound, chat_citizen):
    def write(body: str, at: datetime) -> list[dict]:
        return deliver_inbound(
            {"type": "text", "text": {"body": body}}, wa_id=WA_ID, name="Murat Yilmaz", at=at
        )

    return write


def texts(sent: list[dict]) -> list[str]:
    return [body["text"]["body"] for body in sent if body["type"] == "text"]


@pytest.mark.django_db
def test_message_in_office_hours_opens_a_conversation_without_auto_reply(writes):
    sent = writes("Wann ist das Bürgerbüro geöffnet?", MONDAY_10)

    assert sent == []
    conversation = Conversation.objects.get()
    assert conversation.state == Conversation.State.NEW
    assert conversation.unread_count == 1
    assert conversation.last_message_preview == "Wann ist das Bürgerbüro geöffnet?"
    assert list(conversation.events.values_list("kind", flat=True)) == ["opened"]


@pytest.mark.django_db
def test_one_auto_reply_per_closed_period(writes):
    first = writes("Guten Abend, eine Frage zur Grundsteuer.", MONDAY_EVENING)
    second = writes("Noch ein Nachtrag.", TUESDAY_NIGHT)
    third = writes("Und noch eine Frage.", TUESDAY_EVENING)

    assert len(texts(first)) == 1
    assert "Dienstag" in texts(first)[0] and "08:00" in texts(first)[0]
    assert "110" in texts(first)[0] and "112" in texts(first)[0]
    assert second == []
    assert len(texts(third)) == 1
    assert "Mittwoch" in texts(third)[0]
    assert Conversation.objects.get().events.filter(kind="auto_reply").count() == 2


@pytest.mark.django_db
def test_nrw_holiday_gets_auto_reply_naming_the_next_working_day(writes):
    sent = writes("Frohe Weihnachten! Die Mülltonne wurde nicht geleert.", CHRISTMAS_DAY)

    assert len(texts(sent)) == 1
    assert "Montag" in texts(sent)[0]
    assert "28.12.2026" in texts(sent)[0]


@pytest.mark.django_db
def test_reply_within_window_adds_signature_and_waits_for_citizen(
    writes, staff, fake_cloud_api, sends_now
):
    writes("Die Ampel an der Schulstraße ist defekt.", timezone.now() - timedelta(hours=1))
    conversation = Conversation.objects.get()

    message = sends_now(
        do_reply, conversation, "Danke {citizen_name}, wir kümmern uns.", acting_user=staff
    )

    assert message.text == "Danke Murat Yilmaz, wir kümmern uns.\n\n– Ihr Bürgermeisterbüro"
    assert fake_cloud_api.sent_bodies[-1]["text"]["body"] == message.text
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.WAITING
    assert conversation.unread_count == 0
    assert conversation.first_response_at is not None
    first_response = conversation.events.get(kind="first_response")
    assert first_response.actor == staff
    assert first_response.office_seconds is not None


@pytest.mark.django_db
def test_reply_after_24_hours_is_refused_and_template_offered(
    writes, staff, fake_cloud_api, sends_now
):
    writes("Hallo?", timezone.now() - timedelta(hours=30))
    conversation = Conversation.objects.get()
    outbound_before = Message.objects.filter(direction="out").count()

    with pytest.raises(OutsideServiceWindow):
        do_reply(conversation, "Entschuldigung für die späte Antwort.", acting_user=staff)
    assert Message.objects.filter(direction="out").count() == outbound_before

    template = sends_now(do_send_reengagement_template, conversation, acting_user=staff)

    assert template.type == "template"
    assert fake_cloud_api.sent_bodies[-1]["template"]["name"] == "wieder_erreichbar"
    assert fake_cloud_api.sent_bodies[-1]["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Murat Yilmaz"}
    ]


@pytest.mark.django_db
def test_late_reply_failing_with_131047_is_kept_and_typed(
    writes, staff, fake_cloud_api, django_capture_on_commit_callbacks, sends_now
):
    # The window is judged by our clock; Meta may still say 131047 (clock skew, late send).
    writes("Frage zur Hundesteuer", timezone.now() - timedelta(hours=23, minutes=59))
    conversation = Conversation.objects.get()
    reply = sends_now(do_reply, conversation, "Die Hundesteuer beträgt 96 Euro.", acting_user=staff)
    reply.refresh_from_db()
    status = {
        "id": reply.provider_id,
        "status": "failed",
        "timestamp": str(int(timezone.now().timestamp())),
        "recipient_id": WA_ID,
        "errors": [{"code": 131047, "title": "Re-engagement message"}],
    }
    value = {"messaging_product": "whatsapp", "metadata": {}, "statuses": [status]}

    with django_capture_on_commit_callbacks(execute=True):
        do_record_webhook_event(orjson.dumps(webhook_envelope(value)))

    reply.refresh_from_db()
    assert reply.status == Message.Status.FAILED
    assert isinstance(reply.error, CloudOutsideServiceWindow)
    assert reply.text.startswith("Die Hundesteuer beträgt 96 Euro.")


@pytest.mark.django_db
def test_note_is_never_sent(writes, staff, fake_cloud_api):
    writes("Lärm von der Baustelle", MONDAY_10)
    conversation = Conversation.objects.get()
    requests_before = len(fake_cloud_api.requests)

    do_add_note(conversation, "Ordnungsamt informiert, Rückruf morgen", acting_user=staff)

    assert Note.objects.get().text == "Ordnungsamt informiert, Rückruf morgen"
    assert len(fake_cloud_api.requests) == requests_before
    assert not Message.objects.filter(text__contains="Ordnungsamt informiert").exists()


@pytest.mark.django_db
def test_resolved_conversation_reopens_on_new_message(writes, staff, time_machine):
    writes("Erste Frage", MONDAY_10)
    conversation = Conversation.objects.get()
    time_machine.move_to(MONDAY_10 + timedelta(minutes=30))
    do_assign(conversation, assignee=staff, acting_user=staff)
    do_set_state(conversation, Conversation.State.RESOLVED, acting_user=staff)

    writes("Noch eine Frage", MONDAY_10 + timedelta(hours=2))

    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.OPEN
    assert conversation.assignee == staff
    assert conversation.first_response_at is None
    kinds = list(conversation.events.values_list("kind", flat=True))
    assert kinds == ["opened", "assigned", "resolved", "reopened"]
    assert conversation.events.get(kind="resolved").office_seconds is not None


@pytest.mark.django_db
def test_citizen_who_left_chat_gets_hint_not_inbox(deliver_inbound, chat_citizen):
    do_withdraw_subscriptions(chat_citizen, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)

    sent = deliver_inbound(
        {"type": "text", "text": {"body": "Hallo, ist noch jemand da?"}},
        wa_id=WA_ID,
        name="Murat Yilmaz",
        at=MONDAY_10,
    )

    assert not Conversation.objects.exists()
    assert len(sent) == 1
    assert sent[0]["type"] == "interactive"
    assert "melden Sie sich bitte zuerst an" in sent[0]["interactive"]["body"]["text"]


@pytest.mark.django_db
def test_left_chat_goes_to_inbox_with_flag_when_configured(deliver_inbound, chat_citizen, settings):
    settings.INBOX_ACCEPT_UNSUBSCRIBED = True
    do_withdraw_subscriptions(chat_citizen, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)

    sent = deliver_inbound(
        {"type": "text", "text": {"body": "Hallo, ist noch jemand da?"}},
        wa_id=WA_ID,
        name="Murat Yilmaz",
        at=MONDAY_10,
    )

    conversation = Conversation.objects.get()
    assert conversation.is_unsubscribed is True
    assert sent == []


@pytest.mark.django_db
@pytest.mark.parametrize("accept_unsubscribed", [False, True])
def test_message_redelivered_three_days_late_is_stored_and_handled_without_reply(
    deliver_inbound, chat_citizen, settings, accept_unsubscribed
):
    """Meta re-delivers webhooks for up to 7 days. A citizen who left the chat wrote on a
    Monday evening (office closed); the webhook reaches us on Thursday: the 24-hour window
    is long closed, so neither the bot's hint nor the inbox's auto-reply may be sent, and
    nothing may raise and be retried forever."""
    settings.INBOX_ACCEPT_UNSUBSCRIBED = accept_unsubscribed
    do_withdraw_subscriptions(chat_citizen, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)

    sent = deliver_inbound(
        {"type": "text", "text": {"body": "Ist das Bürgerbüro am Samstag offen?"}},
        wa_id=WA_ID,
        name="Murat Yilmaz",
        at=MONDAY_EVENING,
        delivered_at=MONDAY_EVENING + timedelta(days=3),
    )

    assert sent == []
    stored = Message.objects.get(direction=Message.Direction.INBOUND)
    assert stored.handled_at is not None
    assert stored.status == Message.Status.RECEIVED
    assert stored.attempts == 0
    assert stored.created_at == MONDAY_EVENING
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    if accept_unsubscribed:
        conversation = Conversation.objects.get()
        assert conversation.unread_count == 1
        assert conversation.auto_replied_period == ""
    else:
        assert not Conversation.objects.exists()
    # Nothing is left for the sweeper to pick up again.
    assert do_requeue_stale_work(MONDAY_EVENING + timedelta(days=3, minutes=10))["inbound"] == 0


@pytest.mark.django_db
def test_erasure_removes_notes_and_preview(writes, staff, chat_citizen):
    writes("Meine Adresse ist Lindenweg 4", MONDAY_10)
    conversation = Conversation.objects.get()
    do_add_note(conversation, "Herr Yilmaz ruft zurück", acting_user=staff)

    do_erase_citizen(chat_citizen, channel=ConsentRecord.Channel.STAFF, acting_user=staff)

    conversation.refresh_from_db()
    assert conversation.last_message_preview == ""
    assert not Note.objects.exists()
    assert ConversationEvent.objects.filter(conversation=conversation).exists()
