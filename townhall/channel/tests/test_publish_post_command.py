"""The publish_post command without the live stack: arguments and refusals."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from townhall.channel.models import Post
from townhall.channel.tests.factories import approved_template

pytestmark = pytest.mark.django_db


def test_publishes_an_approved_post_and_prints_its_id(daytime):
    approved_template()
    output = io.StringIO()

    call_command(
        "publish_post", "--topic=verkehr", "--title=Sperrung", "--text=Brücke zu.", stdout=output
    )

    post = Post.objects.get()
    assert json.loads(output.getvalue()) == {
        "post": post.pk,
        "public_id": post.public_id,
        "state": "approved",
    }
    assert post.template.name == "info_kanal_meldung"
    assert list(post.topics.values_list("slug", flat=True)) == ["verkehr"]
    assert [(e.action, e.actor, e.comment) for e in post.events.all()] == [
        ("drafted", None, "publish_post command"),
        ("approved", None, "publish_post command"),
    ]


def test_an_urgent_alert_starts_sending_at_once():
    call_command(
        "publish_post",
        "--topic=dringend",
        "--title=Unwetter",
        "--text=Bitte drinnen bleiben.",
        "--urgent",
        "--template=",
        stdout=io.StringIO(),
    )
    post = Post.objects.get()
    assert (post.kind, post.state, post.template) == ("urgent", "sending", None)


def test_unknown_topic_and_missing_german_text_are_refused():
    with pytest.raises(CommandError, match="unknown topic"):
        call_command("publish_post", "--topic=wetter", "--title=A", "--text=B")
    with pytest.raises(CommandError):
        call_command("publish_post", "--title= ", "--text=B")
    assert not Post.objects.exists()
