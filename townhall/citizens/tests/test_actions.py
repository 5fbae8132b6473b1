from datetime import UTC, datetime, timedelta

import pytest
from django.db.models.query import QuerySet

from townhall.citizens.actions import do_record_inbound_contact
from townhall.citizens.models import Citizen

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
