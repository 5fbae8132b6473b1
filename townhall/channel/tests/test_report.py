"""The compare table and the timeline of deliveries and reads."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from townhall.channel.models import PostDelivery, PostLinkOpen
from townhall.channel.report import compare_rows, timeline
from townhall.channel.tests.archive_factories import make_post
from townhall.core import clock
from townhall.inbox.tests.factories import make_staff
from townhall.whatsapp.models import MessageStatusEvent
from townhall.whatsapp.tests.factories import BASE_TIME, make_citizen, make_outbound


@pytest.fixture
def staff_client(client: Client, db: None) -> Client:
    # The role that reads statistics (and posts) but sends nothing.
    user = make_staff()
    user.groups.set([Group.objects.get(name="Auswertung")])
    client.force_login(user)
    return client


def posts_with_opens(*counts: int) -> list:
    posts = []
    for index, count in enumerate(counts):
        post = make_post(f"Beitrag {index}")
        PostLinkOpen.objects.create(post=post, day=clock.today(), count=count)
        posts.append(post)
    return posts


@pytest.mark.django_db
def test_compare_table_sorts_and_exports_the_same_numbers(staff_client: Client):
    first, second, third = posts_with_opens(5, 12, 1)
    url = reverse("channel:compare")

    by_opens = staff_client.get(url, {"sort": "-link_opens"})
    ascending = staff_client.get(url, {"sort": "link_opens"})
    exported = staff_client.get(url, {"sort": "-link_opens", "format": "csv"})

    assert [row.post for row in by_opens.context["rows"]] == [second, first, third]
    assert [row.post for row in ascending.context["rows"]] == [third, first, second]
    assert 'aria-sort="descending"' in by_opens.content.decode()
    assert exported["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(row["title"], row["link_opens"]) for row in table] == [
        ("Beitrag 1", "12"),
        ("Beitrag 0", "5"),
        ("Beitrag 2", "1"),
    ]
    # Numbers only: no phone numbers or names in the export.
    assert set(table[0]) == {
        "post", "title", "sent_at", "audience", "handed_over", "delivered", "read",
        "read_rate_percent", "reactions", "unsubscribes_24h", "link_opens", "signups",
    }  # fmt: skip


@pytest.mark.django_db
def test_compare_rows_take_the_same_queries_for_three_posts_as_for_thirty(
    django_assert_num_queries,
):
    posts_with_opens(1, 2, 3)
    with django_assert_num_queries(2):
        assert len(compare_rows()) == 3
    posts_with_opens(*range(27))
    with django_assert_num_queries(2):
        assert len(compare_rows()) == 30


@pytest.mark.django_db
def test_a_read_whose_delivery_was_not_reported_counts_as_delivered_once():
    # given: three recipients of a post; Meta reported one's read but not its delivery
    post = make_post()
    statuses = [("sent", "delivered", "read"), ("sent", "read"), ("sent", "delivered")]
    messages = []
    for index, reported in enumerate(statuses):
        citizen = make_citizen(f"4915100000{index:03d}", f"Bürgerin {index}")
        message = make_outbound(citizen, statuses=reported)
        PostDelivery.objects.create(post=post, citizen=citizen, message=message, language="de")
        messages.append(message)

    # then: three delivered, two read
    assert (timeline(post).delivered[-1], timeline(post).read[-1]) == (3, 2)

    # when: the missing delivery arrives late (webhooks come in any order)
    MessageStatusEvent.objects.create(
        provider_message_id=messages[1].provider_id,
        status="delivered",
        recipient_wa_id=messages[1].wa_id,
        occurred_at=BASE_TIME + timedelta(minutes=1),
    )

    # then: it is not counted twice
    assert (timeline(post).delivered[-1], timeline(post).read[-1]) == (3, 2)
