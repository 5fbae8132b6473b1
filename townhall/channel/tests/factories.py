"""Test data of the info channel: staff with permissions, audiences in bulk, templates."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission, User

from townhall.channel.actions import do_publish_post
from townhall.channel.models import Post
from townhall.citizens.models import Citizen, Offering, Subscription, Topic, TopicSubscription
from townhall.core import clock
from townhall.whatsapp.models import MessageTemplate

_numbers = itertools.count(1)


# What every member of a channel role (Redaktion, Freigabe, Bürgermeister/in) may do.
CHANNEL_READER = ("channel.view_post", "channel.view_messageprice")


def staff(username: str, *permissions: str) -> User:
    """A staff member who may read the channel and holds ``permissions``."""
    user = User.objects.create_user(username, password="x", is_staff=True)
    for permission in (*CHANNEL_READER, *permissions):
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # fresh permission cache


def editor(username: str = "editor") -> User:
    return staff(username, "channel.add_post", "channel.change_post")


def approver(username: str = "approver") -> User:
    return staff(username, "channel.add_post", "channel.approve_post")


def topics(*slugs: str) -> list[Topic]:
    found = {topic.slug: topic for topic in Topic.objects.filter(slug__in=slugs)}
    return [found[slug] for slug in slugs]


def citizens(
    count: int,
    *,
    topic_slugs: Iterable[str] = (),
    language: str = "de",
    window_open: bool = False,
    consent: bool = True,
    erased: bool = False,
    now: datetime | None = None,
) -> list[Citizen]:
    """``count`` citizens in bulk with an info subscription (ended unless ``consent``) and
    the given topics; ``window_open``: they wrote an hour ago."""
    now = now or clock.now()
    batch = next(_numbers)
    wa_ids = [f"4917{batch:04d}{index:05d}" for index in range(count)]
    Citizen.objects.bulk_create(
        [
            Citizen(
                wa_id=wa_id,
                language=language,
                last_inbound_at=now - timedelta(hours=1)
                if window_open
                else now - timedelta(days=3),
                erased_at=now if erased else None,
            )
            for wa_id in wa_ids
        ]
    )
    created = list(Citizen.objects.filter(wa_id__in=wa_ids).order_by("pk"))
    state = Subscription.State.ACTIVE if consent else Subscription.State.ENDED
    Subscription.objects.bulk_create(
        [Subscription(citizen=c, offering=Offering.INFO, state=state) for c in created]
    )
    chosen = Topic.objects.filter(slug__in=list(topic_slugs))
    TopicSubscription.objects.bulk_create(
        [TopicSubscription(citizen=c, topic=t) for c in created for t in chosen]
    )
    return created


def approved_template(
    name: str = "info_kanal_meldung", language: str = "de", body: str = "{{1}}: {{2}}"
) -> MessageTemplate:
    return MessageTemplate.objects.create(
        name=name, language=language, body=body, status=MessageTemplate.Status.APPROVED
    )


def sending_post(
    *,
    topic_slugs: Iterable[str] = ("verkehr",),
    template: MessageTemplate | None = None,
    english: bool = False,
    **options: Any,
) -> Post:
    """An urgent post that is sending (its fan-out not yet run: tests run it)."""
    versions = {
        "de": (
            "Sperrung Hauptstraße",
            "Die Hauptstraße ist *gesperrt*.\nUmleitung über die Ringstraße.",
        )
    }
    if english:
        versions["en"] = ("Main street closed", "Main street is *closed*.")
    return do_publish_post(
        kind=options.pop("kind", Post.Kind.URGENT),
        topics=topics(*topic_slugs),
        versions=versions,
        template=template,
        **options,
    )
