"""The sending rule, as the composer's preview and the fan-out use it."""

from __future__ import annotations

import itertools

import pytest
from django.core.files.base import ContentFile
from django.test import Client

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
from townhall.core import clock
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
    # Meta fetches the file from the archive's route, which serves it once the post is out
    assert photo.link == f"https://rathaus.example/p/{image.public_id}/datei/"
    Post.objects.filter(pk=image.pk).update(state=Post.State.SENDING, published_at=clock.now())
    served = Client().get(photo.link.removeprefix("https://rathaus.example"))
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == b"\x89PNG"
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


def test_template_with_header_and_read_more_button_gets_title_and_public_id(settings):
    settings.PUBLIC_BASE_URL = "https://rathaus.example"
    template = MessageTemplate.objects.create(
        name="info_kanal_mehr",
        language="de",
        header_format=MessageTemplate.HeaderFormat.TEXT,
        header_text="{{1}}",
        body="Neue Meldung der Stadt: {{1}}. {{2}}",
        buttons=[{"type": "url", "text": "Mehr lesen", "url": "https://rathaus.example/p/{{1}}"}],
        status=MessageTemplate.Status.APPROVED,
    )
    post = do_save_draft(
        author=editor("lang"),
        kind=Post.Kind.NORMAL,
        topics=topics("stadt"),
        versions={"de": ("Haushalt 2028", "Der Rat hat beschlossen. " * 100)},
        template=template,
    )

    message = message_for(post, language="de", window_open=False, url=public_url(post))

    components = message.to_payload()["template"]["components"]
    assert components[0] == {
        "type": "header",
        "parameters": [{"type": "text", "text": "Haushalt 2028"}],
    }
    body = components[1]["parameters"]
    assert body[0]["text"] == "Haushalt 2028"
    assert body[1]["text"].endswith("…")
    assert len(body[1]["text"]) == 700
    assert components[2] == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": post.public_id}],
    }


def test_a_post_its_template_cannot_carry_is_refused_at_approval():
    from townhall.channel.actions import PostActionRefused, do_approve, do_submit_for_approval
    from townhall.channel.tests.factories import approver

    # the template was changed after drafting: it now takes four values, the post has three
    template = MessageTemplate.objects.create(
        name="kaputt",
        language="de",
        body="{{1}}",
        buttons=[{"type": "url", "text": "Mehr", "url": "https://x/{{1}}"}],
        status=MessageTemplate.Status.APPROVED,
    )
    author = editor("autor")
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("stadt"),
        versions={"de": ("Titel", "Text")},
        template=template,
    )
    do_submit_for_approval(post, actor=author)
    template.body = "{{1}} {{2}} {{3}} {{4}}"
    template.save()

    with pytest.raises(PostActionRefused, match="kaputt"):
        do_approve(post, actor=approver())
    post.refresh_from_db()
    assert post.state == Post.State.IN_REVIEW
