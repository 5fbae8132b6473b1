"""The topics' list in the admin, where administrators reorder and switch topics inline."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from townhall.citizens.models import Topic


@pytest.mark.django_db
def test_the_topic_lists_inline_inputs_say_which_topic_they_edit(client: Client) -> None:
    client.force_login(User.objects.create_superuser("verwaltung", password="Rathaus-Test-2025"))

    page = client.get(reverse("admin:citizens_topic_changelist")).content.decode()

    topics = list(Topic.objects.all())
    assert topics
    for topic in topics:
        assert f'aria-label="Reihenfolge: {escape(topic.name_de)}"' in page
        assert f'aria-label="Aktiv: {escape(topic.name_de)}"' in page
