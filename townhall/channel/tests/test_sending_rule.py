"""The sending rule, as the composer's preview and the fan-out use it."""

from __future__ import annotations

import itertools

import pytest
from django.core.files.base import ContentFile

from townhall.channel.actions import do_fan_out_post, do_save_draft
from townhall.channel.models import Post
from townhall.channel.sending_rule import message_for, public_url
from townhall.channel.tests.factories import (
    approved_template,
    citizens,
    editor,
    sending_post,
    topics,
)
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_dispatch_batch
from townhall.whatsapp.models import Message, MessageTemplate

pytestmark = pytest.mark.django_db


_authors = itertools.count(1)


def post_with(**options) -> Post:
    return do_save_draft(
        author=editor(f"editor{next(_authors)}"),
        kind=Post.Kind.NORMAL,
        topics=topics("veranstaltungen"),
        versions={
            "de": ("Stadtfest", "Am Samstag\n\nauf dem   Marktplatz."),
            "en": ("City fair", "On Saturday."),
        },
        **options,
    )


def test_open_window_free_text_closed_window_template_language_falls_back(settings, tmp_path):
    settings.PUBLIC_BASE_URL = "https://rathaus.example"
    template = approved_template(body="Neu: {{1}}. {{2}} Mehr: {{3}}")
    post = post_with(template=template)
    url = public_url(post)

    assert message_for(post, language="en", window_open=True, url=url) == outbound.Text(
        f"*City fair*\n\nOn Saturday.\n\n{url}", preview_url=True
    )
    assert message_for(post, language="fr", window_open=True, url=url).body.startswith(
        "*Stadtfest*"
    )
    # no approved English template: the German one with the German version
    assert message_for(post, language="en", window_open=False, url=url) == outbound.Template(
        "info_kanal_meldung",
        "de",
        body_parameters=("Stadtfest", "Am Samstag auf dem Marktplatz.", url),
    )


def test_closed_window_without_approved_template_cannot_be_reached():
    pending = MessageTemplate.objects.create(name="neu", language="de", body="{{1}}")
    post = post_with(template=pending)
    with pytest.raises(ValueError, match="no approved template"):
        message_for(post, language="de", window_open=False, url="https://x/p/1/")


def test_an_attachment_goes_as_image_or_document_with_the_post_as_caption(
    settings, tmp_path, fake_cloud_api
):
    settings.MEDIA_ROOT = tmp_path
    settings.MEDIA_URL = "/media/"
    settings.PUBLIC_BASE_URL = "https://rathaus.example"
    image = post_with(attachment=ContentFile(b"\x89PNG", name="plakat.png"))
    flyer = post_with(attachment=ContentFile(b"%PDF", name="flyer.pdf"))
    url = public_url(image)

    photo = message_for(image, language="de", window_open=True, url=url)
    document = message_for(flyer, language="de", window_open=True, url=url)

    assert photo.type == "image"
    assert photo.link == f"https://rathaus.example/media/{image.attachment.name}"
    assert photo.caption == f"*Stadtfest*\n\nAm Samstag\n\nauf dem   Marktplatz.\n\n{url}"
    assert (document.type, document.filename) == ("document", flyer.attachment.name.split("/")[-1])


def test_an_urgent_alert_overtakes_a_running_broadcast(fake_cloud_api, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_RATE_PER_SECOND": 1000}
    template = approved_template()
    citizens(50, topic_slugs=["veranstaltungen"])
    alert_audience = citizens(5, topic_slugs=["dringend"])
    broadcast = sending_post(
        kind=Post.Kind.NORMAL, topic_slugs=("veranstaltungen",), template=template
    )
    Post.objects.filter(pk=broadcast.pk).update(state=Post.State.SENDING)
    do_fan_out_post(broadcast.pk)
    do_dispatch_batch(limit=10)

    alert = sending_post(topic_slugs=("dringend",), template=template)
    do_fan_out_post(alert.pk)
    do_dispatch_batch(limit=5)

    assert [body["to"] for body in fake_cloud_api.sent_bodies[10:]] == [
        c.wa_id for c in alert_audience
    ]
    assert Message.objects.filter(priority=Message.Priority.URGENT).count() == 5
