"""Retention: each kind of personal data goes when its period is over, by the nightly
tasks, on a travelled clock; what is still within its period stays."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from time_machine import TimeMachineFixture

from townhall.audit import tasks as audit_tasks
from townhall.audit.actions import do_audit
from townhall.audit.models import AuditEntry
from townhall.audit.models import AuditEntry as Audit
from townhall.citizens import tasks as citizens_tasks
from townhall.citizens.actions import (
    do_record_inbound_contact,
    do_subscribe_directly,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import BotSession, Citizen, ConsentRecord, Offering
from townhall.core import tasks as core_tasks
from townhall.inbox import tasks as inbox_tasks
from townhall.inbox.actions import do_add_note, do_reply, do_set_state
from townhall.inbox.models import Conversation, Note
from townhall.inbox.tests.factories import (
    citizen_writes,
    make_chat_citizen,
    make_staff,
    open_around_the_clock,
)
from townhall.whatsapp import tasks as whatsapp_tasks
from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.models import Message, WebhookEvent

BERLIN = ZoneInfo("Europe/Berlin")
# A Monday morning; the nightly runs are at 03:xx city time.
START = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
DAY = timedelta(days=1)


@pytest.fixture
def at_start(time_machine: TimeMachineFixture) -> TimeMachineFixture:
    time_machine.move_to(START, tick=False)
    return time_machine


def nightly(*tasks) -> None:
    """Run the periodic tasks as the consumer would, checking that they are due at 03:00-04:59."""
    for task in tasks:
        due_at = [
            START.replace(hour=hour, minute=minute)
            for hour in (3, 4)
            for minute in range(60)
            if task.s().validate_datetime(START.replace(hour=hour, minute=minute, tzinfo=None))
        ]
        assert len(due_at) == 1, task.name
        task.call_local()


@pytest.mark.django_db
def test_rejected_and_failed_webhook_bodies_go_after_30_days(at_start, settings):
    # given
    rejected = do_record_webhook_event(b'{"broken', is_readable=False)
    failed = do_record_webhook_event(b'{"object": "whatsapp_business_account", "n": 1}')
    WebhookEvent.objects.filter(pk=failed).update(state=WebhookEvent.State.FAILED)
    # when: 29 days later, then 31
    at_start.shift(29 * DAY)
    nightly(whatsapp_tasks.purge_unprocessable_webhook_events)
    kept = set(WebhookEvent.objects.values_list("pk", flat=True))
    at_start.shift(2 * DAY)
    nightly(whatsapp_tasks.purge_unprocessable_webhook_events)
    # then
    assert kept == {rejected, failed}
    assert WebhookEvent.objects.count() == 0
    assert settings.RETENTION["REJECTED_WEBHOOK_DAYS"] == 30


@pytest.mark.django_db
def test_the_rejected_webhook_period_is_configurable(at_start, settings):
    settings.RETENTION = {**settings.RETENTION, "REJECTED_WEBHOOK_DAYS": 3}
    do_record_webhook_event(b'{"broken', is_readable=False)

    at_start.shift(4 * DAY)
    nightly(whatsapp_tasks.purge_unprocessable_webhook_events)

    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_texts_of_conversations_resolved_90_days_ago_are_emptied(at_start):
    # given: one conversation resolved today, one still open
    open_around_the_clock()
    staff = make_staff()
    resolved = citizen_writes(make_chat_citizen("Anna Schneider"), "Meine Adresse: Hauptstr. 5")
    do_add_note(resolved, "Rückruf unter privater Nummer", acting_user=staff)
    do_set_state(resolved, Conversation.State.RESOLVED, acting_user=staff)
    still_open = citizen_writes(make_chat_citizen("Jonas Weber"), "Noch offen")
    # when: 89 days later nothing happens; 91 days later the resolved one is emptied
    at_start.shift(89 * DAY)
    nightly(inbox_tasks.apply_conversation_retention)
    texts_after_89_days = sorted(Message.objects.exclude(text="").values_list("text", flat=True))
    at_start.shift(2 * DAY)
    nightly(inbox_tasks.apply_conversation_retention)
    # then
    assert texts_after_89_days == ["Meine Adresse: Hauptstr. 5", "Noch offen"]
    assert list(Message.objects.exclude(text="").values_list("text", flat=True)) == ["Noch offen"]
    assert Message.objects.filter(wa_id=resolved.citizen.wa_id).count() == 1
    assert Note.objects.count() == 0
    resolved.refresh_from_db()
    still_open.refresh_from_db()
    assert resolved.last_message_preview == ""
    assert still_open.last_message_preview == "Noch offen"


@pytest.mark.django_db
def test_a_resolved_conversations_message_still_waiting_to_be_sent_keeps_its_content(at_start):
    # given: a reply held back (e.g. by an outage) in a conversation resolved since
    open_around_the_clock()
    staff = make_staff()
    conversation = citizen_writes(make_chat_citizen("Anna Schneider"), "Meine Adresse")
    do_reply(conversation, "Wir melden uns.", acting_user=staff)
    reply = Message.objects.get(direction="out")
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.HELD)
    do_set_state(conversation, Conversation.State.RESOLVED, acting_user=staff)
    # when
    at_start.shift(91 * DAY)
    nightly(inbox_tasks.apply_conversation_retention)
    # then: what the citizen wrote is emptied, the reply can still be sent
    citizen_text, reply_text = Message.objects.order_by("pk").values_list("text", flat=True)
    assert citizen_text == ""
    assert reply_text.startswith("Wir melden uns.")
    reply.refresh_from_db()
    assert reply.payload


@pytest.mark.django_db
def test_a_reopened_conversation_keeps_its_texts(at_start):
    open_around_the_clock()
    staff = make_staff()
    conversation = citizen_writes(make_chat_citizen("Anna Schneider"), "Erste Frage")
    do_set_state(conversation, Conversation.State.RESOLVED, acting_user=staff)
    at_start.shift(100 * DAY)
    citizen_writes(conversation.citizen, "Noch eine Frage")

    nightly(inbox_tasks.apply_conversation_retention)

    assert sorted(Message.objects.values_list("text", flat=True)) == [
        "Erste Frage",
        "Noch eine Frage",
    ]


@pytest.mark.django_db
def test_messages_of_citizens_without_a_conversation_lose_their_texts_after_90_days(
    at_start, deliver_inbound
):
    # given: a sign-up dialogue with the bot, and a citizen who wrote to the office
    open_around_the_clock()
    deliver_inbound({"type": "text", "text": {"body": "Start"}}, wa_id="4915112340002", name="K")
    bot_dialogue = Message.objects.filter(wa_id="4915112340002")
    assert not Conversation.objects.filter(citizen__wa_id="4915112340002").exists()
    assert bot_dialogue.count() >= 2
    conversation = citizen_writes(make_chat_citizen("Anna Schneider"), "Meine Adresse: Hauptstr. 5")
    # when: 89 days later nothing happens; 91 days later the dialogue is emptied
    at_start.shift(89 * DAY)
    nightly(inbox_tasks.apply_message_retention)
    kept_after_89_days = bot_dialogue.exclude(text="").count()
    at_start.shift(2 * DAY)
    nightly(inbox_tasks.apply_message_retention)
    # then: the rows stay, empty; the office's conversation keeps its texts
    assert kept_after_89_days >= 2
    assert list(bot_dialogue.values_list("text", "payload").distinct()) == [("", {})]
    assert list(
        Message.objects.filter(wa_id=conversation.citizen.wa_id).values_list("text", flat=True)
    ) == ["Meine Adresse: Hauptstr. 5"]


@pytest.mark.django_db
def test_a_message_still_waiting_to_be_sent_keeps_its_content(at_start, deliver_inbound):
    # given: the bot's answer to "Start" is held back (e.g. by an outage) for three months
    deliver_inbound({"type": "text", "text": {"body": "Start"}}, wa_id="4915112340003", name="K")
    answer = Message.objects.filter(wa_id="4915112340003", direction="out").first()
    assert answer is not None and answer.payload
    Message.objects.filter(pk=answer.pk).update(status=Message.Status.HELD)
    # when
    at_start.shift(91 * DAY)
    nightly(inbox_tasks.apply_message_retention)
    # then: what the citizen wrote is emptied, the answer can still be sent
    answer.refresh_from_db()
    assert answer.payload
    assert not Message.objects.filter(wa_id="4915112340003", direction="in").exclude(text="")


@pytest.mark.django_db
def test_message_retention_walks_the_whole_table_in_slices(at_start, deliver_inbound, settings):
    # given: more messages than one slice of ids, with a gap in the ids
    from townhall.inbox import actions as inbox_actions

    settings.RETENTION = {**settings.RETENTION, "MESSAGE_DAYS": 10}
    for number in range(5):
        deliver_inbound(
            {"type": "text", "text": {"body": f"Start {number}"}},
            wa_id=f"49151123400{number + 10}",
            name="K",
        )
    Message.objects.filter(pk=Message.objects.order_by("pk")[2].pk).delete()
    inbox_actions.MESSAGE_RETENTION_ID_RANGE = 2
    try:
        # when
        at_start.shift(11 * DAY)
        emptied = inbox_actions.do_apply_message_retention()
    finally:
        inbox_actions.MESSAGE_RETENTION_ID_RANGE = 10_000
    # then
    assert emptied == Message.objects.count() > 5
    assert not Message.objects.exclude(text="", payload={}).exists()


def _former_subscriber(wa_id: str) -> Citizen:
    citizen = do_record_inbound_contact(wa_id, "Klaus Becker", START)
    do_subscribe_directly(citizen, [Offering.INFO], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    do_withdraw_subscriptions(citizen, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)
    return citizen


@pytest.mark.django_db
def test_former_subscribers_are_erased_after_three_years_without_contact(
    at_start, deliver_inbound, settings
):
    # given: one who said Stop, one still subscribed, one who said Stop and wrote again later
    stopped = _former_subscriber("4915112340020")
    subscribed = do_record_inbound_contact("4915112340021", "Maria Vogel", START)
    do_subscribe_directly(subscribed, [Offering.INFO], channel=ConsentRecord.Channel.WEB_FORM)
    wrote_again = _former_subscriber("4915112340022")
    at_start.shift(400 * DAY)
    deliver_inbound({"type": "text", "text": {"body": "Hallo?"}}, wa_id=wrote_again.wa_id, name="W")
    # when: just before and just after three years
    at_start.move_to(START + 1095 * DAY - timedelta(hours=1))
    nightly(citizens_tasks.erase_former_citizens)
    erased_before = Citizen.objects.filter(erased_at__isnull=False).count()
    at_start.shift(2 * timedelta(hours=1))
    nightly(citizens_tasks.erase_former_citizens)
    # then: only the one without contact for three years is erased, its consents kept anonymous
    assert erased_before == 0
    assert settings.RETENTION["FORMER_CITIZEN_DAYS"] == 1095
    assert set(Citizen.objects.filter(erased_at__isnull=False)) == {stopped}
    stopped.refresh_from_db()
    assert stopped.wa_id.startswith("erased-")
    assert stopped.profile_name == ""
    assert list(stopped.consent_records.values_list("kind", "channel")) == [
        (ConsentRecord.Kind.REQUESTED, ConsentRecord.Channel.WHATSAPP_BUTTON),
        (ConsentRecord.Kind.GRANTED, ConsentRecord.Channel.WHATSAPP_BUTTON),
        (ConsentRecord.Kind.WITHDRAWN, ConsentRecord.Channel.WHATSAPP_KEYWORD),
        (ConsentRecord.Kind.ERASED, ConsentRecord.Channel.RETENTION),
    ]
    assert not Message.objects.filter(wa_id="4915112340020").exists()
    assert Audit.objects.filter(action=Audit.Action.CITIZEN_ERASED).values_list(
        "actor_name", "target_id"
    ).get() == ("retention", str(stopped.pk))


@pytest.mark.django_db
def test_expired_bot_sessions_go_a_day_after_they_expired(at_start, deliver_inbound):
    # given: LÖSCHEN asks for confirmation, which opens a session
    deliver_inbound({"type": "text", "text": {"body": "LÖSCHEN"}}, wa_id="4915112340001", name="J")
    session = BotSession.objects.get()
    # when
    at_start.move_to(session.expires_at + timedelta(hours=23))
    nightly(citizens_tasks.purge_bot_sessions)
    kept = BotSession.objects.count()
    at_start.shift(2 * timedelta(hours=1))
    nightly(citizens_tasks.purge_bot_sessions)
    # then
    assert kept == 1
    assert BotSession.objects.count() == 0


@pytest.mark.django_db
def test_expired_staff_sessions_are_cleared(at_start, client: Client, settings):
    # given: a login, whose session lives SESSION_COOKIE_AGE
    client.force_login(make_staff())
    assert Session.objects.count() == 1
    # when
    at_start.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE) - timedelta(hours=1))
    nightly(core_tasks.clear_expired_sessions)
    kept = Session.objects.count()
    at_start.shift(2 * timedelta(hours=1))
    nightly(core_tasks.clear_expired_sessions)
    # then
    assert kept == 1
    assert Session.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_nightly_scrub_runs_on_either_database():
    # VACUUM and SQLite's checkpoint refuse to run inside a transaction: this would raise.
    nightly(core_tasks.scrub_database)


@pytest.mark.django_db
def test_audit_entries_go_after_the_retention_period_and_only_they(at_start, settings):
    # given: a login audited now, and a settings change audited a day later
    settings.RETENTION = {**settings.RETENTION, "AUDIT_DAYS": 365}
    do_audit(AuditEntry.Action.LOGIN, acting_user=make_staff())
    at_start.shift(DAY)
    do_audit(AuditEntry.Action.SETTINGS_CHANGED, details={"fields": ["name"]})
    # when: just before and just after the first one's 365 days are over
    at_start.shift(364 * DAY - timedelta(hours=1))
    nightly(audit_tasks.purge_expired_audit_entries)
    both_kept = AuditEntry.objects.count()
    at_start.shift(2 * timedelta(hours=1))
    nightly(audit_tasks.purge_expired_audit_entries)
    # then: the older one went, the newer one stays
    assert both_kept == 2
    assert list(AuditEntry.objects.values_list("action", flat=True)) == [
        AuditEntry.Action.SETTINGS_CHANGED
    ]
