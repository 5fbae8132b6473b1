from datetime import UTC, datetime, timedelta

import pytest
from django.db.models.query import QuerySet

from townhall.citizens.actions import (
    ConsentMissing,
    PreferencesUpdate,
    current_consent_text,
    do_record_inbound_contact,
    do_request_erasure,
    do_set_topics,
    do_subscribe_directly,
    do_update_preferences,
    do_withdraw_subscriptions,
)
from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
)
from townhall.citizens.tests.queries import (
    chosen_topics,
    last_record_id,
    records_after,
    subscription_states,
)

WA_ID = "4917612345604"
FIRST_CONTACT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_first_contact_creates_the_citizen() -> None:
    citizen = do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)

    citizen.refresh_from_db()
    assert citizen.wa_id == WA_ID
    assert citizen.profile_name == "Klaus Becker"
    assert citizen.last_inbound_at == FIRST_CONTACT
    assert citizen.created_at == FIRST_CONTACT
    assert Citizen.objects.count() == 1


@pytest.mark.django_db
def test_later_message_updates_name_and_time() -> None:
    do_record_inbound_contact(WA_ID, "Klaus", FIRST_CONTACT)
    later = FIRST_CONTACT + timedelta(hours=2)

    citizen = do_record_inbound_contact(WA_ID, "Klaus Becker", later)

    citizen.refresh_from_db()
    assert citizen.profile_name == "Klaus Becker"
    assert citizen.last_inbound_at == later
    assert citizen.created_at == FIRST_CONTACT
    assert Citizen.objects.count() == 1


@pytest.mark.django_db
def test_empty_profile_name_keeps_the_known_name() -> None:
    do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)

    citizen = do_record_inbound_contact(WA_ID, "  ", FIRST_CONTACT + timedelta(minutes=1))

    citizen.refresh_from_db()
    assert citizen.profile_name == "Klaus Becker"
    assert citizen.last_inbound_at == FIRST_CONTACT + timedelta(minutes=1)


@pytest.mark.django_db
def test_older_message_never_moves_last_inbound_back_nor_renames() -> None:
    # given
    newest = FIRST_CONTACT + timedelta(hours=3)
    do_record_inbound_contact(WA_ID, "Klaus Becker", newest)

    # when a message written earlier is processed late
    citizen = do_record_inbound_contact(WA_ID, "Klaus (alt)", FIRST_CONTACT)

    # then
    citizen.refresh_from_db()
    assert citizen.last_inbound_at == newest
    assert citizen.profile_name == "Klaus Becker"


@pytest.mark.django_db
def test_unchanged_contact_writes_nothing(django_assert_num_queries) -> None:
    do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)

    # The locking read inside a savepoint, but no UPDATE.
    with django_assert_num_queries(3) as context:
        do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)

    assert not any(query["sql"].startswith("UPDATE") for query in context.captured_queries)


@pytest.mark.django_db
def test_updates_only_the_changed_fields(django_assert_num_queries) -> None:
    do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)

    with django_assert_num_queries(4) as context:
        do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT + timedelta(minutes=1))

    (update,) = [q["sql"] for q in context.captured_queries if q["sql"].startswith("UPDATE")]
    assert '"last_inbound_at"' in update
    assert '"profile_name"' not in update


@pytest.mark.django_db
def test_many_messages_of_one_citizen_leave_one_row() -> None:
    for minute in (5, 1, 9, 3, 7):
        do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT + timedelta(minutes=minute))

    citizen = Citizen.objects.get(wa_id=WA_ID)
    assert Citizen.objects.count() == 1
    assert citizen.last_inbound_at == FIRST_CONTACT + timedelta(minutes=9)


@pytest.mark.django_db
def test_citizen_created_by_a_concurrent_worker_is_updated_not_duplicated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: another worker inserts the citizen between our lookup and our insert
    do_record_inbound_contact(WA_ID, "Klaus", FIRST_CONTACT)
    original_get = QuerySet.get
    lookups = []

    def get_missing_once(self, *args, **kwargs):
        lookups.append(kwargs)
        if self.model is Citizen and len(lookups) == 1:
            raise Citizen.DoesNotExist
        return original_get(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "get", get_missing_once)
    later = FIRST_CONTACT + timedelta(minutes=2)

    # when
    citizen = do_record_inbound_contact(WA_ID, "Klaus Becker", later)

    # then: the insert hit the unique constraint, the row was read again and updated
    assert len(lookups) == 2
    monkeypatch.undo()
    citizen.refresh_from_db()
    assert Citizen.objects.count() == 1
    assert citizen.profile_name == "Klaus Becker"
    assert citizen.last_inbound_at == later


@pytest.mark.django_db
def test_long_profile_names_are_cut_to_the_field_length() -> None:
    citizen = do_record_inbound_contact(WA_ID, "K" * 300, FIRST_CONTACT)

    citizen.refresh_from_db()
    assert citizen.profile_name == "K" * 255


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        do_record_inbound_contact(WA_ID, "Klaus Becker", datetime(2025, 3, 14, 9, 0))  # noqa: DTZ001


# --- preferences page ---------------------------------------------------------------------------


WEB = ConsentRecord.Channel.WEB_FORM


@pytest.fixture
def citizen(db: None) -> Citizen:
    return do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)


@pytest.fixture
def subscriber(citizen: Citizen) -> Citizen:
    """Info channel (topics: urgent alerts, traffic) and chat, both by WhatsApp button."""
    button = ConsentRecord.Channel.WHATSAPP_BUTTON
    do_subscribe_directly(citizen, [Offering.INFO, Offering.CHAT], channel=button)
    do_set_topics(citizen, ["dringend", "verkehr"], channel=button)
    return citizen


def test_adding_an_offering_with_consent_subscribes_and_records_the_text(
    citizen: Citizen,
) -> None:
    update = do_update_preferences(
        citizen,
        offerings=["info"],
        topic_slugs=["dringend", "verkehr"],
        has_consented=True,
        is_16_or_older=True,
        channel=WEB,
    )

    assert update == PreferencesUpdate(["info"], [], ["dringend", "verkehr"], [])
    assert update.has_changes
    assert subscription_states(citizen) == {"info": "active"}
    assert chosen_topics(citizen) == {"dringend", "verkehr"}
    assert records_after(citizen, 0) == [
        ("requested", "info", None, WEB),
        ("granted", "info", None, WEB),
        ("topic_added", "info", "dringend", WEB),
        ("topic_added", "info", "verkehr", WEB),
    ]
    granted = ConsentRecord.objects.get(kind=ConsentRecord.Kind.GRANTED)
    assert granted.consent_text == current_consent_text()
    assert granted.age_confirmed is True
    assert Subscription.objects.get(citizen=citizen).consent_text == current_consent_text()


def test_adding_an_offering_without_consent_is_refused_and_changes_nothing(
    subscriber: Citizen,
) -> None:
    # given the chat was left, the info channel is still on
    do_withdraw_subscriptions(subscriber, [Offering.CHAT], channel=WEB)
    before = last_record_id()

    # when the chat is ticked again without consent, and a topic changed on the way
    with pytest.raises(ConsentMissing):
        do_update_preferences(
            subscriber,
            offerings=["info", "chat"],
            topic_slugs=["stadt"],
            has_consented=False,
            channel=WEB,
        )

    # then
    assert subscription_states(subscriber) == {"info": "active", "chat": "ended"}
    assert chosen_topics(subscriber) == {"dringend", "verkehr"}
    assert records_after(subscriber, before) == []


def test_removing_an_offering_withdraws_only_it_and_needs_no_consent(subscriber: Citizen) -> None:
    before = last_record_id()

    update = do_update_preferences(
        subscriber,
        offerings=["info"],
        topic_slugs=["dringend", "verkehr"],
        has_consented=False,
        channel=WEB,
    )

    assert update == PreferencesUpdate([], ["chat"], [], [])
    assert subscription_states(subscriber) == {"info": "active", "chat": "ended"}
    assert chosen_topics(subscriber) == {"dringend", "verkehr"}
    assert records_after(subscriber, before) == [("withdrawn", "chat", None, WEB)]


def test_changed_topics_are_recorded_in_display_order(subscriber: Citizen) -> None:
    before = last_record_id()

    update = do_update_preferences(
        subscriber,
        offerings=["info", "chat"],
        topic_slugs=["dringend", "stadt"],
        has_consented=False,
        channel=WEB,
    )

    assert update == PreferencesUpdate([], [], ["stadt"], ["verkehr"])
    assert subscription_states(subscriber) == {"info": "active", "chat": "active"}
    assert chosen_topics(subscriber) == {"dringend", "stadt"}
    assert records_after(subscriber, before) == [
        ("topic_removed", "info", "verkehr", WEB),
        ("topic_added", "info", "stadt", WEB),
    ]


def test_leaving_the_info_channel_keeps_the_topics_for_a_return(subscriber: Citizen) -> None:
    before = last_record_id()

    update = do_update_preferences(
        subscriber, offerings=["chat"], topic_slugs=[], has_consented=False, channel=WEB
    )

    assert update == PreferencesUpdate([], ["info"], [], [])
    assert subscription_states(subscriber) == {"info": "ended", "chat": "active"}
    assert chosen_topics(subscriber) == {"dringend", "verkehr"}
    assert records_after(subscriber, before) == [("withdrawn", "info", None, WEB)]


def test_unchanged_preferences_record_nothing(subscriber: Citizen) -> None:
    before = last_record_id()

    update = do_update_preferences(
        subscriber,
        offerings=["chat", "info"],
        topic_slugs=["verkehr", "dringend"],
        has_consented=True,
        channel=WEB,
    )

    assert not update.has_changes
    assert subscription_states(subscriber) == {"info": "active", "chat": "active"}
    assert records_after(subscriber, before) == []


def test_an_unknown_topic_undoes_the_whole_update(subscriber: Citizen) -> None:
    do_withdraw_subscriptions(subscriber, [Offering.CHAT], channel=WEB)
    before = last_record_id()

    with pytest.raises(ValueError, match="Unknown topics: wetter"):
        do_update_preferences(
            subscriber,
            offerings=["info", "chat"],
            topic_slugs=["wetter"],
            has_consented=True,
            is_16_or_older=True,
            channel=WEB,
        )

    assert subscription_states(subscriber) == {"info": "active", "chat": "ended"}
    assert chosen_topics(subscriber) == {"dringend", "verkehr"}
    assert records_after(subscriber, before) == []


def test_preferences_do_not_change_once_erasure_is_requested(subscriber: Citizen) -> None:
    # given a page opened before the erasure request
    stale = Citizen.objects.get(pk=subscriber.pk)
    do_request_erasure(subscriber, channel=WEB)
    before = last_record_id()

    # when
    update = do_update_preferences(
        stale, offerings=["info"], topic_slugs=["stadt"], has_consented=True, channel=WEB
    )

    # then
    assert not update.has_changes
    assert subscription_states(subscriber) == {"info": "ended", "chat": "ended"}
    assert chosen_topics(subscriber) == {"dringend", "verkehr"}
    assert records_after(subscriber, before) == []
