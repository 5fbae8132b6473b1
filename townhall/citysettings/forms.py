"""The settings pages' forms: parse and check what staff typed; the actions save it."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from townhall.citysettings.models import STATES, CitySettings

WEEKDAYS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)
SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
HOLIDAY_CHOICES = [("", _("as configured on the server")), ("yes", _("yes")), ("no", _("no"))]


class CityProfileForm(forms.Form):
    city_name = forms.CharField(
        label=_("City name"),
        max_length=100,
        required=False,
        help_text=_("Shown as “City of …” on every page and in the bot's welcome."),
    )
    brand_color = forms.CharField(
        label=_("Colour"),
        max_length=7,
        required=False,
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text=_("The colour of the top bar; white text on it must stay readable."),
    )
    use_default_color = forms.BooleanField(label=_("Use the built-in colour"), required=False)
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif"}),
        help_text=_("PNG, JPEG or GIF, at most 1 MB; shown small and square in the top bar."),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)
    state = forms.ChoiceField(
        label=_("Federal state"),
        choices=[("", _("as configured on the server")), *STATES],
        required=False,
        help_text=_("Decides the public holidays and the supervisory authority."),
    )
    observes_holidays = forms.ChoiceField(
        label=_("Closed on public holidays"), choices=HOLIDAY_CHOICES, required=False
    )


class PrivacyContactsForm(forms.Form):
    controller_contact = forms.CharField(
        label=_("Controller"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Name, address, e-mail and phone of the city as controller (Art. 13 GDPR)."),
    )
    dpo_contact = forms.CharField(
        label=_("Data protection officer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("How citizens reach the city's data protection officer."),
    )


def parse_spans(text: str) -> list[tuple[time, time]]:
    """ "08:00-12:00, 13:00-16:00" → spans; empty = closed that day."""
    spans = []
    for part in [part for part in text.split(",") if part.strip()]:
        match = SPAN.match(part)
        if match is None:
            raise forms.ValidationError(_("Write the times like 08:00-12:00, 13:00-16:00."))
        hours_open, minutes_open, hours_close, minutes_close = map(int, match.groups())
        try:
            spans.append((time(hours_open, minutes_open), time(hours_close, minutes_close)))
        except ValueError:
            raise forms.ValidationError(
                _("Write the times like 08:00-12:00, 13:00-16:00.")
            ) from None
    return spans


def format_spans(spans: tuple[tuple[time, time], ...] | list[tuple[time, time]]) -> str:
    return ", ".join(f"{opens:%H:%M}-{closes:%H:%M}" for opens, closes in spans)


class OfficeHoursForm(forms.Form):
    """One text field per weekday: "08:00-12:00, 13:00-16:00"; empty = closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday, name in enumerate(WEEKDAYS):
            self.fields[f"day_{weekday}"] = forms.CharField(
                label=name,
                required=False,
                max_length=100,
                widget=forms.TextInput(attrs={"placeholder": _("closed")}),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        hours = {}
        for weekday in range(7):
            try:
                hours[weekday] = parse_spans(cleaned.get(f"day_{weekday}", ""))
            except forms.ValidationError as error:
                self.add_error(f"day_{weekday}", error)
        cleaned["hours"] = hours
        return cleaned


class ClosedDayForm(forms.Form):
    date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class ChannelSettingsForm(forms.Form):
    quiet_hours_enabled = forms.BooleanField(label=_("Quiet hours"), required=False)
    quiet_hours_start = forms.TimeField(
        label=_("from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_hours_end = forms.TimeField(
        label=_("until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    messaging_limit = forms.ChoiceField(
        label=_("Messaging limit (per 24 hours)"),
        choices=[("", _("as configured on the server")), *CitySettings.MessagingLimit.choices],
        required=False,
        help_text=_(
            "Meta's tier of the business portfolio: unique citizens reached with templates in 24 hours."
        ),
    )
    send_rate_per_second = forms.IntegerField(
        label=_("Messages per second"),
        required=False,
        min_value=1,
        max_value=1000,
        help_text=_("Meta's throughput of the number: 80 by default, up to 1,000."),
    )


class WhatsAppSettingsForm(forms.Form):
    phone_number_id = forms.CharField(label=_("Phone number ID"), max_length=32, required=False)
    business_account_id = forms.CharField(
        label=_("WhatsApp business account ID"), max_length=32, required=False
    )
    display_phone_number = forms.CharField(
        label=_("Phone number"),
        max_length=20,
        required=False,
        help_text=_("With country code, digits only, e.g. 4929321000000."),
    )
    # Secrets are write-only: the inputs are always empty; empty keeps what is stored.
    access_token = forms.CharField(
        label=_("Access token"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    app_secret = forms.CharField(
        label=_("App secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    verify_token = forms.CharField(
        label=_("Webhook verify token"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class CitizenTextForm(forms.Form):
    text = forms.CharField(
        label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
