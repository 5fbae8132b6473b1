"""Public pages for citizens, without login.

- subscribe page and privacy notice, for everyone;
- preferences, erasure and data export, reached through the signed, expiring links the bot
  sends (``links.py``). A link is the citizen's only key: pages behind it never show the
  full number and are never cached.
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from townhall.citizens import links, queries
from townhall.citizens.actions import (
    ConsentMissing,
    current_consent_text,
    do_redeem_export_link,
    do_request_erasure,
    do_revoke_links,
    do_update_preferences,
    do_withdraw_subscriptions,
)
from townhall.citizens.forms import PreferencesForm
from townhall.citizens.links import city_wa_id as _city_wa_id
from townhall.citizens.links import click_to_chat_url
from townhall.citizens.links import qr_svg as _qr_svg
from townhall.citizens.models import ConsentRecord
from townhall.citysettings import config
from townhall.core import clock
from townhall.core.phone_numbers import format_wa_id, mask_wa_id

WEB_FORM = ConsentRecord.Channel.WEB_FORM

# The text the click-to-chat link puts into the citizen's WhatsApp; the bot answers it with
# the welcome message.
SUBSCRIBE_KEYWORD = "START"

# Supervisory authorities for complaints (DSGVO Art. 77), by settings.CITY["STATE"].
SUPERVISORY_AUTHORITIES = {
    "NW": "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen",
}


# --- helpers ------------------------------------------------------------------------------------


def _invalid_link(request: HttpRequest, token: str, purpose: str) -> HttpResponse:
    """A friendly page for an expired (410) or mistyped (404) link, with the way to a new one.

    A valid link of an erased citizen is gone as well (410).
    """
    is_expired = links.token_state(token, purpose) is not links.TokenState.INVALID
    keyword = _("SETTINGS") if purpose == "preferences" else _("MY DATA")
    context = {
        "is_expired": is_expired,
        "purpose": purpose,
        "keyword": keyword,
        "whatsapp_url": click_to_chat_url(keyword),
    }
    response = render(
        request, "citizens/link_invalid.html", context, status=410 if is_expired else 404
    )
    response["Cache-Control"] = "no-store"
    return response


# --- everyone -----------------------------------------------------------------------------------


@require_GET
def subscribe(request: HttpRequest) -> HttpResponse:
    language = get_language()
    url = click_to_chat_url(SUBSCRIBE_KEYWORD)
    qr_title = _("QR code: opens WhatsApp with the message START to the City of %(city)s") % {
        "city": config.city_name()
    }
    context = {
        "click_to_chat_url": url,
        # segno's own output, with the title escaped by segno.
        "qr_svg": mark_safe(_qr_svg(url, qr_title)),  # noqa: S308
        "city_number": format_wa_id(_city_wa_id()),
        "topics": [
            {"name": topic.name(language), "description": topic.description(language)}
            for topic in queries.active_topics()
        ],
    }
    return render(request, "citizens/subscribe.html", context)


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    consent_text = current_consent_text()
    context = {
        "consent_text": consent_text,
        "consent_text_body": consent_text.text(get_language()),
        "webhook_retention_days": settings.WHATSAPP["WEBHOOK_RETENTION_DAYS"],
        "retention": settings.RETENTION,
        "supervisory_authority": SUPERVISORY_AUTHORITIES.get(config.city_state(), ""),
        "controller_contact": config.controller_contact(),
        "dpo_contact": config.dpo_contact(),
        "subscribe_url": click_to_chat_url(SUBSCRIBE_KEYWORD),
    }
    return render(request, "citizens/privacy.html", context)


# --- behind a signed link -----------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    citizen = links.citizen_from_token(token, "preferences")
    if citizen is None:
        return _invalid_link(request, token, "preferences")
    context: dict[str, object] = {
        "citizen": citizen,
        "masked_number": mask_wa_id(citizen.wa_id),
        "token": token,
        "is_erasing": citizen.erasure_requested_at is not None,
    }
    if citizen.erasure_requested_at is not None:
        # Nothing to change any more; a late POST from an open tab changes nothing either.
        return render(request, "citizens/preferences.html", context)

    language = get_language()
    active = queries.active_offerings(citizen)
    topics = queries.active_topics()
    if request.method == "POST" and request.POST.get("action") == "revoke_links":
        do_revoke_links(citizen, channel=WEB_FORM)
        response = render(request, "citizens/links_revoked.html", {"keyword": _("SETTINGS")})
        response["Cache-Control"] = "no-store"
        return response
    if request.method == "POST" and request.POST.get("action") == "leave":
        ended = do_withdraw_subscriptions(citizen, channel=WEB_FORM)
        if ended:
            messages.success(
                request,
                _("You have left all services. You will receive no more messages from us."),
            )
        else:
            messages.info(request, _("You had no active service."))
        return redirect("citizens:preferences", token=token)
    if request.method == "POST":
        form = PreferencesForm(
            request.POST, active_offerings=active, topics=topics, language=language
        )
        if form.is_valid():
            try:
                update = do_update_preferences(
                    citizen,
                    offerings=form.wanted_offerings(),
                    topic_slugs=form.wanted_topics(),
                    has_consented=form.cleaned_data["consent"],
                    notification_mode=form.wanted_notification_mode(),
                    is_16_or_older=form.cleaned_data["is_16_or_older"],
                    channel=WEB_FORM,
                )
            except ConsentMissing:
                # An offering ended (e.g. in another tab) between the form's check and
                # the action's lock: ask for consent like the form does.
                form.add_consent_error()
            else:
                if update.has_changes:
                    messages.success(request, _("Your settings have been saved."))
                else:
                    messages.info(request, _("Nothing has changed."))
                return redirect("citizens:preferences", token=token)
    else:
        form = PreferencesForm(
            initial={
                "offerings": sorted(active),
                "topics": sorted(queries.chosen_topic_slugs(citizen)),
                "notification_mode": citizen.notification_mode,
            },
            active_offerings=active,
            topics=topics,
            language=language,
        )
    consent_text = current_consent_text()
    context.update(
        {
            "form": form,
            "active_offerings": active,
            "consent_text": consent_text,
            "consent_text_body": consent_text.text(language),
            # Only while an export link sent with this one would still work (24 hours):
            # the preferences link (7 days) must not be a long-lived key to all the data.
            "export_token": links.export_token_for_preferences(citizen, token),
        }
    )
    return render(request, "citizens/preferences.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def erase(request: HttpRequest, token: str) -> HttpResponse:
    """Ask once more, then erase: stops everything now, the data goes a moment later."""
    citizen = links.citizen_from_token(token, "preferences")
    if citizen is None:
        return _invalid_link(request, token, "preferences")
    if request.method == "POST" or citizen.erasure_requested_at is not None:
        if citizen.erasure_requested_at is None:
            do_request_erasure(citizen, channel=WEB_FORM)
        return redirect("citizens:preferences", token=token)
    context = {"citizen": citizen, "masked_number": mask_wa_id(citizen.wa_id), "token": token}
    return render(request, "citizens/erase_confirm.html", context)


@require_GET
def export(request: HttpRequest, token: str) -> HttpResponse:
    """The citizen's data as a JSON download (DSGVO Art. 15 and 20)."""
    citizen = links.citizen_from_token(token, "export")
    link = links.claims(token, "export")
    if citizen is None or link is None:
        return _invalid_link(request, token, "export")
    data = queries.citizen_export(citizen)
    # Each export link works once: used up (atomically) before the data leaves; the file
    # shows the state before this download.
    if not do_redeem_export_link(citizen, export_downloads=link.export_downloads):
        return _invalid_link(request, token, "export")
    response = HttpResponse(
        orjson.dumps(data, option=orjson.OPT_INDENT_2), content_type="application/json"
    )
    filename = f"townhall-meine-daten-{clock.today().isoformat()}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: no copy in the browser's or any proxy's cache.
    response["Cache-Control"] = "no-store"
    return response
