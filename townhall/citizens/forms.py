"""Forms of the citizens' public pages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

from django import forms
from django.conf import settings
from django.forms.boundfield import BoundWidget
from django.utils.translation import gettext_lazy as _

from townhall.citizens.models import NotificationMode, Offering, Topic

OFFERING_DESCRIPTIONS = {
    Offering.INFO: _("News, events and urgent alerts from the city."),
    Offering.CHAT: _(
        "Write to the mayor's office; we answer during office hours. Not for emergencies."
    ),
}

NOTIFICATION_MODE_DESCRIPTIONS = {
    NotificationMode.ALL: _("Each post of your topics as soon as it is published."),
    NotificationMode.URGENT_ONLY: _("Only urgent alerts, such as warnings and closures."),
    NotificationMode.DIGEST: _(
        "One message a day at %(time)s listing the day's posts of your topics; urgent alerts "
        "still come at once."
    ),
}


class PreferencesForm(forms.Form):
    """What the citizen wants: offerings, topics, and consent when adding an offering.

    Adding an offering is a new consent (DSGVO Art. 7): it needs the consent box ticked.
    Keeping or removing offerings and changing topics does not.
    """

    offerings = forms.MultipleChoiceField(
        label=_("Services"),
        # Info first: it is what most citizens come for.
        choices=[(Offering.INFO, Offering.INFO.label), (Offering.CHAT, Offering.CHAT.label)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    topics = forms.MultipleChoiceField(
        label=_("Topics of the info channel"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    notification_mode = forms.ChoiceField(
        label=_("How we notify you"),
        choices=NotificationMode.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    consent = forms.BooleanField(
        label=_("I agree to this consent text."),
        required=False,
    )
    # DSGVO Art. 8: in Germany a child's own consent counts from 16.
    is_16_or_older = forms.BooleanField(
        label=_("I am 16 or older."),
        help_text=_(
            "Younger than 16? Then a parent or guardian has to agree: ask them to contact "
            "the city hall with you; with their written consent the city registers you."
        ),
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        active_offerings: Iterable[str],
        topics: Iterable[Topic],
        language: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.active_offerings = frozenset(active_offerings)
        self.topic_objects = list(topics)
        self.language = language
        topics_field = cast(forms.MultipleChoiceField, self.fields["topics"])
        topics_field.choices = [(topic.slug, topic.name(language)) for topic in self.topic_objects]

    @property
    def can_add_offering(self) -> bool:
        """Whether some offering is not active yet (only then is consent asked for)."""
        return len(self.active_offerings) < len(Offering.values)

    def offering_choices(self) -> Iterator[tuple[BoundWidget, str]]:
        """Each offering's checkbox with its one-line description, for the template."""
        for checkbox in self["offerings"]:
            yield checkbox, str(OFFERING_DESCRIPTIONS[checkbox.data["value"]])

    def topic_choices(self) -> Iterator[tuple[BoundWidget, str]]:
        descriptions = {
            topic.slug: topic.description(self.language) for topic in self.topic_objects
        }
        for checkbox in self["topics"]:
            yield checkbox, descriptions[checkbox.data["value"]]

    def notification_mode_choices(self) -> Iterator[tuple[BoundWidget, str]]:
        digest_time = settings.CHANNEL["DIGEST_TIME"]
        for radio in self["notification_mode"]:
            description = NOTIFICATION_MODE_DESCRIPTIONS[radio.data["value"]]
            yield radio, str(description) % {"time": digest_time}

    def wanted_notification_mode(self) -> str | None:
        """The chosen mode; None when the form did not carry one (nothing to change)."""
        return self.cleaned_data.get("notification_mode") or None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned_data = self.cleaned_data
        if Offering.INFO in self.wanted_offerings() and not cleaned_data.get("topics"):
            # As in WhatsApp: the info channel without a topic would bring nothing.
            self.add_error("topics", _("Please choose at least one topic."))
        if self.added_offerings() and not cleaned_data.get("consent"):
            self.add_consent_error()
        if self.added_offerings() and not cleaned_data.get("is_16_or_older"):
            self.add_error(
                "is_16_or_older",
                _(
                    "Under 16 we may only register you with a parent's or guardian's consent. "
                    "If you are 16 or older, please tick the box."
                ),
            )
        return cleaned_data

    def add_consent_error(self) -> None:
        self.add_error(
            "consent", _("To add a service, please tick that you agree to the consent text.")
        )

    def wanted_offerings(self) -> set[str]:
        return set(self.cleaned_data.get("offerings", []))

    def added_offerings(self) -> list[str]:
        added = self.wanted_offerings() - self.active_offerings
        return [offering for offering in Offering.values if offering in added]

    def removed_offerings(self) -> list[str]:
        removed = self.active_offerings - self.wanted_offerings()
        return [offering for offering in Offering.values if offering in removed]

    def wanted_topics(self) -> list[str]:
        return list(self.cleaned_data.get("topics", []))
