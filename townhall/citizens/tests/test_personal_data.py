"""Every column that holds personal data is in the registry (citizens/personal_data.py), the
export shows every exported one, and erasure does to each what the registry says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from django.apps import apps
from django.db import models
from django.db.models import Model

from townhall.channel.actions import PollDraft, do_fan_out_post, do_publish_post
from townhall.channel.models import Post
from townhall.citizens.actions import do_erase_citizen
from townhall.citizens.models import Citizen, ConsentRecord, Topic
from townhall.citizens.personal_data import (
    REGISTRY,
    WA_ID_MODELS,
    OnErasure,
    Personal,
    Technical,
)
from townhall.citizens.queries import citizen_export
from townhall.citizens.tests.test_bot import button, row, text
from townhall.core import clock
from townhall.inbox.actions import do_add_note, do_reply, do_set_labels
from townhall.inbox.models import Conversation, Label
from townhall.inbox.tests.factories import make_staff, open_around_the_clock
from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.types import webhook_envelope

WA_ID = "4915112355501"
NAME = "Hildegard Pfeffermühle"


def models_about_a_citizen() -> set[str]:
    """Citizen, the models with a number column, and every model that points (through
    foreign keys, transitively) at one of them."""
    found = {"citizens.Citizen", *WA_ID_MODELS}
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            label = model._meta.label
            if label in found:
                continue
            targets = {
                field.related_model._meta.label
                for field in model._meta.get_fields()
                if field.concrete and field.is_relation and field.related_model is not None
            }
            if targets & found:
                found.add(label)
                changed = True
    return found


def columns(label: str) -> set[str]:
    model = apps.get_model(label)
    return {
        field.name
        for field in model._meta.get_fields()
        if field.concrete or (field.many_to_many and not field.auto_created)
    }


def test_registry_covers_every_column_of_every_model_about_a_citizen() -> None:
    about = models_about_a_citizen()

    assert set(REGISTRY) == about
    missing = {label: columns(label) - set(REGISTRY[label]) for label in about}
    unknown = {label: set(REGISTRY[label]) - columns(label) for label in about}
    assert {label: names for label, names in missing.items() if names} == {}
    assert {label: names for label, names in unknown.items() if names} == {}
    for fields in REGISTRY.values():
        for entry in fields.values():
            assert isinstance(entry, Personal | Technical)
            if isinstance(entry, Personal) and (
                entry.export is None or entry.on_erasure == OnErasure.KEPT_ANONYMOUS
            ):
                assert entry.reason, "say why it is not exported or why it stays"


# --- a citizen with data in every place ----------------------------------------------------------


@pytest.fixture
def rich_citizen(deliver_inbound, django_capture_on_commit_callbacks) -> Citizen:
    open_around_the_clock()
    staff = make_staff()

    def write(message: dict) -> list[dict]:
        return deliver_inbound(message, wa_id=WA_ID, name=NAME)

    write(text("Start"))
    write(button("offer:both"))
    write(button("consent:yes"))
    write(row("topic:verkehr"))
    write(row("topic:done"))
    # an answer to a poll of the info channel
    poll_post = do_publish_post(
        kind=Post.Kind.URGENT,
        topics=Topic.objects.filter(slug="verkehr"),
        versions={"de": ("Stadtpark", "Wir gestalten den Stadtpark neu.")},
        poll=PollDraft("Was wünschen Sie sich?", ["Bäume", "Bänke"]),
    )
    do_fan_out_post(poll_post.pk)
    write(row(f"poll:{poll_post.poll.pk}:2"))
    write(text("Die Laterne vor Hausnummer 12 ist kaputt."))
    write(
        {
            "type": "location",
            "location": {"latitude": 51.4, "longitude": 8.06, "name": "Marktplatz 1"},
        }
    )
    conversation = Conversation.objects.get(citizen__wa_id=WA_ID)
    with django_capture_on_commit_callbacks(execute=True):
        reply = do_reply(conversation, "Danke, wir schicken jemanden.", acting_user=staff)
    do_add_note(conversation, "Frau P. hat schon zweimal angerufen.", acting_user=staff)
    do_set_labels(conversation, [Label.objects.create(name="Licht")], acting_user=staff)
    reply.refresh_from_db()
    status = {
        "id": reply.provider_id,
        "status": "delivered",
        "timestamp": str(int(clock.now().timestamp())),
        "recipient_id": WA_ID,
    }
    with django_capture_on_commit_callbacks(execute=True):
        do_record_webhook_event(orjson.dumps(webhook_envelope({"statuses": [status]})))
    write({"type": "reaction", "reaction": {"message_id": reply.provider_id, "emoji": "👍"}})
    write(text("LÖSCHEN"))  # a question waiting for its answer: a bot session
    return Citizen.objects.get(wa_id=WA_ID)


def rows_of(label: str, citizen: Citizen) -> list[Model]:
    model = apps.get_model(label)
    manager = model._default_manager
    if label == "citizens.Citizen":
        return list(manager.filter(pk=citizen.pk))
    if label == "whatsapp.Message":
        return list(manager.filter(wa_id=citizen.wa_id))
    if label == "whatsapp.MessageReaction":
        return list(manager.filter(wa_id=citizen.wa_id))
    if label == "whatsapp.MessageStatusEvent":
        return list(manager.filter(recipient_wa_id=citizen.wa_id))
    if label == "whatsapp.WebhookEvent":
        return list(manager.filter(body__contains=citizen.wa_id))
    if label == "inbox.Note":
        return list(manager.filter(conversation__citizen=citizen))
    if label == "inbox.ConversationEvent":
        return list(manager.filter(conversation__citizen=citizen))
    return list(manager.filter(citizen=citizen))


def shown(value: Any) -> Any:
    """A column's value as the export writes it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Model):
        return str(value)  # topics by slug, consent texts by version
    return value


def column_value(row: Model, name: str) -> Any:
    field = row._meta.get_field(name)
    if field.many_to_many:
        return sorted(str(item) for item in getattr(row, name).all())
    return shown(getattr(row, name))


def exported_values(export: Any, path: str) -> list[Any]:
    values = [export]
    for key in path.split("."):
        next_values = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            next_values.extend(item[key] for item in items if isinstance(item, dict))
        values = next_values
    return values


@pytest.mark.django_db
def test_export_shows_every_personal_column(rich_citizen: Citizen) -> None:
    export = citizen_export(rich_citizen)

    checked = 0
    for label, fields in REGISTRY.items():
        for name, entry in fields.items():
            if not isinstance(entry, Personal) or entry.export is None:
                continue
            rows = rows_of(label, rich_citizen)
            assert rows, f"the test citizen has no {label} to check {name} with"
            values = exported_values(export, entry.export)
            for stored in rows:
                value = column_value(stored, name)
                assert value in values, f"{label}.{name} = {value!r} not in export {entry.export}"
                checked += 1
    assert checked > 100


@pytest.mark.django_db
def test_erasure_does_to_every_personal_column_what_the_registry_says(
    rich_citizen: Citizen,
) -> None:
    before = {label: rows_of(label, rich_citizen) for label in REGISTRY}
    assert all(before[label] for label in ("whatsapp.MessageStatusEvent", "inbox.Note"))

    do_erase_citizen(rich_citizen, channel=ConsentRecord.Channel.WHATSAPP_BUTTON)

    for label, fields in REGISTRY.items():
        model = apps.get_model(label)
        ids = [row.pk for row in before[label]]
        after = {row.pk: row for row in model._default_manager.filter(pk__in=ids)}
        for name, entry in fields.items():
            if not isinstance(entry, Personal):
                continue
            if entry.on_erasure == OnErasure.DELETED:
                assert after == {} or model is Citizen, f"{label} rows remain"
                continue
            for pk in ids:
                assert pk in after, f"{label} {pk} was deleted, the registry says kept"
                value = column_value(after[pk], name)
                if entry.on_erasure == OnErasure.EMPTIED:
                    assert value in ("", None, {}, []), f"{label}.{name} = {value!r}"
                elif entry.on_erasure == OnErasure.PSEUDONYMISED:
                    assert str(value).startswith("erased-"), f"{label}.{name} = {value!r}"
    # and the number and the name are nowhere any more
    for label in REGISTRY:
        model = apps.get_model(label)
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                for needle in (WA_ID, NAME):
                    lookup = {f"{field.name}__icontains": needle}
                    assert not model._default_manager.filter(**lookup).exists(), label
