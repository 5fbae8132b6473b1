"""The settings pages under /konfiguration/ (/einstellungen/<token>/ is the citizens' preferences page): parse, check access, call one action, render."""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from townhall.citysettings import actions, config, forms, texts
from townhall.citysettings.access import access_office_hours, access_settings, can_change_settings
from townhall.citysettings.actions import InvalidSettings
from townhall.core import clock
from townhall.inbox.actions import (
    InvalidInboxInput,
    do_add_closed_day,
    do_remove_closed_day,
    do_set_office_hours,
)
from townhall.inbox.models import ClosedDay
from townhall.inbox.office_hours import Schedule
from townhall.web.http import HtmxHttpRequest, staff_login_required

# Holidays listed ahead on the office hours page.
HOLIDAYS_AHEAD_DAYS = 365


def _page(request: HtmxHttpRequest, template: str, section: str, **context: Any) -> HttpResponse:
    return render(
        request,
        f"citysettings/{template}",
        {"section": section, "can_change": can_change_settings(request.user), **context},
    )


@staff_login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    return redirect("citysettings:city")


@staff_login_required
@require_http_methods(["GET", "POST"])
def city(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    snapshot = config.current()
    if request.method == "POST":
        form = forms.CityProfileForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_update_city_profile(
                    city_name=data["city_name"],
                    brand_color="" if data["use_default_color"] else data["brand_color"],
                    state=data["state"],
                    observes_holidays={"yes": True, "no": False}.get(data["observes_holidays"]),
                    logo=data["logo"] or None,
                    remove_logo=data["remove_logo"],
                    acting_user=request.user,
                )
            except InvalidSettings as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("The city's settings were saved."))
                return redirect("citysettings:city")
    else:
        form = forms.CityProfileForm(
            initial={
                "city_name": snapshot.city_name,
                "brand_color": snapshot.brand_color or "#0b5cad",
                "use_default_color": not snapshot.brand_color,
                "state": snapshot.state,
                "observes_holidays": {True: "yes", False: "no"}.get(snapshot.observes_holidays, ""),  # type: ignore[arg-type]
            }
        )
    return _page(
        request,
        "city.html",
        "city",
        form=form,
        effective_name=config.city_name(),
        has_logo=bool(snapshot.logo_name),
    )


@staff_login_required
@require_http_methods(["GET", "POST"])
def privacy(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    if request.method == "POST":
        form = forms.PrivacyContactsForm(request.POST)
        if form.is_valid():
            actions.do_update_privacy_contacts(
                controller_contact=form.cleaned_data["controller_contact"],
                dpo_contact=form.cleaned_data["dpo_contact"],
                acting_user=request.user,
            )
            messages.success(request, _("The contacts on the privacy notice were saved."))
            return redirect("citysettings:privacy")
    else:
        form = forms.PrivacyContactsForm(
            initial={
                "controller_contact": config.controller_contact(),
                "dpo_contact": config.dpo_contact(),
            }
        )
    return _page(request, "privacy.html", "privacy", form=form)


@staff_login_required
@require_http_methods(["GET", "POST"])
def office_hours(request: HtmxHttpRequest) -> HttpResponse:
    access_office_hours(request.user)
    schedule = Schedule.load()
    if request.method == "POST":
        access_settings(request.user)
        form = forms.OfficeHoursForm(request.POST)
        if form.is_valid():
            try:
                do_set_office_hours(form.cleaned_data["hours"], acting_user=request.user)
            except InvalidInboxInput as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("The office hours were saved."))
                return redirect("citysettings:office_hours")
    else:
        form = forms.OfficeHoursForm(
            initial={
                f"day_{weekday}": forms.format_spans(schedule.hours.get(weekday, ()))
                for weekday in range(7)
            }
        )
    today = clock.today()
    week = [
        {"name": name, "spans": forms.format_spans(schedule.hours.get(weekday, ()))}
        for weekday, name in enumerate(forms.WEEKDAYS)
    ]
    return _page(
        request,
        "office_hours.html",
        "office_hours",
        form=form,
        week=week,
        closed_day_form=forms.ClosedDayForm(),
        closed_days=ClosedDay.objects.filter(date__gte=today),
        holidays=schedule.holidays_between(today, today + timedelta(days=HOLIDAYS_AHEAD_DAYS))
        if schedule.observes_holidays
        else [],
        state=schedule.state,
    )


@staff_login_required
@require_POST
def closed_day_add(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    form = forms.ClosedDayForm(request.POST)
    if form.is_valid():
        do_add_closed_day(
            form.cleaned_data["date"], form.cleaned_data["reason"], acting_user=request.user
        )
        messages.success(request, _("The closed day was added."))
    else:
        messages.error(request, _("Enter a valid date."))
    return redirect("citysettings:office_hours")


@staff_login_required
@require_POST
def closed_day_remove(request: HtmxHttpRequest, closed_day_id: int) -> HttpResponse:
    access_settings(request.user)
    do_remove_closed_day(closed_day_id, acting_user=request.user)
    messages.success(request, _("The closed day was removed."))
    return redirect("citysettings:office_hours")


@staff_login_required
@require_http_methods(["GET", "POST"])
def channel(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    snapshot = config.current()
    if request.method == "POST":
        form = forms.ChannelSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_update_channel_settings(
                    quiet_hours=actions.quiet_hours_value(
                        data["quiet_hours_start"],
                        data["quiet_hours_end"],
                        enabled=data["quiet_hours_enabled"],
                    ),
                    messaging_limit=data["messaging_limit"],
                    send_rate_per_second=data["send_rate_per_second"],
                    acting_user=request.user,
                )
            except InvalidSettings as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("The info channel's settings were saved."))
                return redirect("citysettings:channel")
    else:
        spec = config.quiet_hours_spec()
        start, _separator, end = spec.partition("-")
        form = forms.ChannelSettingsForm(
            initial={
                "quiet_hours_enabled": bool(spec),
                "quiet_hours_start": start or "21:00",
                "quiet_hours_end": end or "07:00",
                "messaging_limit": snapshot.messaging_limit,
                "send_rate_per_second": snapshot.whatsapp.get("SEND_RATE_PER_SECOND"),
            }
        )
    return _page(
        request,
        "channel.html",
        "channel",
        form=form,
        effective_limit=config.messaging_limit_spec(),
        effective_rate=config.whatsapp_setting("SEND_RATE_PER_SECOND"),
    )


@staff_login_required
@require_http_methods(["GET", "POST"])
def whatsapp(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    if request.method == "POST":
        form = forms.WhatsAppSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_update_whatsapp_settings(
                    phone_number_id=data["phone_number_id"],
                    business_account_id=data["business_account_id"],
                    display_phone_number=data["display_phone_number"],
                    secrets={
                        "ACCESS_TOKEN": data["access_token"],
                        "APP_SECRET": data["app_secret"],
                        "VERIFY_TOKEN": data["verify_token"],
                    },
                    clear_secrets=frozenset(request.POST.getlist("clear"))
                    & set(actions.SECRET_KEYS),
                    acting_user=request.user,
                )
            except InvalidSettings as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("The WhatsApp settings were saved."))
                return redirect("citysettings:whatsapp")
    else:
        snapshot = config.current()
        form = forms.WhatsAppSettingsForm(
            initial={
                "phone_number_id": snapshot.whatsapp.get("PHONE_NUMBER_ID", ""),
                "business_account_id": snapshot.whatsapp.get("BUSINESS_ACCOUNT_ID", ""),
                "display_phone_number": snapshot.whatsapp.get("DISPLAY_PHONE_NUMBER", ""),
            }
        )
    secrets = [
        {"key": key, "field": form[key.lower()], "set_at": config.secret_set_at(key)}
        for key in actions.SECRET_KEYS
    ]
    return _page(
        request,
        "whatsapp.html",
        "whatsapp",
        form=form,
        secrets=secrets,
        defaults={
            key: config.whatsapp_setting(key)
            for key in ("PHONE_NUMBER_ID", "BUSINESS_ACCOUNT_ID", "DISPLAY_PHONE_NUMBER")
        },
    )


@staff_login_required
@require_GET
def citizen_texts(request: HtmxHttpRequest) -> HttpResponse:
    access_settings(request.user)
    rows = []
    for spec in texts.CITIZEN_TEXTS:
        versions = []
        for language in actions.LANGUAGES:
            override = config.citizen_text_override(spec.key, language)
            with translation.override(language):
                default = texts.default_text(spec.key)
            versions.append(
                {
                    "language": language,
                    "is_changed": bool(override),
                    "default": default,
                    "form": forms.CitizenTextForm(
                        initial={"text": override or default}, prefix=f"{spec.key}-{language}"
                    ),
                }
            )
        rows.append({"spec": spec, "placeholders": sorted(spec.placeholders), "versions": versions})
    return _page(request, "texts.html", "texts", rows=rows)


@staff_login_required
@require_POST
def citizen_text_save(request: HtmxHttpRequest, key: str, language: str) -> HttpResponse:
    access_settings(request.user)
    if key not in texts.SPECS or language not in actions.LANGUAGES:
        raise Http404
    text = "" if "reset" in request.POST else request.POST.get(f"{key}-{language}-text", "")
    try:
        actions.do_set_citizen_text(key, language, text, acting_user=request.user)
    except InvalidSettings as error:
        messages.error(request, str(error))
    else:
        if "reset" in request.POST:
            messages.success(request, _("The text is back to the built-in one."))
        else:
            messages.success(request, _("The text was saved."))
    return redirect(f"{reverse('citysettings:texts')}#text-{key}-{language}")


# --- public: the page frame's logo and colour ------------------------------------------------------


@require_GET
@cache_control(public=True, max_age=3600)
def logo(request: HtmxHttpRequest) -> HttpResponse | FileResponse:
    name = config.logo_name()
    if not name or not default_storage.exists(name):
        raise Http404
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@cache_control(public=True, max_age=3600)
def theme(request: HtmxHttpRequest) -> HttpResponse:
    color = config.brand_color()
    if not color:
        raise Http404
    strong = _darker(color)
    css = f":root {{ --color-primary: {color}; --color-primary-strong: {strong}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")


def _darker(color: str, factor: float = 0.8) -> str:
    channels = [int(color[index : index + 2], 16) for index in (1, 3, 5)]
    return "#" + "".join(f"{round(value * factor):02x}" for value in channels)
