"""Row estimates that let the inbox search choose its plan."""

import pytest
from django.db import connection

from townhall.core.search_indexes import estimated_rows
from townhall.whatsapp.models import Message


@pytest.mark.django_db
def test_estimates_follow_the_data_on_postgresql_and_are_absent_elsewhere():
    Message.objects.bulk_create(
        Message(
            direction=Message.Direction.INBOUND,
            wa_id=f"49151000{index:05d}",
            type="text",
            status=Message.Status.RECEIVED,
            text="Wann wird der Sperrmüll abgeholt?" if index % 2 else "Danke!",
        )
        for index in range(2000)
    )

    common = estimated_rows(Message.objects.filter(text__icontains="Sperrmüll"))
    missing = estimated_rows(Message.objects.filter(text__icontains="Zebrastreifen"))

    if connection.vendor != "postgresql":
        assert common is None and missing is None
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE whatsapp_message")
    common = estimated_rows(Message.objects.filter(text__icontains="Sperrmüll"))
    missing = estimated_rows(Message.objects.filter(text__icontains="Zebrastreifen"))
    assert common is not None and missing is not None
    assert common > 500 > missing


@pytest.mark.django_db
def test_the_trigram_indexes_exist_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL-only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%\\_trgm'")
        names = {row[0] for row in cursor.fetchall()}
    assert names == {"whatsapp_message_text_trgm", "citizens_citizen_name_trgm"}
