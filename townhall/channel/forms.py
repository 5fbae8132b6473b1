"""Parsing what staff enter on the info channel's pages. Templates render the fields by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from townhall.channel.actions import PollDraft, PollRefused, check_poll
from townhall.channel.models import POLL_QUESTION_MAX_CHARS, MessagePrice, Post
from townhall.citizens.models import Topic
from townhall.core import clock
from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.outbound import TEXT_MAX_CHARS

# The languages a post can have; German is required (the city's language), English optional.
POST_LANGUAGES = (("de", _("German")), ("en", _("English")))
TITLE_MAX_CHARS = 120
COMMENT_MAX_CHARS = 2000
# Meta's media limits for what the composer accepts.
# https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
ATTACHMENT_TYPES = {
    "image/jpeg": ("image", 5 * 1024 * 1024),
    "image/png": ("image", 5 * 1024 * 1024),
    "application/pdf": ("document", 100 * 1024 * 1024),
}
ATTACHMENT_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
}
SEND_NOW = "now"
SEND_AT = "at"
# How long a post is worth delivering (Meta's time-to-live of template messages).
VALIDITY_CHOICES = (
    ("", _("As long as WhatsApp tries (Meta's default)")),
    ("1800", _("30 minutes")),
    ("3600", _("1 hour")),
    ("10800", _("3 hours")),
    ("21600", _("6 hours")),
    ("43200", _("12 hours")),
)


class TopicChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.name(get_language() or "de")


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.language}, {obj.get_category_display()})"


class PostForm(forms.Form):
    """The composer: content per language, audience, template, attachment, schedule."""

    title_de = forms.CharField(label=_("Title (German)"), max_length=TITLE_MAX_CHARS)
    text_de = forms.CharField(
        label=_("Text (German)"), max_length=TEXT_MAX_CHARS, widget=forms.Textarea
    )
    title_en = forms.CharField(
        label=_("Title (English)"), max_length=TITLE_MAX_CHARS, required=False
    )
    text_en = forms.CharField(
        label=_("Text (English)"),
        max_length=TEXT_MAX_CHARS,
        required=False,
        widget=forms.Textarea,
    )
    topics = TopicChoiceField(
        label=_("Topics"),
        queryset=Topic.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Post.Kind.choices,
        initial=Post.Kind.NORMAL,
        widget=forms.RadioSelect,
    )
    template = TemplateChoiceField(
        label=_("Template for citizens whose 24-hour window is closed"),
        queryset=MessageTemplate.objects.filter(status=MessageTemplate.Status.APPROVED),
        required=False,
    )
    attachment = forms.FileField(label=_("Image or document"), required=False)
    send_mode = forms.ChoiceField(
        label=_("When"),
        choices=((SEND_NOW, _("As soon as it is approved")), (SEND_AT, _("At a time"))),
        initial=SEND_NOW,
        widget=forms.RadioSelect,
    )
    send_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    valid_for_seconds = forms.TypedChoiceField(
        label=_("Worth delivering for"),
        choices=VALIDITY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )

    poll_question = forms.CharField(
        label=_("Poll question"), max_length=POLL_QUESTION_MAX_CHARS, required=False
    )
    poll_options = forms.CharField(
        label=_("Answers, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "2 to 10 answers, single choice. Up to 3 answers are buttons (at most 20 "
            "characters each), more a list (at most 24)."
        ),
    )
    # For citizens who get the English version; empty texts stay German.
    poll_question_en = forms.CharField(
        label=_("Poll question (English)"),
        max_length=POLL_QUESTION_MAX_CHARS,
        required=False,
        widget=forms.TextInput(attrs={"lang": "en"}),
    )
    poll_options_en = forms.CharField(
        label=_("Answers in English, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "lang": "en"}),
        help_text=_(
            "For citizens who get the English version: in the order of the German answers, "
            "with the same limits. An empty line or field keeps the German text."
        ),
    )
    poll_closes_at = forms.DateTimeField(
        label=_("Poll closes at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    @classmethod
    def initial_for(cls, post: Post) -> dict[str, Any]:
        """The form's values for an existing post."""
        initial: dict[str, Any] = {
            "topics": list(post.topics.all()),
            "kind": post.kind,
            "template": post.template,
            "send_mode": SEND_AT if post.send_at else SEND_NOW,
            "send_at": post.send_at,
            "valid_for_seconds": str(post.valid_for_seconds or ""),
        }
        for version in post.versions.all():
            initial[f"title_{version.language}"] = version.title
            initial[f"text_{version.language}"] = version.text
        poll = getattr(post, "poll", None) if post.pk else None
        if poll is not None:
            options = list(poll.options.all())
            initial["poll_question"] = poll.question
            initial["poll_options"] = "\n".join(o.title for o in options)
            initial["poll_question_en"] = poll.question_en
            if any(o.title_en for o in options):
                initial["poll_options_en"] = "\n".join(o.title_en for o in options)
            initial["poll_closes_at"] = poll.closes_at
        return initial

    def clean_attachment(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("attachment")
        if not upload:
            return None
        name = upload.name.lower()
        extension = name[name.rfind(".") :] if "." in name else ""
        content_type = ATTACHMENT_EXTENSIONS.get(extension)
        if content_type is None:
            raise forms.ValidationError(
                _("WhatsApp accepts images as JPEG or PNG and documents as PDF.")
            )
        _kind, max_bytes = ATTACHMENT_TYPES[content_type]
        if upload.size and upload.size > max_bytes:
            raise forms.ValidationError(
                _("The file is too large for WhatsApp (at most %(megabytes)d MB).")
                % {"megabytes": max_bytes // (1024 * 1024)}
            )
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        title_en, text_en = cleaned.get("title_en", ""), cleaned.get("text_en", "")
        if bool(title_en) != bool(text_en):
            self.add_error(
                "text_en" if title_en else "title_en",
                _("An English version needs both a title and a text (or leave both empty)."),
            )
        if cleaned.get("send_mode") == SEND_AT:
            send_at: datetime | None = cleaned.get("send_at")
            if send_at is None:
                self.add_error("send_at", _("Please choose when the post should go out."))
            elif send_at <= clock.now():
                self.add_error("send_at", _("This time has passed. Please choose a later one."))
        else:
            cleaned["send_at"] = None
        cleaned["poll"] = self._clean_poll(cleaned)
        return cleaned

    def _clean_poll(self, cleaned: dict[str, Any]) -> PollDraft | None:
        question = cleaned.get("poll_question", "")
        options = str(cleaned.get("poll_options", "")).splitlines()
        question_en = cleaned.get("poll_question_en", "")
        options_en = str(cleaned.get("poll_options_en", "")).splitlines()
        closes_at = cleaned.get("poll_closes_at")
        typed = [question, question_en, closes_at, *options, *options_en]
        if not any(str(value or "").strip() for value in typed):
            return None
        try:
            poll = check_poll(PollDraft(question, options, closes_at, question_en, options_en))
        except PollRefused as refusal:
            self.add_error(f"poll_{refusal.field}", refusal.message)
            return None
        if poll.has_english and not self.versions().get("en"):
            field = "poll_question_en" if poll.question_en else "poll_options_en"
            self.add_error(
                field,
                _(
                    "English texts of the poll need an English version of the post: write its "
                    "English title and text, or leave the poll's English texts empty."
                ),
            )
            return None
        if closes_at is not None and closes_at <= clock.now():
            self.add_error("poll_closes_at", _("This time has passed. Please choose a later one."))
            return None
        return poll

    def versions(self) -> dict[str, tuple[str, str]]:
        """Language → (title, text) of the languages filled in."""
        versions = {}
        for language, _label in POST_LANGUAGES:
            title = self.cleaned_data.get(f"title_{language}", "")
            text = self.cleaned_data.get(f"text_{language}", "")
            if title and text:
                versions[language] = (title, text)
        return versions

    def draft_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``actions.do_save_draft`` (besides author and post)."""
        values = self.cleaned_data
        arguments: dict[str, Any] = {
            "kind": values["kind"],
            "topics": list(values["topics"]),
            "versions": self.versions(),
            "template": values["template"],
            "send_at": values["send_at"],
            "valid_for_seconds": values["valid_for_seconds"],
            "poll": values.get("poll"),
        }
        if values.get("attachment"):
            arguments["attachment"] = values["attachment"]
        return arguments


class CommentForm(forms.Form):
    """The reviewer's comment: optional on approval, required when sending a post back."""

    comment = forms.CharField(
        label=_("Comment"), max_length=COMMENT_MAX_CHARS, required=False, widget=forms.Textarea
    )


class MessagePriceForm(forms.ModelForm):
    class Meta:
        model = MessagePrice
        fields = [
            "category",
            "country",
            "price",
            "currency",
            "valid_from",
            "charged_inside_window",
            "free_per_month",
            "source",
        ]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        help_texts = {
            "country": _("Two letters, e.g. DE or AT; empty for every other market."),
            "charged_inside_window": _(
                "Untick when Meta does not charge this category while the citizen's "
                "24-hour window is open."
            ),
            "free_per_month": _("Messages of this category that are free each month."),
        }

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country and not (len(country) == 2 and country.isalpha()):
            raise forms.ValidationError(_("Please enter a two-letter country code, e.g. DE."))
        return country

    def clean_price(self) -> Any:
        price = self.cleaned_data["price"]
        if price is not None and price < 0:
            raise forms.ValidationError(_("A price cannot be negative."))
        return price
