"""Parsing what staff send to the inbox pages. The templates render the fields by hand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from townhall.inbox.access import assignable_users
from townhall.inbox.models import Conversation, Label, Team
from townhall.inbox.queries import SEARCH_MAX_CHARS, InboxView, ListFilters

# Notes are for colleagues; a page of text is plenty.
NOTE_MAX_CHARS = 5000


class ListFilterForm(forms.Form):
    """The list's query parameters. Tolerant: a bad value falls back to its default."""

    view = forms.ChoiceField(choices=[(view.value, view.value) for view in InboxView])
    team = forms.IntegerField(min_value=1)
    label = forms.IntegerField(min_value=1)
    state = forms.ChoiceField(choices=Conversation.State.choices)
    q = forms.CharField()
    page = forms.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def filters(self) -> ListFilters:
        self.is_valid()
        values = self.cleaned_data
        return ListFilters(
            view=InboxView(values.get("view") or InboxView.ALL),
            team_id=values.get("team"),
            label_id=values.get("label"),
            state=values.get("state") or "",
            search=(values.get("q") or "")[:SEARCH_MAX_CHARS],
        )

    def page_number(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("page") or 1


# Far above any WhatsApp message: only stops absurd posts. The real limit (4,096 with the
# signature) is checked by ``inbox.actions.do_reply``, which keeps the text and says by how
# much it is too long instead of cutting it.
REPLY_INPUT_MAX_CHARS = 50_000


def _normalize_newlines(text: str) -> str:
    # Browsers send line breaks as CR LF; the citizen gets (and the counter counts) LF.
    return text.replace("\r\n", "\n")


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"),
        max_length=REPLY_INPUT_MAX_CHARS,
        error_messages={
            "required": _("Please write a message before sending."),
            "max_length": _(
                "Not sent: the text has %(show_value)d characters, WhatsApp allows at most "
                "4096 per message."
            ),
        },
    )

    def clean_text(self) -> str:
        return _normalize_newlines(self.cleaned_data["text"])


class PreviewForm(forms.Form):
    text = forms.CharField(required=False, max_length=REPLY_INPUT_MAX_CHARS)

    def clean_text(self) -> str:
        return _normalize_newlines(self.cleaned_data["text"])


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=NOTE_MAX_CHARS,
        error_messages={"required": _("Please write the note first.")},
    )


class AssignForm(forms.Form):
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(queryset=None, required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Evaluated per form: who may be assigned is the access layer's decision.
        self.fields["assignee"].queryset = assignable_users()  # type: ignore[attr-defined]


class StateForm(forms.Form):
    state = forms.ChoiceField(choices=Conversation.State.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Conversation.Priority.choices, coerce=int)


class LabelsForm(forms.Form):
    labels = forms.ModelMultipleChoiceField(queryset=Label.objects.all(), required=False)
