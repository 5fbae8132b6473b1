"""The whole subscription journey through the simulator, over real HTTP and real processes:

START → "Beides" → consent → topics → THEMEN → STOP INFO (chat stays) → START again →
LÖSCHEN → nothing personal left in any table.
"""

from __future__ import annotations

import time

import pytest
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast

from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
    TopicSubscription,
)
from townhall.simulator.testing import local_http

pytestmark = pytest.mark.e2e

WA_ID = "4917655501234"
NAME = "Friederike Quastenberg"


class Phone:
    """A citizen's phone in the simulator, driven through its control API."""

    def __init__(self, stack) -> None:
        self.base = f"{stack.simulator_url}/_sim/citizens/{WA_ID}"
        self.seen: set[str] = set()

    def send(self, payload: dict) -> None:
        local_http.post(
            f"{self.base}/send", json={"name": NAME, **payload}, timeout=10
        ).raise_for_status()

    def write(self, text: str) -> None:
        self.send({"type": "text", "text": text})

    def messages(self) -> list[dict]:
        response = local_http.get(f"{self.base}/messages", timeout=10)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return response.json()["messages"]

    def next_from_city(self, timeout: float = 20.0) -> dict:
        """The next business message that arrives on the phone (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages():
                if message["direction"] == "out" and message["id"] not in self.seen:
                    self.seen.add(message["id"])
                    return message
            time.sleep(0.1)
        pytest.fail(f"no new message from the city within {timeout} s")

    def tap(self, message: dict, option_id: str) -> None:
        ids = [option["id"] for option in message["options"]]
        assert option_id in ids, f"{option_id} not offered, only {ids}"
        kind = "list_reply" if message["content"].get("type") == "list" else "button_reply"
        key = "row_id" if kind == "list_reply" else "button_id"
        self.send({"type": kind, "message_id": message["id"], key: option_id})


def active_offerings(citizen: Citizen) -> set[str]:
    return set(
        Subscription.objects.filter(citizen=citizen, state=Subscription.State.ACTIVE).values_list(
            "offering", flat=True
        )
    )


def active_topics(citizen: Citizen) -> set[str]:
    return set(
        TopicSubscription.objects.filter(citizen=citizen, is_active=True).values_list(
            "topic__slug", flat=True
        )
    )


def rows_containing(needle: str) -> list[str]:
    """Every model field in the database whose text contains ``needle``."""
    hits = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            queryset = model._default_manager.annotate(
                _as_text=Cast(field.name, models.TextField())
            ).filter(_as_text__icontains=needle)
            if queryset.exists():
                hits.append(f"{model._meta.label}.{field.name}")
    return hits


@pytest.fixture
def live_stack_env() -> dict[str, str]:
    # The onboarding dialogue is a burst of ~20 messages to one person; our own pair limit
    # (6, then one per 6 s) would stretch it over a minute and a half. The limiter has its
    # own tests (whatsapp/tests/test_dispatch.py).
    return {"WHATSAPP_PAIR_LIMIT_BURST": "100"}


def test_full_subscription_journey_and_erasure(live_stack, wait):
    phone = Phone(live_stack)
    # The same for Meta's pair limit in the simulator (tested in the simulator's tests).
    local_http.post(
        f"{live_stack.simulator_url}/_sim/config", json={"pair_limit_burst": 100}, timeout=10
    ).raise_for_status()

    # START → welcome with the three offerings
    phone.write("Start")
    welcome = phone.next_from_city()
    assert [o["id"] for o in welcome["options"]] == ["offer:info", "offer:chat", "offer:both"]
    citizen = Citizen.objects.get(wa_id=WA_ID)
    assert citizen.profile_name == NAME

    # "Beides" → double opt-in question; nothing is active before the explicit yes
    phone.tap(welcome, "offer:both")
    consent_question = phone.next_from_city()
    assert "Datenschutz" in consent_question["text"]
    assert active_offerings(citizen) == set()

    # "Ja, ich stimme zu" → both active, chat welcome and the topic list
    phone.tap(consent_question, "consent:yes")
    chat_welcome = phone.next_from_city()
    assert "110" in chat_welcome["text"] and "112" in chat_welcome["text"]
    topic_list = phone.next_from_city()
    assert active_offerings(citizen) == {Offering.CHAT, Offering.INFO}
    granted = ConsentRecord.objects.filter(citizen=citizen, kind=ConsentRecord.Kind.GRANTED)
    assert {r.offering for r in granted} == {"chat", "info"}
    assert all(r.consent_text is not None for r in granted)

    # pick two topics, then "Fertig"
    phone.tap(topic_list, "topic:dringend")
    topic_list = phone.next_from_city()
    phone.tap(topic_list, "topic:verkehr")
    topic_list = phone.next_from_city()
    phone.tap(topic_list, "topic:done")
    done = phone.next_from_city()
    assert "Verkehr & Baustellen" in done["text"]
    assert active_topics(citizen) == {"dringend", "verkehr"}

    # THEMEN → change: add events, remove traffic
    phone.write("THEMEN")
    topic_list = phone.next_from_city()
    phone.tap(topic_list, "topic:veranstaltungen")
    topic_list = phone.next_from_city()
    phone.tap(topic_list, "topic:verkehr")
    topic_list = phone.next_from_city()
    phone.tap(topic_list, "topic:done")
    phone.next_from_city()
    assert active_topics(citizen) == {"dringend", "veranstaltungen"}

    # STOP for the info channel only: the chat stays
    phone.write("Stopp Info-Kanal")
    stopped = phone.next_from_city()
    assert "Chat" in stopped["text"]
    assert active_offerings(citizen) == {Offering.CHAT}

    # START again → info channel back, through the consent question again
    phone.write("start")
    welcome = phone.next_from_city()
    phone.tap(welcome, "offer:info")
    consent_question = phone.next_from_city()
    phone.tap(consent_question, "consent:yes")
    phone.next_from_city()  # topic list
    assert active_offerings(citizen) == {Offering.CHAT, Offering.INFO}

    # LÖSCHEN → confirmation → goodbye → erasure
    phone.write("LÖSCHEN")
    question = phone.next_from_city()
    phone.tap(question, "erase:yes")
    goodbye = phone.next_from_city()
    assert goodbye["type"] == "text"

    def erased():
        citizen.refresh_from_db()
        return citizen.erased_at is not None

    wait(erased, timeout=30, what="erasure")
    assert rows_containing(WA_ID) == []
    assert rows_containing(NAME) == []
    assert rows_containing("Quastenberg") == []
    # Anonymous statistics remain: the consent history and the subscriptions, counted.
    assert ConsentRecord.objects.filter(citizen=citizen, kind="granted").count() == 3
    assert ConsentRecord.objects.filter(citizen=citizen, kind="erased").count() == 1
    assert active_offerings(citizen) == set()
